//go:build unix

package fs

import (
	"os"
	"syscall"
	"time"
)

// openFile is os.OpenFile for the store's regular files without the poller: os.OpenFile
// makes every file non-blocking and offers it to epoll, which refuses regular files, and
// then makes it blocking again (five system calls per open, on every push and pull).
func openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	for {
		fd, err := syscall.Open(name, flag|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}

// setTimes sets f's access and modification times through its descriptor (no path lookup).
func setTimes(f *os.File, t time.Time) error {
	tv := syscall.NsecToTimeval(t.UnixNano())
	return syscall.Futimes(int(f.Fd()), []syscall.Timeval{tv, tv})
}

package fs

import "golang.org/x/sys/unix"

// startWriteback asks the kernel to start writing a just-written range to disk without
// waiting for it, so that the fsync before publication has little left to flush.
func (u *upload) startWriteback(off, n int64) {
	unix.SyncFileRange(int(u.f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

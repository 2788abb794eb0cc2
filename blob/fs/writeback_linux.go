package fs

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing a just-written range to disk without
// waiting for it, so that the fsync before publication has little left to flush.
func (u *upload) startWriteback(off, n int64) {
	unix.SyncFileRange(int(u.f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// adviseSequential tells the kernel that f will be read from start to end, which doubles
// its readahead: a blob that is no longer in the page cache (the VMs reclaim it within
// seconds) streams from disk at the device's speed instead of at half of it.
func adviseSequential(f *os.File) {
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
}

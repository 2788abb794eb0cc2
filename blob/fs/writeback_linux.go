package fs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

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

// syncAll makes the files and directories durable with one syncfs of their filesystem (it
// reports writeback errors since Linux 5.8): renames between them succeed, so they share
// one. On this project's VMs batches of small blobs published 1.6-2.8 times faster than with
// an fsync per file and per directory (registry BenchmarkSmallBlobPush), and fsyncs issued
// one after another were no faster than before. syncfs also writes whatever else is dirty on
// that filesystem: give the data directory a filesystem of its own when other programs write
// much to the one it is on. The publisher calls it with two or more files and directories.
func syncAll(files []*os.File, dirs []string) error {
	if len(files) > 0 {
		return syncfs(files[0])
	}
	f, err := openFile(dirs[0], os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return syncfs(f)
}

// syncfs makes everything written to f's filesystem durable.
//
// On ext4 without a journal (and ext2), syncfs is not enough alone: it flushes the disk's
// write cache and then writes the inode tables its own writeback dirtied, without a second
// flush. The block layer's trace of one publication shows it: data, metadata, flush, then one
// more metadata write (the new file's inode: its size, its blocks, its permissions) that may
// sit in a volatile cache when syncfs returns. There an fdatasync follows, which on those
// filesystems always ends with a flush of the cache (0.1 ms on the idle VM, about 1 ms after a
// 5 ms syncfs under small pushes). A journal makes it needless: ext4 commits it within syncfs.
func syncfs(f *os.File) error {
	fd := int(f.Fd())
	if err := retryEINTR(func() error { return unix.Syncfs(fd) }); err != nil {
		return err
	}
	if !flushAfterSyncfs(fd) {
		return nil
	}
	return retryEINTR(func() error { return unix.Fdatasync(fd) })
}

func retryEINTR(call func() error) error {
	for {
		if err := call(); err != unix.EINTR {
			return err
		}
	}
}

// flushes caches flushAfterSyncfs's answer per device.
var flushes sync.Map // device number → bool

// flushAfterSyncfs reports whether fd's filesystem is ext2, ext3 or ext4 without a journal,
// or one of them whose journal could not be confirmed (see syncfs), or an overlay (see
// flushNeeded).
func flushAfterSyncfs(fd int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return true
	}
	if v, ok := flushes.Load(st.Dev); ok {
		return v.(bool)
	}
	v := flushNeeded(fd, st.Dev)
	flushes.Store(st.Dev, v)
	return v
}

// flushNeeded answers flushAfterSyncfs for the filesystem of fd, on device dev. An
// overlay (a container's own filesystem, when the data directory is not a volume) syncs its
// upper layer's filesystem, which it does not name: a journal-less ext4 there has the same
// gap, so an overlay always gets the flush (on a journaling upper layer it costs one more
// flush of the disk's cache per sync).
func flushNeeded(fd int, dev uint64) bool {
	var stat unix.Statfs_t
	if err := unix.Fstatfs(fd, &stat); err != nil {
		return true
	}
	switch stat.Type {
	case unix.EXT4_SUPER_MAGIC:
		return !hasJournal(dev)
	case unix.OVERLAYFS_SUPER_MAGIC:
		return true
	}
	return false
}

// hasJournal reads ext4's sysfs entry for the device: its journal_task names the journal's
// thread, or says "<none>".
func hasJournal(dev uint64) bool {
	link, err := os.Readlink(sysBlock(dev))
	if err != nil {
		return false
	}
	b, err := os.ReadFile(filepath.Join("/sys/fs/ext4", filepath.Base(link), "journal_task"))
	if err != nil {
		return false
	}
	task := strings.TrimSpace(string(b))
	return task != "" && task != "<none>"
}

// sysBlock is the sysfs entry of the block device numbered dev.
func sysBlock(dev uint64) string {
	return fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(dev), unix.Minor(dev))
}

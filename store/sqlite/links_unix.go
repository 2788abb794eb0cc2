//go:build unix

package sqlite

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// tryLock takes an exclusive flock on f, trying for up to wait; false when another process
// holds it still. (SQLite locks the database with fcntl locks, which are separate from flock
// on Linux.)
func tryLock(f *os.File, wait time.Duration) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return false, err
		case time.Now().After(deadline):
			return false, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

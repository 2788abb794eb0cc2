//go:build !unix

package fs

import (
	"os"
	"time"
)

func openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}

// setTimes sets f's access and modification times.
func setTimes(f *os.File, t time.Time) error { return os.Chtimes(f.Name(), t, t) }

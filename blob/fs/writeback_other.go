//go:build !linux

package fs

import "os"

func (u *upload) startWriteback(off, n int64) {}

func adviseSequential(f *os.File) {}

func syncAll(files []*os.File, dirs []string) error { return syncEach(files, dirs) }

//go:build !linux

package fs

import "os"

func (u *upload) startWriteback(off, n int64) {}

func adviseSequential(f *os.File) {}

func syncFiles(root string, files []*os.File) error { return syncFilesEach(files) }

func syncDirs(root string, dirs []string) error { return syncDirsEach(dirs) }

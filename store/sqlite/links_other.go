//go:build !unix

package sqlite

import (
	"os"
	"time"
)

// tryLock reports false: without flock the link log is never this process's, and links
// are written synchronously.
func tryLock(*os.File, time.Duration) (bool, error) { return false, nil }

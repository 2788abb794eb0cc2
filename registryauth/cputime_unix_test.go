//go:build unix

package registryauth_test

import "syscall"

// processCPU is the CPU time this process has used, in nanoseconds. Benchmarks report
// it per operation so that a loaded machine does not distort the per-core figure.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

package main

import (
	"crypto/sha256"
	"os"
	"testing"
)

func TestProcessCPUCountsWork(t *testing.T) {
	m := startCPU(os.Getpid())
	buf := make([]byte, 1<<20)
	for range 300 { // ~0.3 GB of SHA-256: well over one 10 ms tick
		sha256.Sum256(buf)
	}
	use := m.stop()
	if use.Client <= 0.02 {
		t.Errorf("client CPU %v s after hashing 300 MiB", use.Client)
	}
	// The same process seen through /proc: the clock tick is coarser, so allow a tick each side.
	if use.Server < use.Client-0.03 || use.Server > use.Client+0.05 {
		t.Errorf("/proc CPU %v s, getrusage %v s", use.Server, use.Client)
	}
	if _, err := processCPU(1 << 30); err == nil {
		t.Error("CPU time of a process that does not exist")
	}
}

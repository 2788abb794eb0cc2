package main

import (
	"crypto/sha256"
	"os"
	"os/exec"
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

func TestPerfRecordsAProcess(t *testing.T) {
	if _, err := exec.LookPath("perf"); err != nil {
		t.Skip("perf not installed")
	}
	p, err := startPerf(t.TempDir(), "self", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for range 100 {
		sha256.Sum256(buf)
	}
	path, err := p.stop()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("no profile at %s: %v", path, err)
	}
}

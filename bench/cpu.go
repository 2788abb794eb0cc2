package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuUse is the CPU time a measurement cost the server and the benchmark client. On a small
// machine both share the cores, so a client that uses much less than the server shows the
// figures are the server's.
type cpuUse struct {
	Server float64 `json:"server_s"`
	Client float64 `json:"client_s"`
}

// userHZ is the unit of the times in /proc/PID/stat (USER_HZ, 100 on Linux).
const userHZ = 100

// processCPU returns the user+system CPU seconds process pid has used.
func processCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its ')' are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so utime (field 14) is f[11] and stime (15) is f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times %q %q", pid, f[11], f[12])
	}
	return float64(utime+stime) / userHZ, nil
}

// selfCPU returns the user+system CPU seconds this process has used.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// cpuMeter measures the CPU time of a server and of this process between start and stop.
type cpuMeter struct {
	pid            int
	server, client float64
}

func startCPU(pid int) *cpuMeter {
	s, _ := processCPU(pid)
	return &cpuMeter{pid: pid, server: s, client: selfCPU()}
}

func (m *cpuMeter) stop() cpuUse {
	s, _ := processCPU(m.pid)
	ms := func(x float64) float64 { return math.Round(x*1000) / 1000 }
	return cpuUse{Server: ms(s - m.server), Client: ms(selfCPU() - m.client)}
}

// profiler records a CPU profile of a server with `perf record` while a scenario runs.
type profiler struct {
	cmd  *exec.Cmd
	path string
}

// startPerf attaches perf to pid, writing dir/name.perf.data. Go binaries keep frame
// pointers, so call graphs come out without DWARF unwinding.
func startPerf(dir, name string, pid int) (*profiler, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name+".perf.data")
	cmd := exec.Command("perf", "record", "-F", "1999", "-g", "-p", strconv.Itoa(pid), "-o", path, "--quiet")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf record: %w (is perf installed?)", err)
	}
	time.Sleep(300 * time.Millisecond) // perf needs a moment to attach
	return &profiler{cmd: cmd, path: path}, nil
}

// stop ends the recording and returns the data file.
func (p *profiler) stop() (string, error) {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	err := p.cmd.Wait()
	// perf writes its data on SIGINT and then may end by that same signal.
	if st, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && st.Signaled() && st.Signal() == syscall.SIGINT {
		err = nil
	}
	if err != nil {
		return "", fmt.Errorf("perf record: %w", err)
	}
	if fi, statErr := os.Stat(p.path); statErr != nil || fi.Size() == 0 {
		return "", fmt.Errorf("perf record wrote no data to %s", p.path)
	}
	return p.path, nil
}

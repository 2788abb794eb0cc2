package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// target is one registry configuration under test: which program, how it is started and the
// repository the scenarios use in it. A new configuration (say, Coffer with authorization
// on) is one more target value; every scenario runs on every selected target.
type target struct {
	Name  string   // label in tables and JSON: "coffer", "coffer-auth", "distribution"
	Kind  string   // kindCoffer or kindDistribution: how to start it
	Bin   string   // program path
	Args  []string // extra arguments after the generated ones
	Env   []string // extra environment
	Repo  string   // repository the scenarios push to and pull from
	Creds *credentials
	// ECRAuth runs Coffer with authorization on and logs in as an operator would: see
	// ecrLogin. Creds is then unused; each instance gets its own token and account.
	ECRAuth bool

	built       bool     // the benchmark built Bin from the working tree
	lastCommand []string // the command line of the latest start, for the report
	lastConfig  string   // Distribution's generated config.yml of the latest start
}

const (
	kindCoffer       = "coffer"
	kindDistribution = "distribution"
)

// instance is one running registry process with its own empty data directory.
type instance struct {
	target  *target
	cmd     *exec.Cmd
	pid     int // the registry process, whose memory rss-upload reads
	dir     string
	base    string
	repo    string // repository the scenarios use: target.Repo, prefixed by the account with ECRAuth
	client  *client
	exited  chan struct{} // closed when the process has exited
	waitErr error
	state   map[string]bool // what earlier scenarios left in this instance, e.g. "big-blob"
	keep    bool
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the target on a free loopback port with a fresh data directory under parent
// and waits until GET /v2/ answers. conns sizes the client's connection pool.
func (t *target) start(ctx context.Context, parent string, conns int, keep bool) (*instance, error) {
	if t.Bin == "" {
		return nil, fmt.Errorf("%s: no program given", t.Name)
	}
	if _, err := os.Stat(t.Bin); err != nil {
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	dir, err := os.MkdirTemp(parent, t.Name+"-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	data := filepath.Join(dir, "data")

	var args []string
	switch t.Kind {
	case kindCoffer:
		args = []string{"serve", "--listen", addr, "--data", data, "--log-level", "error",
			"--gc-interval", "0", "--create-on-push"}
		if t.Creds == nil && !t.ECRAuth {
			// Distribution runs without auth; so does Coffer, unless credentials are given.
			args = append(args, "--insecure-no-auth")
		}
	case kindDistribution:
		cfg := filepath.Join(dir, "config.yml")
		t.lastConfig = distributionConfig(addr, data)
		if err := os.WriteFile(cfg, []byte(t.lastConfig), 0o600); err != nil {
			return nil, err
		}
		args = []string{"serve", cfg}
	default:
		return nil, fmt.Errorf("%s: unknown kind %q", t.Name, t.Kind)
	}
	args = append(args, t.Args...)
	t.lastCommand = append([]string{t.Bin}, args...)

	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(t.Bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), t.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	inst := &instance{target: t, cmd: cmd, pid: cmd.Process.Pid, dir: dir, base: "http://" + addr, repo: t.Repo,
		exited: make(chan struct{}), state: map[string]bool{}, keep: keep}
	go func() {
		inst.waitErr = cmd.Wait()
		close(inst.exited)
	}()
	inst.client, err = newClient(t.Name, inst.base, conns)
	if err != nil {
		inst.stop()
		return nil, err
	}
	if err := inst.waitReady(ctx, 30*time.Second); err != nil {
		inst.stop()
		return nil, err
	}
	creds := t.Creds
	if t.ECRAuth {
		creds, inst.repo, err = ecrLogin(ctx, inst.base, "us-east-1", filepath.Join(data, "credentials"), t.Repo)
		if err != nil {
			inst.stop()
			return nil, fmt.Errorf("%s: %w%s", t.Name, err, inst.logTail())
		}
	}
	if err := inst.client.login(ctx, inst.repo, creds); err != nil {
		inst.stop()
		return nil, fmt.Errorf("%w%s", err, inst.logTail())
	}
	return inst, nil
}

// waitReady polls GET /v2/ until it answers 200 or 401, the process exits, or limit passes.
func (i *instance) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-i.exited:
			return fmt.Errorf("%s exited before answering /v2/: %v%s", i.target.Name, i.waitErr, i.logTail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		status, _, err := i.client.ping(pctx)
		cancel()
		if err == nil && (status == http.StatusOK || status == http.StatusUnauthorized) {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("status %d", status)
			}
			return fmt.Errorf("%s did not answer GET /v2/ within %s: %v%s", i.target.Name, limit, err, i.logTail())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// alive returns an error when the process has exited (a crash mid-scenario).
func (i *instance) alive() error {
	select {
	case <-i.exited:
		return fmt.Errorf("%s exited: %v%s", i.target.Name, i.waitErr, i.logTail())
	default:
		return nil
	}
}

// logTail returns the end of the server's output, for error messages.
func (i *instance) logTail() string {
	b, err := os.ReadFile(filepath.Join(i.dir, "server.log"))
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\n--- " + i.target.Name + " output (end) ---\n" + strings.TrimRight(string(b), "\n")
}

// stop ends the process (SIGTERM, then SIGKILL after 10 s) and removes its data directory
// unless the instance is kept.
func (i *instance) stop() {
	if i.client != nil {
		i.client.close()
	}
	_ = i.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-i.exited:
	case <-time.After(10 * time.Second):
		_ = i.cmd.Process.Kill()
		<-i.exited
	}
	if !i.keep {
		retire(i.dir)
	}
}

// retired are data directories of stopped instances, removed when the run ends.
var retired struct {
	sync.Mutex
	dirs []string
}

// retire empties the big files of a stopped instance's data directory now (a handful of
// inodes, most of the bytes) and leaves the rest for removeRetired at the end of the run.
// Deleting thousands of small files between measurements would slow the next registry's
// file creations: ext4 without a journal, as on the development VMs, skips inodes freed in
// the last minute or more when it allocates, scanning past every one of them.
func retire(dir string) {
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		if fi, err := e.Info(); err == nil && fi.Size() >= 1<<20 {
			_ = os.Remove(p)
		}
		return nil
	})
	retired.Lock()
	retired.dirs = append(retired.dirs, dir)
	retired.Unlock()
}

// removeRetired removes the data directories retire kept.
func removeRetired() {
	retired.Lock()
	defer retired.Unlock()
	for _, d := range retired.dirs {
		_ = os.RemoveAll(d)
	}
	retired.dirs = nil
}

// distributionConfig is the configuration Distribution runs with: filesystem storage in
// data, no auth, deletes enabled, errors-only logging and no access log (Coffer runs with
// --log-level error too), the in-memory blob descriptor cache of its shipped config.
func distributionConfig(addr, data string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: coffer-bench-not-a-secret
`, data, addr)
}

// procStatusKiB reads a "VmHWM:"-style field of /proc/PID/status in KiB.
func procStatusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc/%d/status: odd %s line %q", pid, field, line)
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

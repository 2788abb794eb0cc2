package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/server"
	"github.com/coffer-registry/coffer/store/sqlite"
)

// account is the account id every test repository lives under.
const account = "111122223333"

// cofferBin is the coffer binary TestMain built (with the race detector).
var cofferBin string

// repoRoot is the module root (two levels above this file).
var repoRoot string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))
	tmp, err := os.MkdirTemp("", "coffer-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	cofferBin = filepath.Join(tmp, "coffer")
	// The race detector watches the server while real clients drive it; a data race makes
	// the server exit 66, which the harness reports.
	build := exec.Command("go", "build", "-race", "-o", cofferBin, "./cmd/coffer")
	build.Dir = repoRoot
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building coffer:", err)
		return 1
	}
	return m.Run()
}

// coffer is one running `coffer serve` process.
type coffer struct {
	t    *testing.T
	Data string // data directory
	Host string // host:port for clients
	URL  string // http://host:port

	// Stdout is what the server printed on stdout: the export lines of its AWS environment.
	Stdout *syncBuffer

	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	err  error // the process's exit, valid after done is closed
}

// startCoffer starts `coffer serve` on a free loopback port with data directory dir (a new
// temporary one when dir is empty) and create-on-push on, waits until it serves, and stops it
// with SIGTERM at the end of the test. Its registry runs with --insecure-no-auth: these tests
// are about what clients and the server do with images, not about who may; the tests of
// access control start the server with startCofferAuthorized.
func startCoffer(t *testing.T, dir string, extraArgs ...string) *coffer {
	t.Helper()
	return startCofferAuthorized(t, dir, append([]string{"--insecure-no-auth"}, extraArgs...)...)
}

// startCofferAuthorized is startCoffer with the registry's authentication and authorization
// on, as coffer serve runs by default.
func startCofferAuthorized(t *testing.T, dir string, extraArgs ...string) *coffer {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data", dir,
		"--create-on-push", "--log-format", "json"}, extraArgs...)
	cmd := exec.Command(cofferBin, args...)
	cmd.Env = cofferEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &coffer{t: t, Data: dir, cmd: cmd, log: &syncBuffer{}, Stdout: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = c.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Bytes()
			c.log.Write(append(line, '\n'))
			var rec struct{ Msg, URL string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "coffer serving" {
				select {
				case urls <- rec.URL:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		c.err = cmd.Wait()
		close(c.done)
	}()
	select {
	case u := <-urls:
		c.URL = u
		c.Host = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	case <-c.done:
		t.Fatalf("coffer exited before serving: %v\n%s", c.err, c.log.String())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("coffer did not start serving within 60s:\n%s", c.log.String())
	}
	t.Cleanup(c.Stop)
	return c
}

// cofferEnv is the environment for the server: the test's, without COFFER_* settings that
// could change what the test asked for.
func cofferEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COFFER_") {
			env = append(env, kv)
		}
	}
	return env
}

// createRepositories creates repositories (names below the account) in the metadata store of
// data directory dir, as the repository API will; the server must not be running.
func createRepositories(t *testing.T, dir string, names ...string) {
	t.Helper()
	meta, err := sqlite.Open(server.Layout(dir).MetaDB())
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	for _, name := range names {
		if _, err := meta.CreateRepository(context.Background(), account, name); err != nil {
			t.Fatal(err)
		}
	}
}

// Stop sends SIGTERM and waits for a clean exit. Safe to call more than once.
func (c *coffer) Stop() {
	c.t.Helper()
	select {
	case <-c.done:
		c.checkExit()
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
		c.t.Errorf("coffer did not stop within 60s of SIGTERM:\n%s", c.tail())
	}
	c.checkExit()
}

// Kill ends the server with SIGKILL, as a crash would.
func (c *coffer) Kill() {
	c.cmd.Process.Kill()
	<-c.done
}

// checkExit fails the test when the server exited with an error or reported a data race.
func (c *coffer) checkExit() {
	c.t.Helper()
	if strings.Contains(c.log.String(), "WARNING: DATA RACE") {
		c.t.Errorf("the race detector reported a data race in coffer:\n%s", c.log.String())
		return
	}
	if ee, ok := c.err.(*exec.ExitError); ok && ee.Sys().(syscall.WaitStatus).Signaled() &&
		ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL {
		return // killed on purpose
	}
	if c.err != nil {
		c.t.Errorf("coffer exited with %v:\n%s", c.err, c.tail())
	}
}

// tail is the end of the server's log, for failure messages.
func (c *coffer) tail() string {
	s := c.log.String()
	if len(s) > 8000 {
		s = "...\n" + s[len(s)-8000:]
	}
	return s
}

// Ref is a reference to repository path (below the account) and tag or digest suffix.
func (c *coffer) Ref(repo, suffix string) string {
	return c.Host + "/" + account + "/" + repo + suffix
}

// get fetches a URL path on the server with the given Accept header.
func (c *coffer) get(path, accept string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, c.URL+path, nil)
	if err != nil {
		return nil, nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// tool returns the path of a client program from PATH or <repo>/.tools/bin. When it is
// missing the test is skipped, except under CI, where scripts/test should have installed it.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join(repoRoot, ".tools", "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found on PATH or in .tools/bin; run scripts/install-test-tools.sh", name)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

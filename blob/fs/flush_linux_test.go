package fs

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// tracing is where tracefs is mounted (scripts/test mounts it when it runs as root).
const tracing = "/sys/kernel/tracing"

// TestPublicationEndsWithAFlush reads the block layer's trace of one publication: every
// write this process issued for it must be followed by a flush of the disk's write cache
// before Commit returns, or an acknowledged blob could be lost with the power. syncfs alone
// leaves the new file's inode table block after its flush on ext4 without a journal (the
// development VMs' filesystem).
func TestPublicationEndsWithAFlush(t *testing.T) {
	inst := traceInstance(t)
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkPublicationFlushed(t, inst, s, dir)
}

// TestPublicationOnAnOverlayEndsWithAFlush is the same check in a store on an overlay (a
// container's filesystem) whose upper layer is on the test's disk: syncfs of the overlay
// syncs that filesystem, with the same gap.
func TestPublicationOnAnOverlayEndsWithAFlush(t *testing.T) {
	inst := traceInstance(t)
	base := t.TempDir()
	var layers [4]string
	for i, name := range []string{"lower", "upper", "work", "merged"} {
		layers[i] = filepath.Join(base, name)
		if err := os.Mkdir(layers[i], 0o700); err != nil {
			t.Fatal(err)
		}
	}
	opts := "lowerdir=" + layers[0] + ",upperdir=" + layers[1] + ",workdir=" + layers[2]
	if err := unix.Mount("overlay", layers[3], "overlay", 0, opts); err != nil {
		t.Skipf("cannot mount an overlay (needs root and overlayfs): %v", err)
	}
	t.Cleanup(func() { unix.Unmount(layers[3], unix.MNT_DETACH) })
	var stat unix.Statfs_t
	if err := unix.Statfs(layers[3], &stat); err != nil || stat.Type != unix.OVERLAYFS_SUPER_MAGIC {
		t.Fatalf("%s is not an overlay: %v", layers[3], err)
	}
	s, err := New(layers[3])
	if err != nil {
		t.Fatal(err)
	}
	checkPublicationFlushed(t, inst, s, base)
}

// traceInstance makes a trace instance of the test's own (removed at its end), or skips.
func traceInstance(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(tracing, "instances")); err != nil {
		t.Skipf("no tracefs at %s (mount -t tracefs nodev %s, as root): %v", tracing, tracing, err)
	}
	inst, err := os.MkdirTemp(filepath.Join(tracing, "instances"), "coffer-blob-fs-")
	if err != nil {
		t.Skipf("cannot make a trace instance (needs root): %v", err)
	}
	t.Cleanup(func() { os.Remove(inst) })
	return inst
}

// checkPublicationFlushed publishes a blob in s, whose bytes land on the disk that holds
// onDisk, and fails when the trace in instance inst shows a write of this process that no
// flush followed before Commit returned.
func checkPublicationFlushed(t *testing.T, inst string, s *Store, onDisk string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(onDisk, &st); err != nil {
		t.Fatal(err)
	}
	disk, err := diskOf(st.Dev)
	if err != nil {
		t.Skipf("the data directory is not on a block device: %v", err)
	}
	if hasJournal(st.Dev) {
		// syncfs commits the journal, and the metadata it then writes in place is already
		// in it: writes after the journal's flush are expected there.
		t.Skip("the data directory is on ext4 with a journal")
	}
	write := func(name, value string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(inst, name), []byte(value), 0); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for _, setting := range []string{"options/record-tgid", "events/block/block_rq_issue/enable"} {
		if err := os.WriteFile(filepath.Join(inst, setting), []byte("1"), 0); err != nil {
			t.Skipf("tracing the block layer: %s: %v", setting, err)
		}
	}

	data := make([]byte, 64<<10)
	rand.Read(data)
	d := digest.FromBytes(data)
	up, err := s.StartUpload(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.ReadFrom(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	write("trace_marker", "coffer-commit-start")
	_, err = up.Commit(ctx, d)
	write("trace_marker", "coffer-commit-end")
	write("tracing_on", "0")
	if err != nil {
		t.Fatal(err)
	}
	trace, err := os.ReadFile(filepath.Join(inst, "trace"))
	if err != nil {
		t.Fatal(err)
	}

	// Lines look like
	//   coffer.test-123 (  120) [001] ..... 15.31: block_rq_issue: 254,0 WSM 4096 () 3192 + 8 be,0,4 [x]
	//   kworker/1:1H-72 (   72) [001] ..... 15.31: block_rq_issue: 254,0 FF 0 () 0 + 0 none,0,0 [y]
	// RWBS: a leading F is a cache flush before the request (FF: a flush alone), a W a write,
	// an F after the W a write that bypasses the cache (FUA).
	pid := os.Getpid()
	var (
		inWindow     bool
		writes       int
		unflushed    []string // this process's writes since the last flush
		tracedEvents int
	)
	for _, line := range strings.Split(string(trace), "\n") {
		switch {
		case strings.Contains(line, "coffer-commit-start"):
			inWindow = true
			continue
		case strings.Contains(line, "coffer-commit-end"):
			inWindow = false
			continue
		case !inWindow:
			continue
		}
		_, event, ok := strings.Cut(line, "block_rq_issue: ")
		if !ok {
			continue
		}
		f := strings.Fields(event)
		if len(f) < 2 || f[0] != disk {
			continue
		}
		tracedEvents++
		rwbs := f[1]
		if strings.HasPrefix(rwbs, "F") {
			unflushed = nil
			continue
		}
		w := strings.Index(rwbs, "W")
		if w < 0 || strings.HasPrefix(rwbs[w+1:], "F") || tgidOf(line) != pid {
			continue
		}
		writes++
		unflushed = append(unflushed, strings.TrimSpace(event))
	}
	if tracedEvents == 0 {
		t.Skipf("the trace shows no request on disk %s during the publication", disk)
	}
	if writes == 0 {
		t.Fatalf("no write of this process traced during the publication:\n%s", trace)
	}
	if len(unflushed) > 0 {
		t.Fatalf("Commit returned with writes issued after the last flush:\n%s", strings.Join(unflushed, "\n"))
	}
}

// diskOf returns the "MAJOR,MINOR" the block layer's trace names device dev's disk by (a
// partition's requests are traced on its disk).
func diskOf(dev uint64) (string, error) {
	sys, err := filepath.EvalSymlinks(sysBlock(dev))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		sys = filepath.Dir(sys)
	}
	b, err := os.ReadFile(filepath.Join(sys, "dev"))
	if err != nil {
		return "", err
	}
	return strings.Replace(strings.TrimSpace(string(b)), ":", ",", 1), nil
}

// tgidOf reads the process id that record-tgid puts after the task: "name-tid (  tgid) ...".
func tgidOf(line string) int {
	_, rest, ok := strings.Cut(line, "(")
	if !ok {
		return -1
	}
	id, _, _ := strings.Cut(rest, ")")
	n, err := strconv.Atoi(strings.TrimSpace(id))
	if err != nil {
		return -1
	}
	return n
}

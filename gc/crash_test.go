package gc

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/blob/fs"
	"github.com/coffer-registry/coffer/store"
	"github.com/coffer-registry/coffer/store/sqlite"
	"github.com/opencontainers/go-digest"
)

// crashChildEnv makes the test binary act as a pushing process that the test kills.
const crashChildEnv = "COFFER_STORAGE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		pushUntilKilled(dir)
		return
	}
	os.Exit(m.Run())
}

// pushUntilKilled pushes images from 8 goroutines the way the registry does (upload,
// commit, link, put manifest) and prints "ACK tag manifest-digest layer-digest" after each
// acknowledged push.
func pushUntilKilled(dir string) {
	blobs, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		panic(err)
	}
	meta, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		panic(err)
	}
	repo, err := meta.CreateRepository(ctx, "111122223333", "crash")
	if err != nil {
		panic(err)
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				layer := make([]byte, 64<<10+int(time.Now().UnixNano()%(512<<10)))
				rand.Read(layer)
				ld := digest.FromBytes(layer)
				u, err := blobs.StartUpload(ctx, "")
				if err != nil {
					panic(err)
				}
				// Two chunks, like a chunked push.
				if _, err := u.ReadFrom(bytes.NewReader(layer[:len(layer)/2])); err != nil {
					panic(err)
				}
				if _, err := u.ReadFrom(bytes.NewReader(layer[len(layer)/2:])); err != nil {
					panic(err)
				}
				if err := meta.QueueBlobForReview(ctx, ld, time.Hour); err != nil {
					panic(err)
				}
				if _, err := u.Commit(ctx, ld); err != nil {
					panic(err)
				}
				if err := meta.LinkBlob(ctx, repo.ID, ld, int64(len(layer))); err != nil {
					panic(err)
				}
				payload := []byte(fmt.Sprintf(`{"schemaVersion":2,"layers":[{"digest":%q}]}`, ld))
				m := store.Manifest{Digest: digest.FromBytes(payload), MediaType: "application/vnd.oci.image.manifest.v1+json",
					Payload: payload, Blobs: []store.Descriptor{{Digest: ld, Size: int64(len(layer))}}}
				tag := fmt.Sprintf("g%d-%d", g, i)
				if err := meta.PutManifest(ctx, repo.ID, m, tag); err != nil {
					panic(err)
				}
				out.Lock()
				fmt.Fprintf(os.Stdout, "ACK %s %s %s\n", tag, m.Digest, ld)
				out.Unlock()
			}
		}()
	}
	wg.Wait()
}

// kill -9 during concurrent pushes, then reopen: every acknowledged push is there byte for
// byte, and no blob is visible with content other than its digest says.
func TestKillDuringPushesLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct{ tag, manifest, layer string }
	var acks []ack
	lines := bufio.NewScanner(stdout)
	deadline := time.Now().Add(20 * time.Second)
	for len(acks) < 60 && time.Now().Before(deadline) && lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) == 4 && f[0] == "ACK" {
			acks = append(acks, ack{f[1], f[2], f[3]})
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	// Acknowledgements already written before the kill count too.
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) == 4 && f[0] == "ACK" {
			acks = append(acks, ack{f[1], f[2], f[3]})
		}
	}
	cmd.Wait()
	if len(acks) < 10 {
		t.Fatalf("only %d pushes acknowledged before the kill", len(acks))
	}

	blobs, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	repo, err := meta.GetRepository(ctx, "111122223333", "crash")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acks {
		m, err := meta.ResolveTag(ctx, repo.ID, a.tag)
		if err != nil {
			t.Fatalf("acknowledged tag %s lost: %v", a.tag, err)
		}
		if m.Digest.String() != a.manifest || digest.FromBytes(m.Payload).String() != a.manifest {
			t.Fatalf("tag %s: manifest %s, want %s", a.tag, m.Digest, a.manifest)
		}
		c, err := blobs.Open(ctx, digest.Digest(a.layer))
		if err != nil {
			t.Fatalf("acknowledged layer %s lost: %v", a.layer, err)
		}
		got, err := digest.FromReader(c)
		c.Close()
		if err != nil || got.String() != a.layer {
			t.Fatalf("layer %s reads back as %s", a.layer, got)
		}
	}
	walked := 0
	err = blobs.Walk(ctx, func(d digest.Digest, size int64, _ time.Time) error {
		walked++
		c, err := blobs.Open(ctx, d)
		if err != nil {
			return err
		}
		defer c.Close()
		got, err := d.Algorithm().FromReader(io.LimitReader(c, size+1))
		if err != nil {
			return err
		}
		if got != d {
			t.Errorf("visible blob %s holds other content (%s)", d, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Uploads the kill interrupted can be resumed (re-hashed) or cancelled.
	err = blobs.Uploads(ctx, func(id, owner string, _ time.Time) error {
		u, err := blobs.ResumeUpload(ctx, id, owner)
		if err != nil {
			t.Errorf("interrupted upload %s: %v", id, err)
			return nil
		}
		return u.Cancel(ctx)
	})
	if err != nil {
		t.Fatalf("cancelling the interrupted uploads: %v", err)
	}
	t.Logf("%d pushes acknowledged, %d blobs visible after kill -9", len(acks), walked)
}

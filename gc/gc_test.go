package gc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/blob"
	"github.com/coffer-registry/coffer/blob/fs"
	"github.com/coffer-registry/coffer/store"
	"github.com/coffer-registry/coffer/store/sqlite"
	"github.com/opencontainers/go-digest"
)

var ctx = context.Background()

type env struct {
	dir   string
	blobs *fs.Store
	meta  *sqlite.Store
	repo  store.Repository

	mu    sync.Mutex
	ahead time.Duration // how far the metadata store's clock runs ahead of real time
}

// newEnv opens real stores in a temporary directory. reviewDelay < 0: items are due at once.
func newEnv(t *testing.T, reviewDelay time.Duration) *env {
	t.Helper()
	dir := t.TempDir()
	blobs, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{dir: dir, blobs: blobs}
	meta, err := sqlite.OpenOptions(filepath.Join(dir, "meta.db"), sqlite.Options{ReviewDelay: reviewDelay, Synchronous: "NORMAL", Clock: e.metaNow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	repo, err := meta.CreateRepository(ctx, "111122223333", "app")
	if err != nil {
		t.Fatal(err)
	}
	e.meta, e.repo = meta, repo
	return e
}

func (e *env) metaNow() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return time.Now().Add(e.ahead)
}

// advance moves the metadata store's clock (review times), not the blob store's.
func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.ahead += d
	e.mu.Unlock()
}

// collector returns a collector for tests where no push races it: anything committed
// before the pass counts as published long enough ago.
func (e *env) collector() *Collector {
	return New(Config{Blobs: e.blobs, Store: e.meta, PublishWindow: time.Nanosecond})
}

// racingCollector keeps the default publication window, for tests where pushes race it.
func (e *env) racingCollector() *Collector { return New(Config{Blobs: e.blobs, Store: e.meta}) }

// push does what the registry handler does for a blob upload: queue, commit, link.
func (e *env) push(t testing.TB, repoID int64, p []byte) digest.Digest {
	t.Helper()
	d := e.commit(t, p)
	if err := e.meta.LinkBlob(ctx, repoID, d, int64(len(p))); err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) commit(t testing.TB, p []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(p)
	if err := e.meta.QueueBlobForReview(ctx, d, 0); err != nil {
		t.Fatal(err)
	}
	u, err := e.blobs.StartUpload(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.ReadFrom(bytes.NewReader(p)); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) pushImage(t *testing.T, label, tag string, layers ...[]byte) store.Manifest {
	t.Helper()
	var descs []store.Descriptor
	for _, l := range layers {
		descs = append(descs, store.Descriptor{Digest: e.push(t, e.repo.ID, l), Size: int64(len(l))})
	}
	payload := []byte(fmt.Sprintf(`{"schemaVersion":2,"label":%q}`, label))
	m := store.Manifest{Digest: digest.FromBytes(payload), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Payload: payload, Size: int64(len(payload)), Blobs: descs}
	if err := e.meta.PutManifest(ctx, e.repo.ID, m, tag); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkLinkedBlobsExist is the collector's safety property: every blob a repository links
// has its bytes, with the right content.
func (e *env) checkLinkedBlobsExist(t *testing.T, repoID int64, contents map[digest.Digest][]byte) {
	t.Helper()
	for d, p := range contents {
		if _, err := e.meta.StatBlob(ctx, repoID, d); errors.Is(err, store.ErrBlobNotFound) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		c, err := e.blobs.Open(ctx, d)
		if err != nil {
			t.Fatalf("blob %s is linked but its bytes are gone: %v", d, err)
		}
		got, _ := io.ReadAll(c)
		c.Close()
		if !bytes.Equal(got, p) {
			t.Fatalf("blob %s has other bytes", d)
		}
	}
}

func (e *env) blobExists(d digest.Digest) bool {
	_, err := e.blobs.Stat(ctx, d)
	return err == nil
}

func TestUntaggedImageIsReclaimedTaggedKept(t *testing.T) {
	e := newEnv(t, -1)
	kept := e.pushImage(t, "kept", "v1", []byte("shared layer"), []byte("kept layer"))
	gone := e.pushImage(t, "gone", "v2", []byte("shared layer"), []byte("gone layer"))
	if err := e.meta.DeleteTag(ctx, e.repo.ID, "v2"); err != nil {
		t.Fatal(err)
	}
	r, err := e.collector().Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Manifests) != 1 || r.Manifests[0].Digest != gone.Digest || r.Manifests[0].Repository != "111122223333/app" {
		t.Fatalf("manifests deleted: %+v", r.Manifests)
	}
	if len(r.Blobs) != 1 || r.Blobs[0].Digest != digest.FromString("gone layer") || r.Blobs[0].Size != int64(len("gone layer")) {
		t.Fatalf("blobs deleted: %+v", r.Blobs)
	}
	if e.blobExists(digest.FromString("gone layer")) {
		t.Fatal("layer of the untagged image still stored")
	}
	for _, l := range []string{"shared layer", "kept layer"} {
		if !e.blobExists(digest.FromString(l)) {
			t.Fatalf("layer %q of the tagged image deleted", l)
		}
	}
	if _, err := e.meta.ResolveTag(ctx, e.repo.ID, "v1"); err != nil {
		t.Fatal(err)
	}
	_ = kept
	if !strings.Contains(r.String(), "deleted 1 manifests, 1 blobs") {
		t.Fatalf("report:\n%s", r)
	}
}

func TestGracePeriodProtects(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.pushImage(t, "img", "v1", []byte("layer"))
	e.meta.DeleteTag(ctx, e.repo.ID, "v1")
	e.push(t, e.repo.ID, []byte("lonely blob"))
	c := e.collector()
	dry, err := c.DryRun(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Manifests)+len(dry.Blobs)+len(r.Manifests)+len(r.Blobs) != 0 {
		t.Fatalf("collected inside the grace period: dry %+v, pass %+v", dry, r)
	}
}

func TestDryRunDeletesNothing(t *testing.T) {
	e := newEnv(t, -1)
	m := e.pushImage(t, "img", "v1", []byte("layer"))
	e.push(t, e.repo.ID, []byte("unused blob"))
	e.meta.DeleteTag(ctx, e.repo.ID, "v1")

	c := e.collector()
	dry, err := c.DryRun(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || len(dry.Manifests) != 1 || dry.Manifests[0].Digest != m.Digest {
		t.Fatalf("dry run manifests: %+v", dry.Manifests)
	}
	if len(dry.Blobs) != 1 || dry.Blobs[0].Digest != digest.FromString("unused blob") || dry.Blobs[0].Size != 11 {
		t.Fatalf("dry run blobs: %+v", dry.Blobs)
	}
	if !strings.Contains(dry.String(), "would delete manifest 111122223333/app@"+m.Digest.String()) {
		t.Fatalf("dry run report:\n%s", dry)
	}
	if _, err := e.meta.GetManifest(ctx, e.repo.ID, m.Digest); err != nil {
		t.Fatalf("dry run deleted the manifest: %v", err)
	}
	if !e.blobExists(digest.FromString("unused blob")) {
		t.Fatal("dry run deleted a blob")
	}
	// A second dry run sees the same; then a real pass deletes it (and, the delay being
	// zero, the layer the manifest freed).
	again, _ := c.DryRun(ctx)
	if again.String() != dry.String() {
		t.Fatalf("dry runs differ:\n%s\n%s", dry, again)
	}
	r, err := c.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Manifests) != 1 || len(r.Blobs) != 2 {
		t.Fatalf("pass: %+v", r)
	}
}

func TestSweepQueuesUnknownOldBlobs(t *testing.T) {
	e := newEnv(t, -1)
	old := []byte("committed, never linked")
	fresh := []byte("committed just now")
	for _, p := range [][]byte{old, fresh} {
		if err := e.blobs.Put(ctx, digest.FromBytes(p), p); err != nil {
			t.Fatal(err)
		}
	}
	linkedOld := e.push(t, e.repo.ID, []byte("linked and used"))
	e.pushImage(t, "img", "v1", []byte("linked and used"))
	age := time.Now().Add(-48 * time.Hour)
	for _, d := range []digest.Digest{digest.FromBytes(old), linkedOld} {
		hex := d.Encoded()
		if err := os.Chtimes(filepath.Join(e.dir, "blobs", "blobs", "sha256", hex[:2], hex), age, age); err != nil {
			t.Fatal(err)
		}
	}
	c := e.collector()
	dry, _ := c.DryRun(ctx)
	if len(dry.Blobs) != 1 || dry.Blobs[0].Digest != digest.FromBytes(old) {
		t.Fatalf("dry run: %+v", dry.Blobs)
	}
	r, err := c.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Blobs) != 1 || r.Blobs[0].Digest != digest.FromBytes(old) || e.blobExists(digest.FromBytes(old)) {
		t.Fatalf("pass: %+v", r.Blobs)
	}
	if !e.blobExists(digest.FromBytes(fresh)) || !e.blobExists(linkedOld) {
		t.Fatal("sweep deleted a fresh or a used blob")
	}
}

func TestStaleUploadsExpire(t *testing.T) {
	e := newEnv(t, time.Hour)
	start := func(age time.Duration, session bool) string {
		u, err := e.blobs.StartUpload(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		u.Write([]byte("partial"))
		u.Close()
		at := time.Now().Add(-age)
		os.Chtimes(filepath.Join(e.dir, "blobs", "uploads", u.ID()), at, at)
		if session {
			if err := e.meta.CreateUpload(ctx, store.Upload{ID: u.ID(), RepositoryID: e.repo.ID, StartedAt: at}); err != nil {
				t.Fatal(err)
			}
		}
		return u.ID()
	}
	stale := start(8*24*time.Hour, true)
	staleNoSession := start(8*24*time.Hour, false)
	fresh := start(time.Minute, true)
	c := e.collector()
	dry, _ := c.DryRun(ctx)
	r, err := c.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range []Report{dry, r} {
		if len(rep.Uploads) != 2 || !contains(rep.Uploads, stale) || !contains(rep.Uploads, staleNoSession) {
			t.Fatalf("uploads reported: %v", rep.Uploads)
		}
	}
	for _, id := range []string{stale, staleNoSession} {
		if _, err := e.blobs.ResumeUpload(ctx, id, ""); !errors.Is(err, blob.ErrUploadUnknown) {
			t.Fatalf("stale upload %s still there: %v", id, err)
		}
	}
	if _, err := e.meta.GetUpload(ctx, stale); !errors.Is(err, store.ErrUploadNotFound) {
		t.Fatalf("stale session still there: %v", err)
	}
	u, err := e.blobs.ResumeUpload(ctx, fresh, "")
	if err != nil {
		t.Fatalf("fresh upload cancelled: %v", err)
	}
	u.Close()
	if _, err := e.meta.GetUpload(ctx, fresh); err != nil {
		t.Fatal(err)
	}
}

// TestStaleRegistrySessionsExpire: the registry's sessions are their bytes alone, bound to
// the repository; they expire when nobody wrote to them for UploadMaxAge.
func TestStaleRegistrySessionsExpire(t *testing.T) {
	e := newEnv(t, time.Hour)
	owner := store.UploadOwner(e.repo.ID)
	start := func(age time.Duration) string {
		u, err := e.blobs.StartUpload(ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		u.Write([]byte("partial"))
		u.Close()
		at := time.Now().Add(-age)
		if err := os.Chtimes(filepath.Join(e.dir, "blobs", "uploads", u.ID()+"@"+owner), at, at); err != nil {
			t.Fatal(err)
		}
		return u.ID()
	}
	stale, fresh := start(8*24*time.Hour), start(time.Minute)
	c := e.collector()
	dry, _ := c.DryRun(ctx)
	if u, err := e.blobs.ResumeUpload(ctx, stale, owner); err != nil {
		t.Fatalf("the dry run cancelled a session: %v", err)
	} else {
		u.Close()
	}
	r, err := c.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range []Report{dry, r} {
		if len(rep.Uploads) != 1 || rep.Uploads[0] != stale {
			t.Fatalf("uploads reported: %v", rep.Uploads)
		}
	}
	if _, err := e.blobs.ResumeUpload(ctx, stale, owner); !errors.Is(err, blob.ErrUploadUnknown) {
		t.Fatalf("stale session still there: %v", err)
	}
	u, err := e.blobs.ResumeUpload(ctx, fresh, owner)
	if err != nil {
		t.Fatalf("fresh session cancelled: %v", err)
	}
	u.Close()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// The race the protocol closes: the collector confirms a blob as garbage, and a push of the
// same blob lands (Commit) and links it around that moment. Each interleaving is forced
// through the collector's hooks, many times over; afterwards the blob must be linked (the
// push succeeded) and its bytes must exist.
func TestReuploadRacingCollection(t *testing.T) {
	type step func(t *testing.T, e *env, p []byte)
	link := func(t *testing.T, e *env, p []byte) {
		if err := e.meta.LinkBlob(ctx, e.repo.ID, digest.FromBytes(p), int64(len(p))); err != nil {
			t.Fatal(err)
		}
	}
	interleavings := map[string]struct{ before, after step }{
		"commit and link after confirmation": {
			after: func(t *testing.T, e *env, p []byte) { e.push(t, e.repo.ID, p) },
		},
		"commit before, link after confirmation": {
			before: func(t *testing.T, e *env, p []byte) { e.commit(t, p) },
			after:  link,
		},
		"commit and link before confirmation": {
			before: func(t *testing.T, e *env, p []byte) { e.push(t, e.repo.ID, p) },
		},
	}
	for name, il := range interleavings {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, time.Hour)
			c := e.racingCollector()
			contents := map[digest.Digest][]byte{}
			confirmed := 0
			for i := range 30 {
				p := []byte(fmt.Sprintf("layer %d", i))
				d := e.push(t, e.repo.ID, p)
				contents[d] = p
				if err := e.meta.UnlinkBlob(ctx, e.repo.ID, d); err != nil {
					t.Fatal(err)
				}
				e.advance(2 * time.Hour) // the unlinked blob is due for review
				fired := false
				c.beforeConfirm = func(it store.GCItem) {
					if it.Digest == d && !fired && il.before != nil {
						il.before(t, e, p)
					}
				}
				c.afterConfirm = func(it store.GCItem) {
					if it.Digest == d && !fired {
						fired = true
						confirmed++
						if il.after != nil {
							il.after(t, e, p)
						}
					}
				}
				if _, err := c.Once(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := e.meta.StatBlob(ctx, e.repo.ID, d); err != nil {
					t.Fatalf("iteration %d: the push's link is gone: %v", i, err)
				}
				e.checkLinkedBlobsExist(t, e.repo.ID, contents)
			}
			// Where the push links after the confirmation, the collector did confirm the blob
			// as garbage every time (the race really happened); otherwise the link saved it.
			if want := map[bool]int{true: 30, false: 0}[il.after != nil]; confirmed != want {
				t.Fatalf("confirmed as garbage %d times, want %d", confirmed, want)
			}
		})
	}
}

// The race test can fail: with the publication check disabled (every blob counts as
// published long ago) the same interleaving leaves a link without bytes.
func TestReuploadRaceDetectedWithoutProtocol(t *testing.T) {
	e := newEnv(t, time.Hour)
	c := e.racingCollector()
	c.cfg.PublishWindow = -time.Hour
	p := []byte("layer")
	d := e.push(t, e.repo.ID, p)
	e.meta.UnlinkBlob(ctx, e.repo.ID, d)
	e.advance(2 * time.Hour)
	fired := false
	c.afterConfirm = func(store.GCItem) {
		if !fired {
			fired = true
			e.push(t, e.repo.ID, p)
		}
	}
	if _, err := c.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.meta.StatBlob(ctx, e.repo.ID, d); err != nil {
		t.Fatalf("link missing: %v", err)
	}
	if e.blobExists(d) {
		t.Fatal("bytes survived even without the protocol: the race test proves nothing")
	}
}

// Pushes, unlinks and collection passes run concurrently on a few digests; at the end every
// linked blob has its bytes.
func TestConcurrentPushesAndCollection(t *testing.T) {
	e := newEnv(t, -1)
	other, err := e.meta.CreateRepository(ctx, "111122223333", "other")
	if err != nil {
		t.Fatal(err)
	}
	repos := []int64{e.repo.ID, other.ID}
	contents := map[digest.Digest][]byte{}
	var layers [][]byte
	for i := range 6 {
		p := []byte(fmt.Sprintf("hot layer %d", i))
		layers = append(layers, p)
		contents[digest.FromBytes(p)] = p
	}
	c := e.racingCollector()
	stop := make(chan struct{})
	var gcWG sync.WaitGroup
	gcWG.Add(1)
	go func() {
		defer gcWG.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Once(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range 60 {
				p := layers[rng.IntN(len(layers))]
				repo := repos[rng.IntN(len(repos))]
				d := e.push(t, repo, p)
				if rng.IntN(2) == 0 {
					e.meta.UnlinkBlob(ctx, repo, d)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	gcWG.Wait()
	for _, repo := range repos {
		e.checkLinkedBlobsExist(t, repo, contents)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	e := newEnv(t, -1)
	c := New(Config{Blobs: e.blobs, Store: e.meta, Interval: time.Millisecond})
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- c.Run(cctx) }()
	e.push(t, e.repo.ID, []byte("x"))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
}

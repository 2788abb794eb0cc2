package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/store"
	"github.com/coffer-registry/coffer/store/storetest"
	"github.com/opencontainers/go-digest"
)

var ctx = context.Background()

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, reviewDelay time.Duration) store.Store {
		if reviewDelay == 0 {
			reviewDelay = -1
		}
		s, err := OpenOptions(filepath.Join(t.TempDir(), "meta.db"), Options{ReviewDelay: reviewDelay})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestContractDeferredLinks runs the contract with the server's default: synchronous=NORMAL
// and deferred blob links.
func TestContractDeferredLinks(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, reviewDelay time.Duration) store.Store {
		if reviewDelay == 0 {
			reviewDelay = -1
		}
		s, err := OpenOptions(filepath.Join(t.TempDir(), "meta.db"), Options{ReviewDelay: reviewDelay, Synchronous: "NORMAL", DeferLinks: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrationsRecordedAndIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.CreateRepository(ctx, "111122223333", "kept")
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != 4 {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path) // migrations already applied: nothing to do, data kept
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetRepository(ctx, "111122223333", "kept")
	if err != nil || got.ID != r.ID {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("schema_migrations rows = %d, %v", n, err)
	}
	var mode string
	if err := s.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
}

func TestOptionsRejectUnknownSynchronous(t *testing.T) {
	if _, err := OpenOptions(filepath.Join(t.TempDir(), "meta.db"), Options{Synchronous: "OFF"}); err == nil {
		t.Fatal("synchronous=OFF accepted")
	}
}

// A link that happens after an item was taken but before it is confirmed postpones it.
func TestLinkBetweenTakeAndConfirmPostpones(t *testing.T) {
	s, err := OpenOptions(filepath.Join(t.TempDir(), "meta.db"), Options{ReviewDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	clock := time.Now()
	s.now = func() time.Time { return clock }
	r, _ := s.CreateRepository(ctx, "111122223333", "r")
	d := digest.FromString("layer")
	if err := s.LinkBlob(ctx, r.ID, d, 1); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Hour)
	items, err := s.TakeGCItems(ctx, 10, time.Minute)
	if err != nil || len(items) != 1 {
		t.Fatalf("TakeGCItems = %+v, %v", items, err)
	}
	if err := s.LinkBlob(ctx, r.ID, d, 1); err != nil { // a push mounts it again
		t.Fatal(err)
	}
	if deleted, err := s.ConfirmGC(ctx, items[0]); err != nil || deleted {
		t.Fatalf("ConfirmGC = %v, %v; want kept", deleted, err)
	}
	if _, err := s.StatBlob(ctx, r.ID, d); err != nil {
		t.Fatal(err)
	}
	// Still queued for later; an hour after the new link it goes.
	clock = clock.Add(61 * time.Minute)
	items, _ = s.TakeGCItems(ctx, 10, time.Minute)
	if len(items) != 1 {
		t.Fatalf("item not reviewed again: %+v", items)
	}
	if deleted, err := s.ConfirmGC(ctx, items[0]); err != nil || !deleted {
		t.Fatalf("ConfirmGC = %v, %v; want deleted", deleted, err)
	}
}

// Lease expiry hands an item to another collector.
func TestLeaseExpires(t *testing.T) {
	s, err := OpenOptions(filepath.Join(t.TempDir(), "meta.db"), Options{ReviewDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	clock := time.Now()
	s.now = func() time.Time { return clock }
	s.QueueBlobForReview(ctx, digest.FromString("x"), 0)
	if items, _ := s.TakeGCItems(ctx, 10, time.Minute); len(items) != 1 {
		t.Fatal("not taken")
	}
	clock = clock.Add(2 * time.Minute)
	if items, _ := s.TakeGCItems(ctx, 10, time.Minute); len(items) != 1 {
		t.Fatal("expired lease not taken again")
	}
}

func TestPullTimesFlushedOnClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := s.CreateRepository(ctx, "111122223333", "r")
	m := store.Manifest{Digest: digest.FromString("m"), MediaType: "application/vnd.oci.image.manifest.v1+json", Payload: []byte("m")}
	if err := s.PutManifest(ctx, r.ID, m, "t"); err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(time.Now().UnixMilli()).UTC()
	s.MarkPulled(ctx, r.ID, m.Digest, at)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, _ = Open(path)
	defer s.Close()
	got, err := s.GetManifest(ctx, r.ID, m.Digest)
	if err != nil || !got.LastPulledAt.Equal(at) {
		t.Fatalf("LastPulledAt = %v, %v; want %v", got.LastPulledAt, err, at)
	}
}

// Concurrent writers queue on the writer connection instead of failing with SQLITE_BUSY.
func TestConcurrentWriters(t *testing.T) {
	s, err := OpenOptions(filepath.Join(t.TempDir(), "meta.db"), Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, _ := s.CreateRepository(ctx, "111122223333", "r")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				d := digest.FromString(fmt.Sprint(g, i))
				if err := s.LinkBlob(ctx, r.ID, d, 1); err != nil {
					errs <- err
					return
				}
				payload := []byte(fmt.Sprintf(`{"g":%d,"i":%d}`, g, i))
				m := store.Manifest{Digest: digest.FromBytes(payload), MediaType: "application/vnd.oci.image.manifest.v1+json",
					Payload: payload, Blobs: []store.Descriptor{{Digest: d, Size: 1}}}
				if err := s.PutManifest(ctx, r.ID, m, fmt.Sprintf("t%d", g)); err != nil {
					errs <- err
					return
				}
				if _, err := s.ResolveTag(ctx, r.ID, fmt.Sprintf("t%d", g)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func BenchmarkResolveTagParallel(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r, _ := s.CreateRepository(ctx, "111122223333", "bench/app")
	payload := make([]byte, 2000)
	for i := range 1000 {
		copy(payload, fmt.Sprintf(`{"schemaVersion":2,"n":%d}`, i))
		m := store.Manifest{Digest: digest.FromBytes(payload), MediaType: "application/vnd.oci.image.manifest.v1+json", Payload: payload}
		if err := s.PutManifest(ctx, r.ID, m, fmt.Sprintf("v%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetParallelism(16) // 32 goroutines on 2 CPUs
	var lat latencies
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		i := 0
		for pb.Next() {
			start := time.Now()
			if _, err := s.ResolveTag(ctx, r.ID, fmt.Sprintf("v%d", i%1000)); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
			i += 7
		}
		lat.add(mine)
	})
	b.StopTimer()
	b.ReportMetric(float64(lat.percentile(0.99).Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat.percentile(0.50).Microseconds()), "p50-µs")
}

type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

func (l *latencies) percentile(p float64) time.Duration {
	if len(l.all) == 0 {
		return 0
	}
	sorted := append([]time.Duration(nil), l.all...)
	slices.Sort(sorted)
	return sorted[int(float64(len(sorted)-1)*p)]
}

// A read transaction on the read pool must not hold the write lock.
func TestReadTransactionDoesNotBlockWriter(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, _ := s.CreateRepository(ctx, "111122223333", "r")
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM repositories`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.LinkBlob(wctx, r.ID, digest.FromString("x"), 1); err != nil {
		t.Fatalf("write during a read transaction: %v", err)
	}
}

// BenchmarkLinkBlob measures one write transaction under each durability setting.
func BenchmarkLinkBlob(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run(sync, func(b *testing.B) {
			s, err := OpenOptions(filepath.Join(b.TempDir(), "meta.db"), Options{Synchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			r, _ := s.CreateRepository(ctx, "111122223333", "r")
			i := 0
			for b.Loop() {
				i++
				if err := s.LinkBlob(ctx, r.ID, digest.FromString(fmt.Sprint(i)), 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLinkUploadedBlob links distinct blobs from 16 goroutines, as 16 pushing clients
// do: each link a (group-committed) transaction, or deferred to the link log and applied in
// batches (the time includes applying the last of them).
func BenchmarkLinkUploadedBlob(b *testing.B) {
	for _, deferred := range []bool{false, true} {
		name := map[bool]string{false: "transaction", true: "deferred"}[deferred]
		b.Run(name, func(b *testing.B) {
			s, err := OpenOptions(filepath.Join(b.TempDir(), "meta.db"), Options{Synchronous: "NORMAL", DeferLinks: deferred})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			r, _ := s.CreateRepository(ctx, "111122223333", "r")
			var n atomic.Int64
			b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					d := digest.FromString(strconv.FormatInt(n.Add(1), 10))
					if err := s.LinkUploadedBlob(ctx, r.ID, d, 1, ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if err := s.links.apply(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close() // must not panic
}

func TestRepositoryIDsAreNotReused(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, _ := s.CreateRepository(ctx, "111122223333", "a")
	b, _ := s.CreateRepository(ctx, "111122223333", "b")
	if err := s.DeleteRepository(ctx, "111122223333", "b", false); err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateRepository(ctx, "111122223333", "c")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == b.ID || c.ID == a.ID {
		t.Fatalf("ids a=%d b=%d c=%d: an id was reused", a.ID, b.ID, c.ID)
	}
}

// A database at version 1 is upgraded at Open: migration 002 starts the id sequence after
// the existing repositories.
func TestUpgradeFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := s.CreateRepository(ctx, "111122223333", "old")
	for _, q := range []string{`DROP TABLE sequences`, `DELETE FROM schema_migrations WHERE version = 2`} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(ctx); v != 4 {
		t.Fatalf("SchemaVersion = %d after upgrade", v)
	}
	r, err := s.CreateRepository(ctx, "111122223333", "new")
	if err != nil || r.ID != old.ID+1 {
		t.Fatalf("new repository id %d (%v), want %d", r.ID, err, old.ID+1)
	}
}

// A database at version 3 keeps its links and review queue when migration 004 drops the
// blobs table (never read) and moves the other two to WITHOUT ROWID.
func TestUpgradeToTablesWithoutRowid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := s.CreateRepository(ctx, "111122223333", "app")
	// Back to version 3's tables (rowid tables, as 001 created them).
	for _, q := range []string{
		`DROP TABLE IF EXISTS blobs`, `DROP TABLE repository_blobs`, `DROP TABLE gc_review_queue`,
		`CREATE TABLE blobs (digest TEXT PRIMARY KEY, size BIGINT NOT NULL, created_at BIGINT NOT NULL)`,
		`CREATE TABLE repository_blobs (repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
			digest TEXT NOT NULL, size BIGINT NOT NULL, linked_at BIGINT NOT NULL, PRIMARY KEY (repository_id, digest))`,
		`CREATE INDEX repository_blobs_digest ON repository_blobs (digest)`,
		`CREATE TABLE gc_review_queue (digest TEXT NOT NULL, repository_id BIGINT NOT NULL, is_manifest BOOLEAN NOT NULL,
			review_after BIGINT NOT NULL, lease_until BIGINT NOT NULL, PRIMARY KEY (is_manifest, repository_id, digest))`,
		`CREATE INDEX gc_review_queue_due ON gc_review_queue (review_after)`,
		`DELETE FROM schema_migrations WHERE version = 4`,
	} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	d := digest.FromString("kept")
	if err := s.LinkBlob(ctx, r.ID, d, 4); err != nil {
		t.Fatal(err)
	}
	var queued int
	s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM gc_review_queue`).Scan(&queued)
	if _, err := s.r.ExecContext(ctx, `SELECT rowid FROM repository_blobs`); err != nil {
		t.Fatalf("the version 3 table has no rowid: %v", err)
	}
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(ctx); v != 4 {
		t.Fatalf("SchemaVersion = %d after upgrade", v)
	}
	if size, err := s.StatBlob(ctx, r.ID, d); err != nil || size != 4 {
		t.Fatalf("StatBlob after upgrade = %d, %v", size, err)
	}
	if ref, err := s.BlobReferenced(ctx, d); err != nil || !ref {
		t.Fatalf("BlobReferenced after upgrade = %v, %v", ref, err)
	}
	var after int
	s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM gc_review_queue`).Scan(&after)
	if queued == 0 || after != queued {
		t.Fatalf("review queue %d rows before, %d after", queued, after)
	}
	for _, table := range []string{"repository_blobs", "gc_review_queue"} {
		if _, err := s.r.ExecContext(ctx, `SELECT rowid FROM `+table); err == nil {
			t.Errorf("%s still has a rowid", table)
		}
	}
	if _, err := s.r.ExecContext(ctx, `SELECT COUNT(*) FROM blobs`); err == nil {
		t.Error("the blobs table is still there")
	}
	if err := s.DeleteRepository(ctx, "111122223333", "app", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StatBlob(ctx, r.ID, d); !errors.Is(err, store.ErrBlobNotFound) {
		t.Fatalf("link kept after its repository was deleted: %v", err)
	}
}

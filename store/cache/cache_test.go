package cache_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/store"
	"github.com/coffer-registry/coffer/store/cache"
	"github.com/coffer-registry/coffer/store/sqlite"
	"github.com/coffer-registry/coffer/store/storetest"
	"github.com/opencontainers/go-digest"
)

var ctx = context.Background()

// The decorator keeps the store contract.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, reviewDelay time.Duration) store.Store {
		if reviewDelay == 0 {
			reviewDelay = -1
		}
		s, err := sqlite.OpenOptions(filepath.Join(t.TempDir(), "meta.db"), sqlite.Options{ReviewDelay: reviewDelay})
		if err != nil {
			t.Fatal(err)
		}
		return cache.New(s, cache.Options{MaxAge: time.Hour})
	})
}

// clock is a settable time for the cache's MaxAge.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// setup opens one database twice: through the cache (this process) and directly (another
// process, such as coffer gc), and creates a repository with a tagged manifest.
func setup(t *testing.T) (*cache.Store, store.Store, *clock, store.Repository, store.Manifest) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meta.db")
	inner, err := sqlite.OpenOptions(path, sqlite.Options{ReviewDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	other, err := sqlite.OpenOptions(path, sqlite.Options{ReviewDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := cache.New(inner, cache.Options{MaxAge: 2 * time.Second, Clock: clk.now})
	t.Cleanup(func() { c.Close(); other.Close() })
	repo, err := c.CreateRepository(ctx, "123456789012", "app")
	if err != nil {
		t.Fatal(err)
	}
	m := manifest("one")
	if err := c.PutManifest(ctx, repo.ID, m, "latest"); err != nil {
		t.Fatal(err)
	}
	return c, other, clk, repo, m
}

func manifest(body string) store.Manifest {
	p := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{"n":"` + body + `"}}`)
	return store.Manifest{Digest: digest.FromBytes(p), MediaType: "application/vnd.oci.image.index.v1+json", Payload: p}
}

func resolves(t *testing.T, s store.Store, repoID int64, tag string, want digest.Digest) {
	t.Helper()
	m, err := s.ResolveTag(ctx, repoID, tag)
	if want == "" {
		if !errors.Is(err, store.ErrTagNotFound) {
			t.Fatalf("ResolveTag(%s) = %v, %v; want ErrTagNotFound", tag, m.Digest, err)
		}
		return
	}
	if err != nil || m.Digest != want {
		t.Fatalf("ResolveTag(%s) = %v, %v; want %v", tag, m.Digest, err, want)
	}
}

// Writes through the cache are read back at once.
func TestOwnWritesInvalidate(t *testing.T) {
	c, _, _, repo, m1 := setup(t)
	resolves(t, c, repo.ID, "latest", m1.Digest) // cached now
	if _, err := c.GetManifest(ctx, repo.ID, m1.Digest); err != nil {
		t.Fatal(err)
	}

	m2 := manifest("two")
	if err := c.PutManifest(ctx, repo.ID, m2, "latest"); err != nil {
		t.Fatal(err)
	}
	resolves(t, c, repo.ID, "latest", m2.Digest)

	if err := c.DeleteTag(ctx, repo.ID, "latest"); err != nil {
		t.Fatal(err)
	}
	resolves(t, c, repo.ID, "latest", "")

	if err := c.DeleteManifest(ctx, repo.ID, m1.Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetManifest(ctx, repo.ID, m1.Digest); !errors.Is(err, store.ErrManifestNotFound) {
		t.Fatalf("GetManifest after DeleteManifest: %v", err)
	}

	if _, err := c.GetRepository(ctx, repo.Account, repo.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateRepository(ctx, repo.ID, func(r *store.Repository) error {
		r.Policy = `{"Version":"2012-10-17","Statement":[]}`
		r.Tags["team"] = "a"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRepository(ctx, repo.Account, repo.Name)
	if err != nil || got.Policy == "" || got.Tags["team"] != "a" {
		t.Fatalf("GetRepository after UpdateRepository = %+v, %v", got, err)
	}

	if err := c.DeleteRepository(ctx, repo.Account, repo.Name, true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRepository(ctx, repo.Account, repo.Name); !errors.Is(err, store.ErrRepositoryNotFound) {
		t.Fatalf("GetRepository after DeleteRepository: %v", err)
	}
}

// Another process's writes show once an entry is older than MaxAge, not before.
func TestOtherWritesSeenAfterMaxAge(t *testing.T) {
	c, other, clk, repo, m1 := setup(t)
	resolves(t, c, repo.ID, "latest", m1.Digest)
	if _, err := c.GetRepository(ctx, repo.Account, repo.Name); err != nil {
		t.Fatal(err)
	}

	m2 := manifest("two")
	if err := other.PutManifest(ctx, repo.ID, m2, "latest"); err != nil {
		t.Fatal(err)
	}
	if err := other.DeleteRepository(ctx, repo.Account, repo.Name, true); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Second)
	resolves(t, c, repo.ID, "latest", m1.Digest) // still the cached answer
	if _, err := c.GetRepository(ctx, repo.Account, repo.Name); err != nil {
		t.Fatalf("cached repository within MaxAge: %v", err)
	}
	clk.add(1500 * time.Millisecond)
	resolves(t, c, repo.ID, "latest", "")
	if _, err := c.GetRepository(ctx, repo.Account, repo.Name); !errors.Is(err, store.ErrRepositoryNotFound) {
		t.Fatalf("GetRepository after MaxAge: %v", err)
	}
}

// The registry policy, and its absence, is cached: own writes show at once, another
// process's once MaxAge has passed.
func TestRegistryPolicy(t *testing.T) {
	c, other, clk, repo, _ := setup(t)
	acct := repo.Account
	if _, err := c.RegistryPolicy(ctx, acct); !errors.Is(err, store.ErrPolicyNotFound) {
		t.Fatalf("no registry policy: %v", err)
	}
	doc := `{"Version":"2012-10-17","Statement":[]}`
	if err := c.PutRegistryPolicy(ctx, acct, doc); err != nil {
		t.Fatal(err)
	}
	if got, err := c.RegistryPolicy(ctx, acct); err != nil || got != doc {
		t.Fatalf("after own put: %q, %v", got, err)
	}
	if _, err := other.DeleteRegistryPolicy(ctx, acct); err != nil {
		t.Fatal(err)
	}
	if got, err := c.RegistryPolicy(ctx, acct); err != nil || got != doc {
		t.Fatalf("another process's delete within MaxAge: %q, %v", got, err)
	}
	clk.add(2 * time.Second)
	if _, err := c.RegistryPolicy(ctx, acct); !errors.Is(err, store.ErrPolicyNotFound) {
		t.Fatalf("another process's delete after MaxAge: %v", err)
	}
	if err := other.PutRegistryPolicy(ctx, acct, doc); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegistryPolicy(ctx, acct); !errors.Is(err, store.ErrPolicyNotFound) {
		t.Fatalf("cached absence within MaxAge: %v", err)
	}
	if _, err := c.DeleteRegistryPolicy(ctx, acct); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegistryPolicy(ctx, acct); !errors.Is(err, store.ErrPolicyNotFound) {
		t.Fatalf("after own delete: %v", err)
	}
}

// Changing what a read returned does not change what the cache serves next.
func TestReturnedValuesAreCopies(t *testing.T) {
	c, _, _, repo, _ := setup(t)
	if _, err := c.UpdateRepository(ctx, repo.ID, func(r *store.Repository) error {
		r.Tags["team"] = "a"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r1, err := c.GetRepository(ctx, repo.Account, repo.Name)
	if err != nil {
		t.Fatal(err)
	}
	r1.Tags["team"] = "changed"
	r2, err := c.GetRepository(ctx, repo.Account, repo.Name)
	if err != nil || r2.Tags["team"] != "a" {
		t.Fatalf("second GetRepository = %v, %v", r2.Tags, err)
	}
}

// A read that overlaps a write does not put its (possibly old) answer in the cache: after
// the writers stop, every reader sees the last tag.
func TestConcurrentReadsAndWrites(t *testing.T) {
	c, _, _, repo, _ := setup(t)
	var last store.Manifest
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.ResolveTag(ctx, repo.ID, "latest"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range 30 {
		last = manifest(string(rune('a' + i)))
		if err := c.PutManifest(ctx, repo.ID, last, "latest"); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	resolves(t, c, repo.ID, "latest", last.Digest)
}

func BenchmarkResolveTag(b *testing.B) {
	for _, cached := range []bool{false, true} {
		name := "sqlite"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			s, err := sqlite.OpenOptions(filepath.Join(b.TempDir(), "meta.db"), sqlite.Options{ReviewDelay: -1})
			if err != nil {
				b.Fatal(err)
			}
			var st store.Store = s
			if cached {
				st = cache.New(s, cache.Options{})
			}
			defer st.Close()
			repo, err := st.CreateRepository(ctx, "123456789012", "app")
			if err != nil {
				b.Fatal(err)
			}
			if err := st.PutManifest(ctx, repo.ID, manifest("one"), "latest"); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r, err := st.GetRepository(ctx, "123456789012", "app")
					if err != nil {
						b.Fatal(err)
					}
					if _, err := st.ResolveTag(ctx, r.ID, "latest"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

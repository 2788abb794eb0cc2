// Package cache is a store.Store decorator that keeps recent repository lookups and
// tag/digest → manifest resolutions in memory, for the manifest GET and HEAD hot path.
//
// Every write made through the decorator empties the cache, so this process reads its own
// writes at once. Writes made by another process on the same database (coffer gc, another
// node) are seen once an entry's age passes MaxAge. A lookup that raced with a write is not
// kept: each entry is stored only when no write finished while it was being read.
package cache

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
)

// Options tune a Store. The zero value means the defaults.
type Options struct {
	// MaxAge is how long an entry is served before it is read again. Default 1s.
	MaxAge time.Duration
	// MaxEntries bounds each of the two tables; a full table is emptied. Default 10000.
	MaxEntries int
	// Clock replaces time.Now (tests).
	Clock func() time.Time
}

// Store wraps a store.Store. Methods it does not override go to the wrapped store.
type Store struct {
	store.Store
	maxAge     time.Duration
	maxEntries int
	now        func() time.Time

	mu        sync.RWMutex
	gen       uint64 // counts the writes; an entry read under an older count is not stored
	repos     map[repoKey]entry[store.Repository]
	manifests map[manifestKey]entry[store.Manifest]
	// registryPolicies holds each account's registry policy document; "" is none (the
	// common case, kept too, since every registry request asks).
	registryPolicies map[string]entry[string]
}

var _ store.Store = (*Store)(nil)

type repoKey struct{ account, name string }

// manifestKey names a manifest by tag, or by digest with a leading "@" (tags cannot hold '@').
type manifestKey struct {
	repoID int64
	ref    string
}

type entry[T any] struct {
	v       T
	expires time.Time
}

// New wraps s.
func New(s store.Store, o Options) *Store {
	if o.MaxAge <= 0 {
		o.MaxAge = time.Second
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10000
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	c := &Store{Store: s, maxAge: o.MaxAge, maxEntries: o.MaxEntries, now: o.Clock}
	c.repos = make(map[repoKey]entry[store.Repository])
	c.manifests = make(map[manifestKey]entry[store.Manifest])
	c.registryPolicies = make(map[string]entry[string])
	return c
}

// Unwrap returns the wrapped store.
func (c *Store) Unwrap() store.Store { return c.Store }

// invalidate empties the cache; called after every write, whatever its outcome.
func (c *Store) invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.repos)
	clear(c.manifests)
	clear(c.registryPolicies)
	c.mu.Unlock()
}

func lookup[K comparable, T any](c *Store, m map[K]entry[T], k K) (T, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := m[k]
	if ok && c.now().Before(e.expires) {
		return e.v, c.gen, true
	}
	var zero T
	return zero, c.gen, false
}

func keep[K comparable, T any](c *Store, m map[K]entry[T], k K, v T, gen uint64, readAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return // a write finished while v was read: v may be stale
	}
	if len(m) >= c.maxEntries {
		clear(m)
	}
	m[k] = entry[T]{v: v, expires: readAt.Add(c.maxAge)}
}

// GetRepository serves the repository (settings, tags, policy) from the cache when fresh.
func (c *Store) GetRepository(ctx context.Context, account, name string) (store.Repository, error) {
	k := repoKey{account, name}
	r, gen, ok := lookup(c, c.repos, k)
	if ok {
		return cloneRepository(r), nil
	}
	readAt := c.now()
	r, err := c.Store.GetRepository(ctx, account, name)
	if err != nil {
		return r, err
	}
	keep(c, c.repos, k, cloneRepository(r), gen, readAt)
	return r, nil
}

// RegistryPolicy serves the account's registry policy (or its absence) from the cache when fresh.
func (c *Store) RegistryPolicy(ctx context.Context, account string) (string, error) {
	doc, gen, ok := lookup(c, c.registryPolicies, account)
	if !ok {
		readAt := c.now()
		var err error
		doc, err = c.Store.RegistryPolicy(ctx, account)
		switch {
		case errors.Is(err, store.ErrPolicyNotFound):
			doc = ""
		case err != nil:
			return "", err
		}
		keep(c, c.registryPolicies, account, doc, gen, readAt)
	}
	if doc == "" {
		return "", store.ErrPolicyNotFound
	}
	return doc, nil
}

// ResolveTag serves the tag's manifest from the cache when fresh.
func (c *Store) ResolveTag(ctx context.Context, repoID int64, tag string) (store.Manifest, error) {
	return c.manifest(manifestKey{repoID, tag}, func() (store.Manifest, error) {
		return c.Store.ResolveTag(ctx, repoID, tag)
	})
}

// GetManifest serves the manifest from the cache when fresh.
func (c *Store) GetManifest(ctx context.Context, repoID int64, d digest.Digest) (store.Manifest, error) {
	return c.manifest(manifestKey{repoID, "@" + d.String()}, func() (store.Manifest, error) {
		return c.Store.GetManifest(ctx, repoID, d)
	})
}

func (c *Store) manifest(k manifestKey, read func() (store.Manifest, error)) (store.Manifest, error) {
	m, gen, ok := lookup(c, c.manifests, k)
	if ok {
		return cloneManifest(m), nil
	}
	readAt := c.now()
	m, err := read()
	if err != nil {
		return m, err
	}
	keep(c, c.manifests, k, cloneManifest(m), gen, readAt)
	return m, nil
}

// cloneRepository copies the maps and slices a caller could change.
func cloneRepository(r store.Repository) store.Repository {
	r.Tags = maps.Clone(r.Tags)
	r.Settings.TagMutabilityExclusions = slices.Clone(r.Settings.TagMutabilityExclusions)
	return r
}

// cloneManifest copies the annotations; the payload is shared and must not be changed.
func cloneManifest(m store.Manifest) store.Manifest {
	m.Annotations = maps.Clone(m.Annotations)
	return m
}

// The writes that can change a cached repository or manifest resolution.

func (c *Store) CreateRepository(ctx context.Context, account, name string) (store.Repository, error) {
	defer c.invalidate()
	return c.Store.CreateRepository(ctx, account, name)
}

func (c *Store) CreateRepositoryWith(ctx context.Context, r store.Repository) (store.Repository, error) {
	defer c.invalidate()
	return c.Store.CreateRepositoryWith(ctx, r)
}

func (c *Store) DeleteRepository(ctx context.Context, account, name string, force bool) error {
	defer c.invalidate()
	return c.Store.DeleteRepository(ctx, account, name, force)
}

func (c *Store) UpdateRepository(ctx context.Context, id int64, fn func(r *store.Repository) error) (store.Repository, error) {
	defer c.invalidate()
	return c.Store.UpdateRepository(ctx, id, fn)
}

func (c *Store) PutRegistryPolicy(ctx context.Context, account, document string) error {
	defer c.invalidate()
	return c.Store.PutRegistryPolicy(ctx, account, document)
}

func (c *Store) DeleteRegistryPolicy(ctx context.Context, account string) (string, error) {
	defer c.invalidate()
	return c.Store.DeleteRegistryPolicy(ctx, account)
}

func (c *Store) PutManifest(ctx context.Context, repoID int64, m store.Manifest, tag string) error {
	defer c.invalidate()
	return c.Store.PutManifest(ctx, repoID, m, tag)
}

func (c *Store) DeleteTag(ctx context.Context, repoID int64, tag string) error {
	defer c.invalidate()
	return c.Store.DeleteTag(ctx, repoID, tag)
}

func (c *Store) DeleteManifest(ctx context.Context, repoID int64, d digest.Digest) error {
	defer c.invalidate()
	return c.Store.DeleteManifest(ctx, repoID, d)
}

// ConfirmGC empties the cache when it deleted a manifest.
func (c *Store) ConfirmGC(ctx context.Context, item store.GCItem) (bool, error) {
	deleted, err := c.Store.ConfirmGC(ctx, item)
	if deleted && item.Manifest {
		c.invalidate()
	}
	return deleted, err
}

package server

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/coffer-registry/coffer/blob"
	"github.com/coffer-registry/coffer/blob/fs"
	"github.com/coffer-registry/coffer/gc"
	"github.com/coffer-registry/coffer/store"
	"github.com/coffer-registry/coffer/store/cache"
	"github.com/coffer-registry/coffer/store/sqlite"
)

// Layout names what lives in a data directory:
//
//	DIR/blobs/        content-addressed blobs and uploads in progress (package blob/fs)
//	DIR/meta.db       metadata: repositories, manifests, tags, GC queue (package store/sqlite)
//	DIR/meta.db-links blob links not yet in meta.db (durability process; store/sqlite/links.go)
//	DIR/iam.db        identities: accounts, users, groups, roles, policies, keys (package iam/iamsql)
//	DIR/iam.key       the key that encrypts the identity store's secrets at rest (mode 0600)
//	DIR/registry-token.key  the HMAC key of registry passwords (GetAuthorizationToken; 0600)
//	DIR/credentials   the management account's root access key, written on first start (awsapi.go)
//	DIR/audit/        reserved: the audit trail
type Layout string

// Blobs is the blob store's directory.
func (l Layout) Blobs() string { return filepath.Join(string(l), "blobs") }

// MetaDB is the SQLite metadata database.
func (l Layout) MetaDB() string { return filepath.Join(string(l), "meta.db") }

// Credentials is the AWS shared-credentials file written on first start (profile default).
func (l Layout) Credentials() string { return filepath.Join(string(l), "credentials") }

// Audit is reserved for the audit trail.
func (l Layout) Audit() string { return filepath.Join(string(l), "audit") }

// Data is an open data directory.
type Data struct {
	Layout Layout
	Blobs  blob.Store
	Meta   store.Store
}

// Durability says what an acknowledged write survives. Every blob file is fsynced before it
// is published either way; the setting is about the metadata database (SQLite in WAL mode).
type Durability string

const (
	// DurabilityProcess (the default): an acknowledged write survives the process being
	// killed (kill -9, a crash); the last metadata writes may be lost if the machine loses
	// power, never the database's consistency. SQLite synchronous=NORMAL: no fsync per commit.
	DurabilityProcess Durability = "process"
	// DurabilityFsync: an acknowledged write survives power loss too. SQLite
	// synchronous=FULL: an fsync of the write-ahead log per commit.
	DurabilityFsync Durability = "fsync"
)

// synchronous returns SQLite's synchronous setting for d ("" means the default).
func (d Durability) synchronous() (string, error) {
	switch d {
	case "", DurabilityProcess:
		return "NORMAL", nil
	case DurabilityFsync:
		return "FULL", nil
	}
	return "", fmt.Errorf("server: durability %q: want %s or %s", d, DurabilityProcess, DurabilityFsync)
}

// OpenData creates the data directory when missing and opens its blob and metadata stores.
// gcGrace is how long an untagged manifest or unreferenced blob waits before garbage
// collection may review it (0: no wait). pushes is set by the process that takes pushes
// (coffer serve): with durability process its blob links are deferred (store/sqlite), and
// the other processes on the directory (coffer gc) leave it the link log.
func OpenData(dir string, gcGrace time.Duration, durability Durability, pushes bool) (*Data, error) {
	if dir == "" {
		return nil, errors.New("server: data directory is empty")
	}
	synchronous, err := durability.synchronous()
	if err != nil {
		return nil, err
	}
	l := Layout(dir)
	if err := os.MkdirAll(string(l), 0o700); err != nil {
		return nil, fmt.Errorf("server: data directory: %w", err)
	}
	blobs, err := fs.New(l.Blobs())
	if err != nil {
		return nil, fmt.Errorf("server: blob store: %w", err)
	}
	delay := gcGrace
	if delay <= 0 {
		delay = -1 // the store's "no delay"; its zero value means its own default
	}
	// Deferred blob links are as durable as a synchronous=NORMAL commit (see store/sqlite).
	meta, err := sqlite.OpenOptions(l.MetaDB(), sqlite.Options{ReviewDelay: delay, Synchronous: synchronous,
		DeferLinks: pushes && synchronous == "NORMAL"})
	if err != nil {
		return nil, fmt.Errorf("server: metadata store: %w", err)
	}
	// Manifest GET/HEAD read the repository and the tag from memory; another process's
	// writes (coffer gc) show within the cache's one-second MaxAge.
	return &Data{Layout: l, Blobs: blobs, Meta: cache.New(meta, cache.Options{})}, nil
}

// Close closes the metadata store (the blob store holds no open resources).
func (d *Data) Close() error { return d.Meta.Close() }

// Collector is the garbage collector over d: grace is the gc-grace setting (0: no wait;
// the collector itself reads a zero Grace as its default, so 0 becomes the smallest
// positive duration) and interval the pause between background passes.
func (d *Data) Collector(grace, interval time.Duration, log *slog.Logger) *gc.Collector {
	return gc.New(gc.Config{
		Blobs:    d.Blobs,
		Store:    d.Meta,
		Interval: interval,
		Grace:    max(grace, time.Nanosecond),
		Logger:   log,
	})
}

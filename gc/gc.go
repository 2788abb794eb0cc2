// Package gc is the online garbage collector: it works through the metadata store's review
// queue, deleting untagged manifests and unreferenced blobs while pushes go on.
//
// # Protocol
//
// The metadata store decides what is garbage (store.Store.ConfirmGC, one transaction per
// item, GitLab's online-GC design): an item is reviewed only after its grace period (the
// store's review delay), every use postpones it, and the confirmation re-checks references
// in the same transaction that deletes the metadata. Manifests live entirely in the
// metadata, so confirming one deletes it.
//
// For a blob the bytes are deleted afterwards, and that is where a concurrent push could
// lose: a client re-uploads a blob the collector has just confirmed; the blob store sees the
// file still there and discards the upload (Commit succeeds); the handler then links the
// blob (LinkBlob), after the confirmation; then the collector deletes the file, and the link
// points at nothing. The handler always runs Commit, then LinkBlob, within one request, so
// the gap between them is short: Config.PublishWindow (default one hour) bounds it.
// The rule that closes the race:
//
//  1. The collector notes the time T before ConfirmGC.
//  2. Commit and Put stamp the blob as published at the time they succeed, also when the
//     blob already existed (blob/fs sets the file's modification time under a per-digest
//     lock).
//  3. The collector deletes the bytes with blob.Store.DeleteUnused(d, T - PublishWindow),
//     which refuses, atomically with publication, when the blob was published since then.
//     A refused blob is queued for another review.
//
// A link that commits after the confirmation belongs to a Commit at most PublishWindow
// earlier, so after T - PublishWindow: DeleteUnused sees that stamp and keeps the bytes. A
// Commit after the deletion finds no file and publishes its own. A link that commits before
// the confirmation makes ConfirmGC keep the blob. The metadata deleted by the confirmation
// is rebuilt by that LinkBlob; if no link comes, the queued review deletes the blob later.
//
// Blobs that reached the blob store but never the metadata (a link that never came, a crash
// between confirmation and deletion) are found by a sweep over the blob store: a blob older
// than Config.Grace that the metadata does not know is queued for review. Upload sessions
// untouched for Config.UploadMaxAge are cancelled with their bytes.
package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/coffer-registry/coffer/blob"
	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
)

// Config configures a Collector. Zero durations mean the defaults.
type Config struct {
	Blobs blob.Store
	Store store.Store
	// Interval between passes of Run. Default 1h.
	Interval time.Duration
	// Grace is how old a blob unknown to the metadata must be before the sweep queues it.
	// Default 24h. (The grace period of queued items is the metadata store's review delay.)
	Grace time.Duration
	// PublishWindow bounds the time between a blob's Commit and its LinkBlob. Default 1h.
	PublishWindow time.Duration
	// UploadMaxAge: upload sessions older than this, with no write since, are cancelled.
	// Default 7 days.
	UploadMaxAge time.Duration
	// Batch is how many queue items one transaction leases. Default 100.
	Batch int
	// Lease is how long a taken item stays with this collector. Default 5m.
	Lease time.Duration
	// MaxItems bounds the queue items one pass handles. Default 100000.
	MaxItems int
	// SweepInterval is how often Run sweeps the blob store for blobs the metadata does not
	// know (a walk over every blob). Default 24h. Once always sweeps.
	SweepInterval time.Duration
	Logger        *slog.Logger
}

// Collector deletes garbage. It is safe to run while the registry serves pushes, and
// several collectors may share one metadata store (items are leased).
type Collector struct {
	cfg Config
	now func() time.Time
	log *slog.Logger

	lastSweep time.Time // Run's last sweep

	// Test hooks around the confirmation of a blob item (nil in production).
	beforeConfirm, afterConfirm func(store.GCItem)
}

// New returns a collector.
func New(cfg Config) *Collector {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Hour
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 24 * time.Hour
	}
	if cfg.PublishWindow <= 0 {
		cfg.PublishWindow = time.Hour
	}
	if cfg.UploadMaxAge <= 0 {
		cfg.UploadMaxAge = 7 * 24 * time.Hour
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 5 * time.Minute
	}
	if cfg.MaxItems <= 0 {
		cfg.MaxItems = 100000
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 24 * time.Hour
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{cfg: cfg, now: time.Now, log: log}
}

// BlobEntry is a blob in a report.
type BlobEntry struct {
	Digest digest.Digest
	Size   int64 // -1 when the bytes were already gone
}

// ManifestEntry is a manifest in a report.
type ManifestEntry struct {
	Repository string // ACCOUNT/NAME, or the id when the repository is gone
	Digest     digest.Digest
	Size       int64
}

// Report lists what a pass deleted, or for a dry run what it would delete.
type Report struct {
	DryRun    bool
	Manifests []ManifestEntry
	Blobs     []BlobEntry
	Uploads   []string // upload ids cancelled
	// InUse counts blobs whose metadata was gone but which a push had just published again;
	// they were kept and queued for another review.
	InUse int
	// Failed counts items that hit an error; they stay queued and the errors are logged.
	Failed int
}

// Bytes is the total size of the blobs in the report.
func (r Report) Bytes() int64 {
	var n int64
	for _, b := range r.Blobs {
		if b.Size > 0 {
			n += b.Size
		}
	}
	return n
}

// String formats the report for people, one item per line, then a summary.
func (r Report) String() string {
	var b strings.Builder
	verb := "deleted"
	if r.DryRun {
		verb = "would delete"
	}
	for _, m := range r.Manifests {
		fmt.Fprintf(&b, "%s manifest %s@%s (%d bytes)\n", verb, m.Repository, m.Digest, m.Size)
	}
	for _, bl := range r.Blobs {
		if bl.Size < 0 {
			fmt.Fprintf(&b, "%s blob %s (bytes already gone)\n", verb, bl.Digest)
		} else {
			fmt.Fprintf(&b, "%s blob %s (%d bytes)\n", verb, bl.Digest, bl.Size)
		}
	}
	for _, u := range r.Uploads {
		fmt.Fprintf(&b, "%s upload %s\n", verb, u)
	}
	fmt.Fprintf(&b, "%s %d manifests, %d blobs (%d bytes), %d uploads", verb, len(r.Manifests), len(r.Blobs), r.Bytes(), len(r.Uploads))
	if r.InUse > 0 {
		fmt.Fprintf(&b, "; kept %d blobs published again meanwhile", r.InUse)
	}
	if r.Failed > 0 {
		fmt.Fprintf(&b, "; %d items failed (see log)", r.Failed)
	}
	b.WriteString("\n")
	return b.String()
}

// Run runs a pass every Interval until ctx ends, then returns ctx's error.
func (c *Collector) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		sweep := c.now().Sub(c.lastSweep) >= c.cfg.SweepInterval
		r, err := c.pass(ctx, sweep)
		if sweep && err == nil {
			c.lastSweep = c.now()
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			c.log.Error("gc: pass failed", "err", err)
		case len(r.Manifests)+len(r.Blobs)+len(r.Uploads) > 0 || r.Failed > 0:
			c.log.Info("gc: pass done", "manifests", len(r.Manifests), "blobs", len(r.Blobs),
				"bytes", r.Bytes(), "uploads", len(r.Uploads), "in_use", r.InUse, "failed", r.Failed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Once runs one full pass: stale uploads, the sweep for unknown blobs, then the review
// queue until no item is due.
func (c *Collector) Once(ctx context.Context) (Report, error) { return c.pass(ctx, true) }

func (c *Collector) pass(ctx context.Context, sweep bool) (Report, error) {
	var r Report
	names := c.repositoryNames(ctx)
	if err := c.expireUploads(ctx, &r, false); err != nil {
		return r, err
	}
	if sweep {
		if err := c.sweep(ctx, nil); err != nil {
			return r, err
		}
	}
	for handled := 0; handled < c.cfg.MaxItems; {
		items, err := c.cfg.Store.TakeGCItems(ctx, min(c.cfg.Batch, c.cfg.MaxItems-handled), c.cfg.Lease)
		if err != nil {
			return r, err
		}
		if len(items) == 0 {
			return r, nil
		}
		handled += len(items)
		progress := false
		for _, it := range items {
			if err := ctx.Err(); err != nil {
				return r, err
			}
			if c.collect(ctx, it, names, &r) {
				progress = true
			}
		}
		if !progress {
			return r, nil // every item failed: leave them to the next pass
		}
	}
	return r, nil
}

// collect handles one leased item; it reports false when the item failed.
func (c *Collector) collect(ctx context.Context, it store.GCItem, names map[int64]string, r *Report) bool {
	var size int64 = -1
	if it.Manifest {
		if m, err := c.cfg.Store.GetManifest(ctx, it.RepositoryID, it.Digest); err == nil {
			size = m.Size
		}
	} else if n, err := c.cfg.Blobs.Stat(ctx, it.Digest); err == nil {
		size = n
	}
	if c.beforeConfirm != nil {
		c.beforeConfirm(it)
	}
	confirmedAt := c.now()
	deleted, err := c.cfg.Store.ConfirmGC(ctx, it)
	if err != nil {
		c.log.Error("gc: confirming", "digest", it.Digest, "manifest", it.Manifest, "err", err)
		c.cfg.Store.ReleaseGC(ctx, it)
		r.Failed++
		return false
	}
	if !deleted {
		return true
	}
	if it.Manifest {
		r.Manifests = append(r.Manifests, ManifestEntry{Repository: repositoryName(names, it.RepositoryID), Digest: it.Digest, Size: size})
		return true
	}
	if c.afterConfirm != nil {
		c.afterConfirm(it)
	}
	err = c.cfg.Blobs.DeleteUnused(ctx, it.Digest, confirmedAt.Add(-c.cfg.PublishWindow))
	switch {
	case err == nil, errors.Is(err, blob.ErrNotFound):
		r.Blobs = append(r.Blobs, BlobEntry{Digest: it.Digest, Size: size})
		return true
	case errors.Is(err, blob.ErrInUse):
		r.InUse++
		if qerr := c.cfg.Store.QueueBlobForReview(ctx, it.Digest, c.cfg.PublishWindow); qerr != nil {
			c.log.Error("gc: requeueing blob in use", "digest", it.Digest, "err", qerr)
		}
		return true
	default:
		// The metadata is gone but the bytes stay: queue the blob so that a later pass retries.
		c.log.Error("gc: deleting blob", "digest", it.Digest, "err", err)
		if qerr := c.cfg.Store.QueueBlobForReview(ctx, it.Digest, time.Minute); qerr != nil {
			c.log.Error("gc: requeueing blob", "digest", it.Digest, "err", qerr)
		}
		r.Failed++
		return false
	}
}

// DryRun reports what a pass would delete now, changing nothing. Manifests and blobs that
// only become garbage through deleting others (a layer of an untagged image) are reviewed
// after their own grace period and are not listed.
func (c *Collector) DryRun(ctx context.Context) (Report, error) {
	r := Report{DryRun: true}
	names := c.repositoryNames(ctx)
	if err := c.expireUploads(ctx, &r, true); err != nil {
		return r, err
	}
	items, err := c.cfg.Store.PendingGC(ctx, 0)
	if err != nil {
		return r, err
	}
	seen := map[digest.Digest]bool{}
	for _, it := range items {
		if it.Manifest {
			var size int64 = -1
			if m, err := c.cfg.Store.GetManifest(ctx, it.RepositoryID, it.Digest); err == nil {
				size = m.Size
			}
			r.Manifests = append(r.Manifests, ManifestEntry{Repository: repositoryName(names, it.RepositoryID), Digest: it.Digest, Size: size})
			continue
		}
		size, err := c.cfg.Blobs.Stat(ctx, it.Digest)
		if errors.Is(err, blob.ErrNotFound) {
			size = -1
		} else if err != nil {
			return r, err
		}
		seen[it.Digest] = true
		r.Blobs = append(r.Blobs, BlobEntry{Digest: it.Digest, Size: size})
	}
	err = c.sweep(ctx, func(d digest.Digest, size int64) {
		if !seen[d] {
			r.Blobs = append(r.Blobs, BlobEntry{Digest: d, Size: size})
		}
	})
	sort.Slice(r.Blobs, func(i, j int) bool { return r.Blobs[i].Digest < r.Blobs[j].Digest })
	return r, err
}

// sweep finds blobs older than Grace that the metadata does not know. Without report it
// queues them for review; with report it only reports them.
func (c *Collector) sweep(ctx context.Context, report func(d digest.Digest, size int64)) error {
	cutoff := c.now().Add(-c.cfg.Grace)
	return c.cfg.Blobs.Walk(ctx, func(d digest.Digest, size int64, modTime time.Time) error {
		if !modTime.Before(cutoff) {
			return nil
		}
		known, err := c.cfg.Store.BlobReferenced(ctx, d)
		if err != nil || known {
			return err
		}
		if report != nil {
			report(d, size)
			return nil
		}
		return c.cfg.Store.QueueBlobForReview(ctx, d, 0)
	})
}

// expireUploads cancels upload sessions (and upload bytes without a session) that nobody
// wrote to for UploadMaxAge. An upload bound to an owner (the registry's sessions: the bytes
// are the session) expires with its bytes; one without (the ECR API's sessions, which keep
// their parts in the metadata store) expires with its metadata session or, having none, by
// its bytes alone.
func (c *Collector) expireUploads(ctx context.Context, r *Report, dryRun bool) error {
	cutoff := c.now().Add(-c.cfg.UploadMaxAge)
	written := map[string]time.Time{}
	type owned struct{ id, owner string }
	var stale []owned
	if err := c.cfg.Blobs.Uploads(ctx, func(id, owner string, modTime time.Time) error {
		if owner == "" {
			written[id] = modTime
		} else if modTime.Before(cutoff) {
			stale = append(stale, owned{id, owner})
		}
		return nil
	}); err != nil {
		return err
	}
	for _, u := range stale {
		r.Uploads = append(r.Uploads, u.id)
		if !dryRun {
			c.cancelUpload(ctx, u.id, u.owner)
		}
	}
	sessions, err := c.cfg.Store.ListUploads(ctx, cutoff)
	if err != nil {
		return err
	}
	for _, u := range sessions {
		if t, ok := written[u.ID]; ok && !t.Before(cutoff) {
			continue // old session, recent bytes: still in use
		}
		delete(written, u.ID)
		r.Uploads = append(r.Uploads, u.ID)
		if dryRun {
			continue
		}
		c.cancelUpload(ctx, u.ID, "")
		if err := c.cfg.Store.DeleteUpload(ctx, u.ID); err != nil && !errors.Is(err, store.ErrUploadNotFound) {
			return err
		}
	}
	for id, t := range written {
		if !t.Before(cutoff) {
			continue
		}
		if _, err := c.cfg.Store.GetUpload(ctx, id); err == nil {
			continue // a session younger than the cutoff owns it
		} else if !errors.Is(err, store.ErrUploadNotFound) {
			return err
		}
		r.Uploads = append(r.Uploads, id)
		if !dryRun {
			c.cancelUpload(ctx, id, "")
		}
	}
	sort.Strings(r.Uploads)
	return nil
}

func (c *Collector) cancelUpload(ctx context.Context, id, owner string) {
	u, err := c.cfg.Blobs.ResumeUpload(ctx, id, owner)
	if errors.Is(err, blob.ErrUploadUnknown) {
		return
	}
	if err != nil {
		c.log.Error("gc: reopening stale upload", "upload", id, "err", err)
		return
	}
	if err := u.Cancel(ctx); err != nil {
		c.log.Error("gc: cancelling stale upload", "upload", id, "err", err)
	}
}

// repositoryNames maps repository ids to ACCOUNT/NAME for reports (best effort).
func (c *Collector) repositoryNames(ctx context.Context) map[int64]string {
	names := map[int64]string{}
	repos, err := c.cfg.Store.ListRepositories(ctx, "", "", 0)
	if err != nil {
		return names
	}
	for _, r := range repos {
		names[r.ID] = r.Account + "/" + r.Name
	}
	return names
}

func repositoryName(names map[int64]string, id int64) string {
	if n, ok := names[id]; ok {
		return n
	}
	return fmt.Sprintf("repository#%d", id)
}

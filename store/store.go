// Package store keeps the registry's metadata: repositories, manifests, tags, the links
// between manifests and blobs, upload sessions and the garbage-collection review queue.
// SQLite is the embedded engine; PostgreSQL implements the same interface later.
package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"
)

// Errors returned by every Store implementation. Callers compare with errors.Is.
var (
	ErrRepositoryExists   = errors.New("store: repository already exists")
	ErrRepositoryNotFound = errors.New("store: repository not found")
	ErrRepositoryNotEmpty = errors.New("store: repository not empty")
	ErrManifestNotFound   = errors.New("store: manifest not found")
	ErrTagNotFound        = errors.New("store: tag not found")
	ErrBlobNotFound       = errors.New("store: blob not found")
	ErrUploadNotFound     = errors.New("store: upload not found")
	// ErrBlobReferenced: the blob is listed by a manifest of the same repository.
	ErrBlobReferenced = errors.New("store: blob referenced by a manifest")
	// ErrManifestReferenced: the manifest is referenced by an index in the same repository.
	ErrManifestReferenced = errors.New("store: manifest referenced by an index")
)

// MissingReferenceError is returned by PutManifest when the manifest references a blob or a
// manifest that the repository does not hold. Digest names the first one missing.
type MissingReferenceError struct {
	Digest   digest.Digest
	Manifest bool // true: a child manifest (index entry) is missing; false: a blob
}

func (e *MissingReferenceError) Error() string {
	if e.Manifest {
		return "store: referenced manifest unknown: " + e.Digest.String()
	}
	return "store: referenced blob unknown: " + e.Digest.String()
}

// Repository is a repository owned by an account (a 12-digit id). Name follows ECR's grammar.
type Repository struct {
	ID        int64
	Account   string
	Name      string
	CreatedAt time.Time
	// ECR's side of the repository: settings, resource tags (at most 50) and the repository
	// policy document ("" when none), read with the repository so one read authorizes a request.
	Settings RepositorySettings
	Tags     map[string]string // nil when none
	Policy   string
}

// Descriptor is a reference from a manifest to a blob or to another manifest.
type Descriptor struct {
	Digest    digest.Digest
	MediaType string
	Size      int64
}

// Manifest is a stored manifest, with its exact payload bytes.
type Manifest struct {
	Digest       digest.Digest
	MediaType    string
	ArtifactType string // for referrers: artifactType, else config.mediaType for artifacts
	Size         int64
	Payload      []byte
	Subject      digest.Digest // empty when the manifest has no subject
	Annotations  map[string]string
	Blobs        []Descriptor // config and layers of an image manifest (input only: reads leave it empty)
	Manifests    []Descriptor // entries of an index / manifest list (input only: reads leave it empty)
	PushedAt     time.Time
	LastPulledAt time.Time // zero when never pulled
}

// Upload is an upload session: the bytes live in the blob store under the same ID.
type Upload struct {
	ID           string
	RepositoryID int64
	StartedAt    time.Time
	// Parts counts the ECR UploadLayerPart calls recorded with NoteUploadPart. ShortPart: a
	// part smaller than the minimum was followed by another one; ECR then refuses to complete.
	Parts     int64
	ShortPart bool
}

// GCItem is a candidate for garbage collection taken from the review queue.
type GCItem struct {
	Digest       digest.Digest
	RepositoryID int64 // set for manifests; 0 for blobs
	Manifest     bool
}

// Store is the metadata store. Every method is one transaction.
type Store interface {
	CreateRepository(ctx context.Context, account, name string) (Repository, error)
	GetRepository(ctx context.Context, account, name string) (Repository, error)
	// ListRepositories returns up to limit repositories ordered by (account, name) that come
	// after (afterAccount, afterName); empty strings start at the beginning.
	ListRepositories(ctx context.Context, afterAccount, afterName string, limit int) ([]Repository, error)
	// DeleteRepository removes the repository; unless force, ErrRepositoryNotEmpty when it
	// still holds manifests. Its blobs become candidates for garbage collection.
	DeleteRepository(ctx context.Context, account, name string, force bool) error
	// CountRepositories returns how many repositories an account has.
	CountRepositories(ctx context.Context, account string) (int, error)
	// CreateRepositoryWith creates r.Account/r.Name with r's settings, tags and policy, or
	// ErrRepositoryExists.
	CreateRepositoryWith(ctx context.Context, r Repository) (Repository, error)
	// UpdateRepository reads the repository, lets fn change its Settings, Tags and Policy
	// (other fields are ignored) and writes it back, in one transaction; an error from fn
	// writes nothing and is returned. Tags is never nil inside fn.
	UpdateRepository(ctx context.Context, id int64, fn func(r *Repository) error) (Repository, error)
	// RegistryPolicy returns an account's registry policy document, or ErrPolicyNotFound.
	RegistryPolicy(ctx context.Context, account string) (string, error)
	PutRegistryPolicy(ctx context.Context, account, document string) error
	// DeleteRegistryPolicy removes and returns the registry policy, or ErrPolicyNotFound.
	DeleteRegistryPolicy(ctx context.Context, account string) (string, error)

	// LinkBlob records that the repository holds a verified blob (after upload or mount),
	// and postpones any garbage-collection review of it.
	LinkBlob(ctx context.Context, repoID int64, d digest.Digest, size int64) error
	// LinkUploadedBlob is LinkBlob and the end of upload session uploadID (when not empty)
	// in one transaction: what a registry does once an upload's bytes are committed. A
	// session already gone is not an error.
	LinkUploadedBlob(ctx context.Context, repoID int64, d digest.Digest, size int64, uploadID string) error
	// StatBlob returns the size of a blob the repository holds, or ErrBlobNotFound.
	StatBlob(ctx context.Context, repoID int64, d digest.Digest) (int64, error)
	// UnlinkBlob removes the blob from the repository; ErrBlobNotFound if it was not there,
	// ErrBlobReferenced (and the blob stays) while a manifest of the repository lists it.
	UnlinkBlob(ctx context.Context, repoID int64, d digest.Digest) error

	// PutManifest stores the manifest and, when tag is not empty, points the tag at it, in one
	// transaction. Moving a tag that the repository's settings make immutable (see
	// RepositorySettings.TagImmutable) to another manifest fails with *TagImmutableError. Every blob in m.Blobs must be linked to the repository and every manifest in
	// m.Manifests stored in it, otherwise *MissingReferenceError. Storing an existing
	// manifest again only moves the tag.
	PutManifest(ctx context.Context, repoID int64, m Manifest, tag string) error
	// GetManifest returns a manifest by digest, or ErrManifestNotFound.
	GetManifest(ctx context.Context, repoID int64, d digest.Digest) (Manifest, error)
	// ResolveTag returns the manifest a tag points at, or ErrTagNotFound.
	ResolveTag(ctx context.Context, repoID int64, tag string) (Manifest, error)
	// ListTags returns up to limit tag names in lexical order after last (limit <= 0: all).
	ListTags(ctx context.Context, repoID int64, last string, limit int) ([]string, error)
	// DeleteTag removes a tag, or ErrTagNotFound. The manifest stays.
	DeleteTag(ctx context.Context, repoID int64, tag string) error
	// DeleteManifest removes a manifest and every tag pointing at it, or ErrManifestNotFound,
	// or ErrManifestReferenced when an index of the repository still lists it.
	DeleteManifest(ctx context.Context, repoID int64, d digest.Digest) error
	// Images lists stored manifests as ECR images (tags, size, push and pull times) in digest
	// order, from q.From on.
	Images(ctx context.Context, repoID int64, q ImageQuery) ([]Image, error)
	// Image describes one stored manifest, or ErrManifestNotFound.
	Image(ctx context.Context, repoID int64, d digest.Digest) (Image, error)
	// Referrers lists the manifests whose subject is d, filtered by artifactType when not empty.
	Referrers(ctx context.Context, repoID int64, d digest.Digest, artifactType string) ([]Manifest, error)
	// MarkPulled records a pull time for ECR's lastRecordedPullTime (may be coarse, batched).
	MarkPulled(ctx context.Context, repoID int64, d digest.Digest, at time.Time) error

	// CreateUpload records a layer upload session of the ECR API, which counts its parts here.
	// (The registry route's sessions are the blob store's uploads bound to UploadOwner.)
	CreateUpload(ctx context.Context, u Upload) error
	GetUpload(ctx context.Context, id string) (Upload, error)
	DeleteUpload(ctx context.Context, id string) error
	// ListUploads returns the sessions started before the given time (to expire stale ones).
	ListUploads(ctx context.Context, startedBefore time.Time) ([]Upload, error)
	// NoteUploadPart records an ECR layer part of size bytes; a part smaller than minPartSize
	// that is followed by another one sets the upload's ShortPart. ErrUploadNotFound if gone.
	NoteUploadPart(ctx context.Context, id string, size, minPartSize int64) error

	// GC review queue (GitLab's online GC design): TakeGCItems returns up to limit items whose
	// review time has passed, leased to this caller for lease; ConfirmGC deletes the metadata
	// of an item that is still unreferenced and reports whether it did (the caller then deletes
	// the bytes); ReleaseGC hands an item back. Items for blobs are queued when their last
	// repository link goes away and when an upload is committed; items for manifests when they
	// lose their last tag or index reference. Any use of the item postpones its review.
	// The grace period (the review delay) is a setting of the implementation.
	// What ConfirmGC decides: a blob is kept while a manifest (any repository) lists it or has
	// its digest, and while a repository link is younger than the review delay; a manifest is
	// kept while a tag points at it, an index of its repository lists it, or its subject
	// exists in its repository. Deleting a manifest queues what it listed and its referrers.
	TakeGCItems(ctx context.Context, limit int, lease time.Duration) ([]GCItem, error)
	ConfirmGC(ctx context.Context, item GCItem) (deleted bool, err error)
	ReleaseGC(ctx context.Context, item GCItem) error
	// QueueBlobForReview queues a blob that exists in the blob store but may have no
	// reference (for instance a committed upload whose link never came), reviewed after delay.
	// An item already queued is postponed to that time, never brought forward.
	QueueBlobForReview(ctx context.Context, d digest.Digest, delay time.Duration) error
	// PendingGC lists up to limit (<= 0: all) due items that ConfirmGC would delete now,
	// without leasing or changing anything (for dry runs).
	PendingGC(ctx context.Context, limit int) ([]GCItem, error)
	// BlobReferenced reports whether the metadata knows a blob: a repository links it, a
	// manifest lists it, or a manifest has its digest. The collector's sweep of the blob
	// store queues blobs nobody knows.
	BlobReferenced(ctx context.Context, d digest.Digest) (bool, error)

	Close() error
}

// UploadOwner labels the bytes of repository repoID's upload sessions in the blob store
// (blob.Store.StartUpload): the registry's sessions are their bytes alone, bound to their
// repository this way.
func UploadOwner(repoID int64) string {
	return strconv.FormatInt(repoID, 10)
}

// Package blob stores content-addressed bytes and the uploads that produce them.
// It knows digests and byte ranges, never repositories or tags.
package blob

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// Errors returned by every Store implementation. Callers compare with errors.Is.
var (
	ErrNotFound       = errors.New("blob: not found")
	ErrDigestMismatch = errors.New("blob: content does not match digest")
	ErrUploadUnknown  = errors.New("blob: upload unknown")
	ErrUnsupported    = errors.New("blob: unsupported digest algorithm")
	// ErrInUse: DeleteUnused refused because the blob was published after the given time.
	ErrInUse = errors.New("blob: published recently")
)

// Store is a content-addressed blob store. Content becomes visible under its digest only
// after it was verified; a reader never sees partial content.
type Store interface {
	// Stat returns the blob's size, or ErrNotFound.
	Stat(ctx context.Context, d digest.Digest) (int64, error)
	// Open returns the blob for reading. The filesystem driver returns an *os.File inside,
	// so http.ServeContent can use sendfile.
	Open(ctx context.Context, d digest.Digest) (Content, error)
	// Put stores small content that is already in memory, after checking its digest.
	Put(ctx context.Context, d digest.Digest, p []byte) error
	// Delete removes a blob. Deleting an absent blob returns ErrNotFound.
	Delete(ctx context.Context, d digest.Digest) error
	// DeleteUnused removes a blob only if no Commit or Put published it at or after since,
	// atomically with respect to those; otherwise it returns ErrInUse and the blob stays.
	// The garbage collector deletes through it (see package gc for the protocol).
	DeleteUnused(ctx context.Context, d digest.Digest, since time.Time) error
	// Walk calls fn for every stored blob, in no particular order.
	Walk(ctx context.Context, fn func(d digest.Digest, size int64, modTime time.Time) error) error

	// StartUpload begins a new upload with a fresh id, bound to owner: an opaque label of 1
	// to 40 characters from [0-9a-z-] (the registry binds an upload session to its
	// repository this way), or "" for none. Its bytes are the session's state: it exists
	// until it is committed, cancelled or expired.
	StartUpload(ctx context.Context, owner string) (Upload, error)
	// ResumeUpload reopens an upload in progress (also after a restart), or ErrUploadUnknown
	// when there is none with that id and owner.
	ResumeUpload(ctx context.Context, id, owner string) (Upload, error)
	// Uploads lists the uploads in progress: id, owner and when it was last written.
	Uploads(ctx context.Context, fn func(id, owner string, modTime time.Time) error) error
}

// ValidOwner reports whether owner may label an upload ("" included).
func ValidOwner(owner string) bool {
	if len(owner) > 40 {
		return false
	}
	for i := 0; i < len(owner); i++ {
		c := owner[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

// Content is an open blob.
type Content interface {
	io.ReadSeekCloser
	Size() int64
}

// Upload is an upload in progress. It is hashed while it streams; Commit verifies the
// digest and publishes the content atomically, once it is durable.
type Upload interface {
	ID() string
	// Size is the number of bytes received so far.
	Size() int64
	// Write appends to the upload.
	Write(p []byte) (int, error)
	// ReadFrom appends everything r yields (used for request bodies; may avoid copies).
	ReadFrom(r io.Reader) (int64, error)
	// Commit checks that the content has digest d and makes it visible under d. When it
	// returns, the blob is durable: after a crash it is under d again once the store is
	// opened (the content never shows under d before it is complete and durable). It returns
	// ErrDigestMismatch (and the upload is discarded) when the content differs. When the blob
	// already exists the upload is discarded, and the existing blob counts as published now
	// (DeleteUnused will not remove it).
	Commit(ctx context.Context, d digest.Digest) (size int64, err error)
	// Cancel discards the upload.
	Cancel(ctx context.Context) error
	// Close releases resources and keeps the upload for a later ResumeUpload.
	Close() error
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// LinkBlob records the blob in the repository and postpones its review by the review delay.
func (s *Store) LinkBlob(ctx context.Context, repoID int64, d digest.Digest, size int64) error {
	return s.write(ctx, func(tx *sql.Tx) error { return s.linkBlob(ctx, tx, repoID, d, size) })
}

// LinkUploadedBlob links the blob and deletes the upload session, in one transaction. Without
// a session, and with Options.DeferLinks, the link is deferred (see links.go).
func (s *Store) LinkUploadedBlob(ctx context.Context, repoID int64, d digest.Digest, size int64, uploadID string) error {
	if uploadID == "" && s.links.deferring() {
		err := s.deferLink(ctx, repoID, d, size)
		if !errors.Is(err, errNoLinkLog) {
			return err
		}
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := s.linkBlob(ctx, tx, repoID, d, size); err != nil {
			return err
		}
		if uploadID == "" {
			return nil
		}
		_, err := tx.StmtContext(ctx, s.wstmts.deleteUpload).ExecContext(ctx, uploadID)
		return err
	})
}

// linkBlob runs the two statements of a blob's link. A missing repository is found by the
// link's foreign key.
func (s *Store) linkBlob(ctx context.Context, tx *sql.Tx, repoID int64, d digest.Digest, size int64) error {
	now := s.now().UnixMilli()
	if _, err := tx.StmtContext(ctx, s.wstmts.linkBlob).ExecContext(ctx, repoID, d.String(), size, now); err != nil {
		if isForeignKeyError(err) {
			return store.ErrRepositoryNotFound
		}
		return err
	}
	return s.queue(ctx, tx, d, 0, false, now+s.reviewDelay.Milliseconds())
}

// deferLink appends the link to the link log once the repository is known to exist;
// errNoLinkLog when the log cannot take it.
func (s *Store) deferLink(ctx context.Context, repoID int64, d digest.Digest, size int64) error {
	if !s.links.knownRepository(repoID) {
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM repositories WHERE id = $1`, repoID).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		if n == 0 {
			return store.ErrRepositoryNotFound
		}
		s.links.remember(repoID)
	}
	if err := s.links.add(repoID, d, size, s.now().UnixMilli()); err != nil {
		return errNoLinkLog // the synchronous link reports what is wrong, if anything
	}
	return nil
}

// StatBlob returns the size of a blob linked to the repository. A pending deferred link is
// looked at first: once it is gone from the list, its transaction has committed.
func (s *Store) StatBlob(ctx context.Context, repoID int64, d digest.Digest) (int64, error) {
	if size, ok := s.links.lookup(repoID, d); ok {
		return size, nil
	}
	var size int64
	err := s.stmts.statBlob.QueryRowContext(ctx, repoID, d.String()).Scan(&size)
	if isNoRows(err) {
		return 0, store.ErrBlobNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	return size, nil
}

// UnlinkBlob removes the blob from the repository and queues it for review, unless a
// manifest of the repository lists it.
func (s *Store) UnlinkBlob(ctx context.Context, repoID int64, d digest.Digest) error {
	now := s.now().UnixMilli()
	return s.write(ctx, func(tx *sql.Tx) error {
		var listed int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM manifest_references
			WHERE child_digest = $1 AND repository_id = $2 AND NOT child_is_manifest`, d.String(), repoID).Scan(&listed)
		if err != nil {
			return err
		}
		if listed > 0 {
			var linked int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM repository_blobs WHERE repository_id = $1 AND digest = $2`, repoID, d.String()).Scan(&linked); err != nil {
				return err
			}
			if linked == 0 {
				return store.ErrBlobNotFound
			}
			return store.ErrBlobReferenced
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2`, repoID, d.String())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrBlobNotFound
		}
		return s.queue(ctx, tx, d, 0, false, now+s.reviewDelay.Milliseconds())
	})
}

// BlobReferenced reports whether any repository links the blob, any manifest lists it, or a
// manifest has its digest.
func (s *Store) BlobReferenced(ctx context.Context, d digest.Digest) (bool, error) {
	if s.links.referenced(d) {
		return true, nil
	}
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM repository_blobs WHERE digest = $1) +
		(SELECT COUNT(*) FROM manifest_references WHERE child_digest = $1) +
		(SELECT COUNT(*) FROM manifests WHERE digest = $1)`, d.String()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	return n > 0, nil
}

// isForeignKeyError reports whether err is SQLite's "FOREIGN KEY constraint failed".
func isForeignKeyError(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

func (s *Store) repositoryExists(ctx context.Context, tx *sql.Tx, repoID int64) error {
	var n int
	if err := tx.StmtContext(ctx, s.wstmts.repositoryExists).QueryRowContext(ctx, repoID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return store.ErrRepositoryNotFound
	}
	return nil
}

// queue puts an item on the review queue, or postpones the queued item to reviewAfter (an
// item is never brought forward).
func (s *Store) queue(ctx context.Context, tx *sql.Tx, d digest.Digest, repoID int64, isManifest bool, reviewAfter int64) error {
	_, err := tx.StmtContext(ctx, s.wstmts.queue).ExecContext(ctx, d.String(), repoID, isManifest, reviewAfter)
	return err
}

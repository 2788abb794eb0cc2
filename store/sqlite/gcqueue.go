package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
)

// TakeGCItems leases up to limit due items (review time passed, no live lease).
// PostgreSQL would select them FOR UPDATE SKIP LOCKED; SQLite serializes writers anyway.
func (s *Store) TakeGCItems(ctx context.Context, limit int, lease time.Duration) ([]store.GCItem, error) {
	if limit <= 0 {
		return nil, nil
	}
	now := s.now().UnixMilli()
	var out []store.GCItem
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE gc_review_queue SET lease_until = $2
			WHERE (is_manifest, repository_id, digest) IN (
				SELECT is_manifest, repository_id, digest FROM gc_review_queue
				WHERE review_after <= $1 AND lease_until <= $1
				ORDER BY review_after LIMIT $3)
			RETURNING digest, repository_id, is_manifest`, now, now+lease.Milliseconds(), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var it store.GCItem
			var d string
			if err := rows.Scan(&d, &it.RepositoryID, &it.Manifest); err != nil {
				return err
			}
			it.Digest = digest.Digest(d)
			out = append(out, it)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return out, nil
}

// verdict is what a review decides about an item.
type verdict int

const (
	verdictGone     verdict = iota // the item or its manifest no longer exists: drop the item
	verdictKeep                    // still referenced: drop the item (it is queued again when that changes)
	verdictPostpone                // a recent link protects a blob: review again later
	verdictDelete                  // unreferenced: delete
)

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// review decides an item at time now (unix ms); for verdictPostpone it also returns when.
func (s *Store) review(ctx context.Context, q querier, it store.GCItem, now int64) (verdict, int64, error) {
	var reviewAfter int64
	err := q.QueryRowContext(ctx, `SELECT review_after FROM gc_review_queue
		WHERE is_manifest = $1 AND repository_id = $2 AND digest = $3`, it.Manifest, it.RepositoryID, it.Digest.String()).Scan(&reviewAfter)
	if isNoRows(err) {
		return verdictGone, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	if reviewAfter > now {
		return verdictPostpone, reviewAfter, nil
	}
	count := func(query string, args ...any) (int, error) {
		var n int
		err := q.QueryRowContext(ctx, query, args...).Scan(&n)
		return n, err
	}
	d := it.Digest.String()
	if !it.Manifest {
		n, err := count(`SELECT
			(SELECT COUNT(*) FROM manifest_references WHERE child_digest = $1) +
			(SELECT COUNT(*) FROM manifests WHERE digest = $1)`, d)
		if err != nil || n > 0 {
			return verdictKeep, 0, err
		}
		var newest sql.NullInt64
		if err := q.QueryRowContext(ctx, `SELECT MAX(linked_at) FROM repository_blobs WHERE digest = $1`, d).Scan(&newest); err != nil {
			return 0, 0, err
		}
		if until := newest.Int64 + s.reviewDelay.Milliseconds(); newest.Valid && until > now {
			return verdictPostpone, until, nil
		}
		return verdictDelete, 0, nil
	}
	var subject sql.NullString
	err = q.QueryRowContext(ctx, `SELECT subject FROM manifests WHERE repository_id = $1 AND digest = $2`, it.RepositoryID, d).Scan(&subject)
	if isNoRows(err) {
		return verdictGone, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	n, err := count(`SELECT
		(SELECT COUNT(*) FROM tags WHERE repository_id = $1 AND digest = $2) +
		(SELECT COUNT(*) FROM manifest_references WHERE child_digest = $2 AND repository_id = $1 AND child_is_manifest = TRUE) +
		(SELECT COUNT(*) FROM manifests WHERE repository_id = $1 AND digest = $3)`, it.RepositoryID, d, subject.String)
	if err != nil || n > 0 {
		return verdictKeep, 0, err
	}
	return verdictDelete, 0, nil
}

// ConfirmGC re-checks an item in one transaction and, when nothing references it, deletes
// its metadata (a blob's remaining old links, or the manifest with its tags and references,
// queueing what the manifest referenced).
func (s *Store) ConfirmGC(ctx context.Context, it store.GCItem) (bool, error) {
	now := s.now().UnixMilli()
	deleted := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		v, until, err := s.review(ctx, tx, it, now)
		if err != nil {
			return err
		}
		key := []any{it.Manifest, it.RepositoryID, it.Digest.String()}
		switch v {
		case verdictGone, verdictKeep:
			_, err = tx.ExecContext(ctx, `DELETE FROM gc_review_queue WHERE is_manifest = $1 AND repository_id = $2 AND digest = $3`, key...)
			return err
		case verdictPostpone:
			_, err = tx.ExecContext(ctx, `UPDATE gc_review_queue SET review_after = $4, lease_until = 0
				WHERE is_manifest = $1 AND repository_id = $2 AND digest = $3`, append(key, until)...)
			return err
		}
		deleted = true
		if it.Manifest {
			return s.deleteManifest(ctx, tx, it.RepositoryID, it.Digest, now)
		}
		for _, q := range []string{
			`DELETE FROM repository_blobs WHERE digest = $1`,
			`DELETE FROM gc_review_queue WHERE is_manifest = FALSE AND repository_id = 0 AND digest = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, it.Digest.String()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	return deleted, nil
}

// ReleaseGC ends the lease on an item so that it can be taken again.
func (s *Store) ReleaseGC(ctx context.Context, it store.GCItem) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE gc_review_queue SET lease_until = 0
			WHERE is_manifest = $1 AND repository_id = $2 AND digest = $3`, it.Manifest, it.RepositoryID, it.Digest.String())
		return err
	})
}

// QueueBlobForReview queues a blob for review after delay, or postpones its queued review.
func (s *Store) QueueBlobForReview(ctx context.Context, d digest.Digest, delay time.Duration) error {
	at := s.now().Add(delay).UnixMilli()
	return s.write(ctx, func(tx *sql.Tx) error { return s.queue(ctx, tx, d, 0, false, at) })
}

// PendingGC lists the due items that ConfirmGC would delete now, changing nothing.
func (s *Store) PendingGC(ctx context.Context, limit int) ([]store.GCItem, error) {
	if s.links.count() > 0 { // the reviews below read the tables
		if err := s.links.apply(ctx); err != nil {
			return nil, err
		}
	}
	now := s.now().UnixMilli()
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT digest, repository_id, is_manifest FROM gc_review_queue
		WHERE review_after <= $1 ORDER BY review_after, digest`, now)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	var due []store.GCItem
	for rows.Next() {
		var it store.GCItem
		var d string
		if err := rows.Scan(&d, &it.RepositoryID, &it.Manifest); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		it.Digest = digest.Digest(d)
		due = append(due, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	var out []store.GCItem
	for _, it := range due {
		if limit > 0 && len(out) >= limit {
			break
		}
		v, _, err := s.review(ctx, tx, it, now)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		if v == verdictDelete {
			out = append(out, it)
		}
	}
	return out, nil
}

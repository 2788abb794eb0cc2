package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/coffer-registry/coffer/store"
)

// CreateUpload records an upload session of an existing repository.
func (s *Store) CreateUpload(ctx context.Context, u store.Upload) error {
	started := u.StartedAt
	if started.IsZero() {
		started = s.now()
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := s.repositoryExists(ctx, tx, u.RepositoryID); err != nil {
			return err
		}
		_, err := tx.StmtContext(ctx, s.wstmts.insertUpload).ExecContext(ctx, u.ID, u.RepositoryID, started.UnixMilli())
		return err
	})
}

// GetUpload returns an upload session.
func (s *Store) GetUpload(ctx context.Context, id string) (store.Upload, error) {
	u := store.Upload{ID: id}
	var started int64
	err := s.stmts.getUpload.QueryRowContext(ctx, id).
		Scan(&u.RepositoryID, &started, &u.Parts, &u.ShortPart)
	if isNoRows(err) {
		return store.Upload{}, store.ErrUploadNotFound
	}
	if err != nil {
		return store.Upload{}, fmt.Errorf("sqlite: %w", err)
	}
	u.StartedAt = millis(started)
	return u, nil
}

// DeleteUpload removes an upload session, or returns ErrUploadNotFound.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.wstmts.deleteUpload).ExecContext(ctx, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrUploadNotFound
		}
		return nil
	})
}

// ListUploads returns the sessions started before the given time, oldest first.
func (s *Store) ListUploads(ctx context.Context, startedBefore time.Time) ([]store.Upload, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, repository_id, started_at FROM uploads WHERE started_at < $1 ORDER BY started_at, id`,
		startedBefore.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer rows.Close()
	var out []store.Upload
	for rows.Next() {
		var u store.Upload
		var started int64
		if err := rows.Scan(&u.ID, &u.RepositoryID, &started); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		u.StartedAt = millis(started)
		out = append(out, u)
	}
	return out, rows.Err()
}

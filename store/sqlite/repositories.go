package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"

	"github.com/coffer-registry/coffer/store"
)

// CreateRepository creates a repository with default settings.
func (s *Store) CreateRepository(ctx context.Context, account, name string) (store.Repository, error) {
	return s.CreateRepositoryWith(ctx, store.Repository{Account: account, Name: name})
}

// GetRepository returns a repository by account and name.
func (s *Store) GetRepository(ctx context.Context, account, name string) (store.Repository, error) {
	repo, err := scanRepository(s.stmts.getRepository.QueryRowContext(ctx, account, name))
	if isNoRows(err) {
		return store.Repository{}, store.ErrRepositoryNotFound
	}
	if err != nil {
		return store.Repository{}, fmt.Errorf("sqlite: %w", err)
	}
	return repo, nil
}

// ListRepositories pages through repositories in (account, name) order.
func (s *Store) ListRepositories(ctx context.Context, afterAccount, afterName string, limit int) ([]store.Repository, error) {
	if limit <= 0 {
		limit = math.MaxInt32
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+repositoryColumns+` FROM repositories
		WHERE account > $1 OR (account = $1 AND name > $2)
		ORDER BY account, name LIMIT $3`, afterAccount, afterName, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer rows.Close()
	var out []store.Repository
	for rows.Next() {
		repo, err := scanRepository(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		out = append(out, repo)
	}
	return out, rows.Err()
}

// DeleteRepository removes a repository with everything in it. The blobs it linked are
// queued for review; its manifests, tags, links and upload sessions go with it.
func (s *Store) DeleteRepository(ctx context.Context, account, name string, force bool) error {
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT id FROM repositories WHERE account = $1 AND name = $2`, account, name).Scan(&id)
		if isNoRows(err) {
			return store.ErrRepositoryNotFound
		}
		if err != nil {
			return err
		}
		if !force {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM manifests WHERE repository_id = $1`, id).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return store.ErrRepositoryNotEmpty
			}
		}
		now := s.now().UnixMilli()
		review := now + s.reviewDelay.Milliseconds()
		// Every blob the repository linked or its manifests referenced gets a review.
		if _, err := tx.ExecContext(ctx, `INSERT INTO gc_review_queue (digest, repository_id, is_manifest, review_after, lease_until)
			SELECT digest, 0, FALSE, $2, 0 FROM repository_blobs WHERE repository_id = $1
			UNION
			SELECT child_digest, 0, FALSE, $2, 0 FROM manifest_references WHERE repository_id = $1 AND child_is_manifest = FALSE
			ON CONFLICT (is_manifest, repository_id, digest) DO UPDATE SET review_after = excluded.review_after
			WHERE gc_review_queue.review_after < excluded.review_after`, id, review); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM gc_review_queue WHERE repository_id = $1 AND is_manifest = TRUE`,
			`DELETE FROM tags WHERE repository_id = $1`,
			`DELETE FROM manifest_references WHERE repository_id = $1`,
			`DELETE FROM manifests WHERE repository_id = $1`,
			`DELETE FROM repository_blobs WHERE repository_id = $1`,
			`DELETE FROM uploads WHERE repository_id = $1`,
			`DELETE FROM repositories WHERE id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.links.forget(id)
	}
	return err
}

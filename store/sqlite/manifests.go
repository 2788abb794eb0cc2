package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"

	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
)

// PutManifest stores a manifest (checking its references) and points tag at it.
func (s *Store) PutManifest(ctx context.Context, repoID int64, m store.Manifest, tag string) error {
	if m.Digest.Validate() != nil {
		return fmt.Errorf("sqlite: invalid manifest digest %q", m.Digest)
	}
	var annotations sql.NullString
	if len(m.Annotations) > 0 {
		b, err := json.Marshal(m.Annotations)
		if err != nil {
			return fmt.Errorf("sqlite: annotations: %w", err)
		}
		annotations = sql.NullString{String: string(b), Valid: true}
	}
	var subject sql.NullString
	if m.Subject != "" {
		subject = sql.NullString{String: m.Subject.String(), Valid: true}
	}
	now := s.now().UnixMilli()
	pushed := now
	if !m.PushedAt.IsZero() {
		pushed = m.PushedAt.UnixMilli()
	}
	review := now + s.reviewDelay.Milliseconds()
	payload := m.Payload
	if payload == nil {
		payload = []byte{}
	}
	size := m.Size
	if size == 0 {
		size = int64(len(m.Payload))
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := s.repositoryExists(ctx, tx, repoID); err != nil {
			return err
		}
		for _, b := range m.Blobs {
			if ok, err := exists(ctx, tx, `SELECT COUNT(*) FROM repository_blobs WHERE repository_id = $1 AND digest = $2`, repoID, b.Digest.String()); err != nil {
				return err
			} else if !ok {
				return &store.MissingReferenceError{Digest: b.Digest}
			}
		}
		for _, c := range m.Manifests {
			if ok, err := exists(ctx, tx, `SELECT COUNT(*) FROM manifests WHERE repository_id = $1 AND digest = $2`, repoID, c.Digest.String()); err != nil {
				return err
			} else if !ok {
				return &store.MissingReferenceError{Digest: c.Digest, Manifest: true}
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO manifests (repository_id, digest, media_type, artifact_type, size, payload, subject, annotations, pushed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (repository_id, digest) DO NOTHING`,
			repoID, m.Digest.String(), m.MediaType, m.ArtifactType, size, payload, subject, annotations, pushed)
		if err != nil {
			return err
		}
		inserted, _ := res.RowsAffected()
		if inserted == 1 {
			pos := 0
			add := func(d store.Descriptor, isManifest bool) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO manifest_references (repository_id, parent_digest, position, child_digest, child_is_manifest, media_type, size)
					VALUES ($1, $2, $3, $4, $5, $6, $7)`, repoID, m.Digest.String(), pos, d.Digest.String(), isManifest, d.MediaType, d.Size)
				pos++
				return err
			}
			for _, b := range m.Blobs {
				if err := add(b, false); err != nil {
					return err
				}
			}
			for _, c := range m.Manifests {
				if err := add(c, true); err != nil {
					return err
				}
			}
		}
		if tag == "" {
			if inserted == 1 {
				// Untagged from the start (an index child, a referrer, a push by digest).
				return s.queue(ctx, tx, m.Digest, repoID, true, review)
			}
			return nil
		}
		var old string
		err = tx.QueryRowContext(ctx, `SELECT digest FROM tags WHERE repository_id = $1 AND name = $2`, repoID, tag).Scan(&old)
		if err != nil && !isNoRows(err) {
			return err
		}
		if old != "" && old != m.Digest.String() {
			if immutable, err := tagImmutable(ctx, tx, repoID, tag); err != nil {
				return err
			} else if immutable {
				return &store.TagImmutableError{Tag: tag}
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tags (repository_id, name, digest, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
			repoID, tag, m.Digest.String(), now); err != nil {
			return err
		}
		if old != "" && old != m.Digest.String() {
			return s.queue(ctx, tx, digest.Digest(old), repoID, true, review)
		}
		return nil
	})
}

func exists(ctx context.Context, tx *sql.Tx, query string, args ...any) (bool, error) {
	var n int
	if err := tx.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

type rowScanner interface{ Scan(dest ...any) error }

// scanManifest reads manifestColumns. Blobs and Manifests stay empty: the payload has them.
func scanManifest(row rowScanner) (store.Manifest, error) {
	var m store.Manifest
	var d string
	var subject, annotations sql.NullString
	var pushed int64
	var pulled sql.NullInt64
	if err := row.Scan(&d, &m.MediaType, &m.ArtifactType, &m.Size, &m.Payload, &subject, &annotations, &pushed, &pulled); err != nil {
		return store.Manifest{}, err
	}
	m.Digest = digest.Digest(d)
	m.Subject = digest.Digest(subject.String)
	if annotations.Valid {
		if err := json.Unmarshal([]byte(annotations.String), &m.Annotations); err != nil {
			return store.Manifest{}, fmt.Errorf("annotations of %s: %w", d, err)
		}
	}
	m.PushedAt = millis(pushed)
	m.LastPulledAt = nullMillis(pulled)
	return m, nil
}

// GetManifest returns a manifest by digest.
func (s *Store) GetManifest(ctx context.Context, repoID int64, d digest.Digest) (store.Manifest, error) {
	m, err := scanManifest(s.stmts.getManifest.QueryRowContext(ctx, repoID, d.String()))
	if isNoRows(err) {
		return store.Manifest{}, store.ErrManifestNotFound
	}
	if err != nil {
		return store.Manifest{}, fmt.Errorf("sqlite: %w", err)
	}
	s.pulls.overlay(repoID, &m)
	return m, nil
}

// ResolveTag returns the manifest a tag points at, in one indexed query.
func (s *Store) ResolveTag(ctx context.Context, repoID int64, tag string) (store.Manifest, error) {
	m, err := scanManifest(s.stmts.resolveTag.QueryRowContext(ctx, repoID, tag))
	if isNoRows(err) {
		return store.Manifest{}, store.ErrTagNotFound
	}
	if err != nil {
		return store.Manifest{}, fmt.Errorf("sqlite: %w", err)
	}
	s.pulls.overlay(repoID, &m)
	return m, nil
}

// ListTags returns tag names in lexical order after last.
func (s *Store) ListTags(ctx context.Context, repoID int64, last string, limit int) ([]string, error) {
	if limit <= 0 {
		limit = math.MaxInt32
	}
	rows, err := s.r.QueryContext(ctx, `SELECT name FROM tags WHERE repository_id = $1 AND name > $2 ORDER BY name LIMIT $3`,
		repoID, last, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// DeleteTag removes a tag and queues its manifest for review.
func (s *Store) DeleteTag(ctx context.Context, repoID int64, tag string) error {
	now := s.now().UnixMilli()
	return s.write(ctx, func(tx *sql.Tx) error {
		var d string
		err := tx.QueryRowContext(ctx, `SELECT digest FROM tags WHERE repository_id = $1 AND name = $2`, repoID, tag).Scan(&d)
		if isNoRows(err) {
			return store.ErrTagNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE repository_id = $1 AND name = $2`, repoID, tag); err != nil {
			return err
		}
		return s.queue(ctx, tx, digest.Digest(d), repoID, true, now+s.reviewDelay.Milliseconds())
	})
}

// DeleteManifest removes a manifest that no index of the repository lists, with its tags.
func (s *Store) DeleteManifest(ctx context.Context, repoID int64, d digest.Digest) error {
	now := s.now().UnixMilli()
	return s.write(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, `SELECT COUNT(*) FROM manifests WHERE repository_id = $1 AND digest = $2`, repoID, d.String())
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrManifestNotFound
		}
		if err := s.deleteManifest(ctx, tx, repoID, d, now); err != nil {
			return err
		}
		return nil
	})
}

// deleteManifest removes an existing manifest unless an index of the repository lists it
// (store.ErrManifestReferenced). What it referenced, and its referrers, are queued for review.
func (s *Store) deleteManifest(ctx context.Context, tx *sql.Tx, repoID int64, d digest.Digest, now int64) error {
	listed, err := exists(ctx, tx, `SELECT COUNT(*) FROM manifest_references
		WHERE child_digest = $2 AND repository_id = $1 AND child_is_manifest = TRUE`, repoID, d.String())
	if err != nil {
		return err
	}
	if listed {
		return store.ErrManifestReferenced
	}
	review := now + s.reviewDelay.Milliseconds()
	if _, err := tx.ExecContext(ctx, `INSERT INTO gc_review_queue (digest, repository_id, is_manifest, review_after, lease_until)
		SELECT child_digest, CASE WHEN child_is_manifest THEN repository_id ELSE 0 END, child_is_manifest, $3, 0
		FROM manifest_references WHERE repository_id = $1 AND parent_digest = $2
		UNION
		SELECT digest, repository_id, TRUE, $3, 0 FROM manifests WHERE repository_id = $1 AND subject = $2
		ON CONFLICT (is_manifest, repository_id, digest) DO UPDATE SET review_after = excluded.review_after
		WHERE gc_review_queue.review_after < excluded.review_after`, repoID, d.String(), review); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM tags WHERE repository_id = $1 AND digest = $2`,
		`DELETE FROM manifest_references WHERE repository_id = $1 AND parent_digest = $2`,
		`DELETE FROM manifests WHERE repository_id = $1 AND digest = $2`,
		`DELETE FROM gc_review_queue WHERE is_manifest = TRUE AND repository_id = $1 AND digest = $2`,
	} {
		if _, err := tx.ExecContext(ctx, q, repoID, d.String()); err != nil {
			return err
		}
	}
	return nil
}

// Referrers lists the manifests whose subject is d, ordered by digest.
func (s *Store) Referrers(ctx context.Context, repoID int64, d digest.Digest, artifactType string) ([]store.Manifest, error) {
	q := `SELECT ` + manifestColumns + ` FROM manifests m WHERE m.repository_id = $1 AND m.subject = $2`
	args := []any{repoID, d.String()}
	if artifactType != "" {
		q += ` AND m.artifact_type = $3`
		args = append(args, artifactType)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY m.digest`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer rows.Close()
	var out []store.Manifest
	for rows.Next() {
		m, err := scanManifest(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		s.pulls.overlay(repoID, &m)
		out = append(out, m)
	}
	return out, rows.Err()
}

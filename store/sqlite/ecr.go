package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
)

// repositoryColumns are the columns scanRepository reads, in its order.
const repositoryColumns = `id, account, name, created_at, tag_mutability, tag_mutability_exclusions, scan_on_push,
	encryption_type, kms_key, tags, policy`

func scanRepository(row rowScanner) (store.Repository, error) {
	var r store.Repository
	var created int64
	var exclusions, tags string
	if err := row.Scan(&r.ID, &r.Account, &r.Name, &created, &r.Settings.TagMutability, &exclusions, &r.Settings.ScanOnPush,
		&r.Settings.EncryptionType, &r.Settings.KMSKey, &tags, &r.Policy); err != nil {
		return store.Repository{}, err
	}
	r.CreatedAt = millis(created)
	if err := json.Unmarshal([]byte(exclusions), &r.Settings.TagMutabilityExclusions); err != nil {
		return store.Repository{}, fmt.Errorf("sqlite: exclusion filters of %s: %w", r.Name, err)
	}
	if len(r.Settings.TagMutabilityExclusions) == 0 {
		r.Settings.TagMutabilityExclusions = nil
	}
	if err := json.Unmarshal([]byte(tags), &r.Tags); err != nil {
		return store.Repository{}, fmt.Errorf("sqlite: tags of %s: %w", r.Name, err)
	}
	if len(r.Tags) == 0 {
		r.Tags = nil
	}
	return r, nil
}

// settingsValues are the values of the setting columns, in repositoryColumns' order after created_at.
func settingsValues(r store.Repository) ([]any, error) {
	st := r.Settings
	if st.TagMutability == "" {
		st.TagMutability = store.TagMutable
	}
	if st.EncryptionType == "" {
		st.EncryptionType = "AES256"
	}
	exclusions := st.TagMutabilityExclusions
	if exclusions == nil {
		exclusions = []string{}
	}
	ex, err := json.Marshal(exclusions)
	if err != nil {
		return nil, err
	}
	tags := r.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	tg, err := json.Marshal(tags)
	if err != nil {
		return nil, err
	}
	return []any{st.TagMutability, string(ex), st.ScanOnPush, st.EncryptionType, st.KMSKey, string(tg), r.Policy}, nil
}

// CountRepositories counts an account's repositories.
func (s *Store) CountRepositories(ctx context.Context, account string) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM repositories WHERE account = $1`, account).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	return n, nil
}

// CreateRepositoryWith creates a repository with its settings, tags and policy. Ids come
// from the sequences table and are never reused.
func (s *Store) CreateRepositoryWith(ctx context.Context, r store.Repository) (store.Repository, error) {
	if r.Account == "" || r.Name == "" {
		return store.Repository{}, fmt.Errorf("sqlite: repository account and name must not be empty")
	}
	values, err := settingsValues(r)
	if err != nil {
		return store.Repository{}, err
	}
	var out store.Repository
	err = s.write(ctx, func(tx *sql.Tx) error {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM repositories WHERE account = $1 AND name = $2`,
			r.Account, r.Name).Scan(&exists); err != nil {
			return err
		}
		if exists > 0 {
			return store.ErrRepositoryExists
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `UPDATE sequences SET value = value + 1 WHERE name = 'repositories' RETURNING value`).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO repositories (id, account, name, created_at, tag_mutability, tag_mutability_exclusions,
			scan_on_push, encryption_type, kms_key, tags, policy) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			append([]any{id, r.Account, r.Name, s.now().UnixMilli()}, values...)...); err != nil {
			return err
		}
		out, err = s.repositoryByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return store.Repository{}, err
	}
	return out, nil
}

func (s *Store) repositoryByID(ctx context.Context, q querier, id int64) (store.Repository, error) {
	r, err := scanRepository(q.QueryRowContext(ctx, `SELECT `+repositoryColumns+` FROM repositories WHERE id = $1`, id))
	if isNoRows(err) {
		return store.Repository{}, store.ErrRepositoryNotFound
	}
	if err != nil {
		return store.Repository{}, fmt.Errorf("sqlite: %w", err)
	}
	return r, nil
}

// UpdateRepository changes a repository's settings, tags and policy in one transaction.
func (s *Store) UpdateRepository(ctx context.Context, id int64, fn func(r *store.Repository) error) (store.Repository, error) {
	var out store.Repository
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := s.repositoryByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.Tags == nil {
			r.Tags = map[string]string{}
		}
		if err := fn(&r); err != nil {
			return err
		}
		values, err := settingsValues(r)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE repositories SET tag_mutability = $2, tag_mutability_exclusions = $3, scan_on_push = $4,
			encryption_type = $5, kms_key = $6, tags = $7, policy = $8 WHERE id = $1`, append([]any{id}, values...)...); err != nil {
			return err
		}
		out, err = s.repositoryByID(ctx, tx, id)
		return err
	})
	return out, err
}

// RegistryPolicy returns an account's registry policy, or ErrPolicyNotFound.
func (s *Store) RegistryPolicy(ctx context.Context, account string) (string, error) {
	var text string
	err := s.r.QueryRowContext(ctx, `SELECT policy FROM registry_policies WHERE account = $1`, account).Scan(&text)
	if isNoRows(err) {
		return "", store.ErrPolicyNotFound
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: %w", err)
	}
	return text, nil
}

// PutRegistryPolicy sets an account's registry policy.
func (s *Store) PutRegistryPolicy(ctx context.Context, account, text string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO registry_policies (account, policy, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (account) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`, account, text, s.now().UnixMilli())
		return err
	})
}

// DeleteRegistryPolicy removes an account's registry policy and returns it.
func (s *Store) DeleteRegistryPolicy(ctx context.Context, account string) (string, error) {
	var text string
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT policy FROM registry_policies WHERE account = $1`, account).Scan(&text)
		if isNoRows(err) {
			return store.ErrPolicyNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM registry_policies WHERE account = $1`, account)
		return err
	})
	return text, err
}

const imageColumns = `m.digest, m.media_type, m.artifact_type, m.subject, m.pushed_at, m.last_pulled_at`

// Images lists a repository's images in digest order with their tags and sizes.
func (s *Store) Images(ctx context.Context, repoID int64, q store.ImageQuery) ([]store.Image, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = math.MaxInt32
	}
	filter := ""
	switch q.TagStatus {
	case "TAGGED":
		filter = ` AND EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)`
	case "UNTAGGED":
		filter = ` AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)`
	case "":
	default:
		return nil, fmt.Errorf("sqlite: unknown tag status %q", q.TagStatus)
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+imageColumns+` FROM manifests m
		WHERE m.repository_id = $1 AND m.digest >= $2`+filter+` ORDER BY m.digest LIMIT $3`, repoID, q.From.String(), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	var out []store.Image
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		out = append(out, img)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	for i := range out {
		if err := imageFacts(ctx, tx, repoID, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Image describes one image, or returns ErrManifestNotFound.
func (s *Store) Image(ctx context.Context, repoID int64, d digest.Digest) (store.Image, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.Image{}, fmt.Errorf("sqlite: %w", err)
	}
	defer tx.Rollback()
	img, err := scanImage(tx.QueryRowContext(ctx, `SELECT `+imageColumns+` FROM manifests m WHERE m.repository_id = $1 AND m.digest = $2`,
		repoID, d.String()))
	if isNoRows(err) {
		return store.Image{}, store.ErrManifestNotFound
	}
	if err != nil {
		return store.Image{}, fmt.Errorf("sqlite: %w", err)
	}
	return img, imageFacts(ctx, tx, repoID, &img)
}

func scanImage(row rowScanner) (store.Image, error) {
	var img store.Image
	var d string
	var subject sql.NullString
	var pushed int64
	var pulled sql.NullInt64
	if err := row.Scan(&d, &img.MediaType, &img.ArtifactType, &subject, &pushed, &pulled); err != nil {
		return store.Image{}, err
	}
	img.Digest, img.Subject = digest.Digest(d), digest.Digest(subject.String)
	img.PushedAt, img.LastPulledAt = millis(pushed), nullMillis(pulled)
	return img, nil
}

// imageFacts adds an image's tags and size.
func imageFacts(ctx context.Context, tx *sql.Tx, repoID int64, img *store.Image) error {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM tags WHERE repository_id = $1 AND digest = $2 ORDER BY name`, repoID, img.Digest.String())
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	for rows.Next() {
		var tag string
		if err := rows.Scan(&tag); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: %w", err)
		}
		img.Tags = append(img.Tags, tag)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	slices.Sort(img.Tags)
	size, err := layerSize(ctx, tx, repoID, img.Digest.String())
	if err != nil {
		return err
	}
	// An index is as large as its largest image.
	children, err := tx.QueryContext(ctx, `SELECT child_digest FROM manifest_references
		WHERE repository_id = $1 AND parent_digest = $2 AND child_is_manifest = TRUE`, repoID, img.Digest.String())
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	var kids []string
	for children.Next() {
		var c string
		if err := children.Scan(&c); err != nil {
			children.Close()
			return fmt.Errorf("sqlite: %w", err)
		}
		kids = append(kids, c)
	}
	children.Close()
	for _, c := range kids {
		cs, err := layerSize(ctx, tx, repoID, c)
		if err != nil {
			return err
		}
		size = max(size, cs)
	}
	img.Size = size
	return nil
}

// layerSize sums the blobs an image manifest lists after its config (position 0).
func layerSize(ctx context.Context, tx *sql.Tx, repoID int64, d string) (int64, error) {
	var size sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT SUM(size) FROM manifest_references
		WHERE repository_id = $1 AND parent_digest = $2 AND child_is_manifest = FALSE AND position > 0`, repoID, d).Scan(&size)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	return size.Int64, nil
}

// NoteUploadPart records one part of an ECR layer upload: a part smaller than minPartSize
// followed by another one marks the upload (Upload.ShortPart).
func (s *Store) NoteUploadPart(ctx context.Context, id string, size, minPartSize int64) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE uploads SET
			short_part = (short_part OR (parts > 0 AND last_part_size < $2)),
			parts = parts + 1, last_part_size = $3 WHERE id = $1`, id, minPartSize, size)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrUploadNotFound
		}
		return nil
	})
}

// tagImmutable reads whether the repository's settings forbid moving tag.
func tagImmutable(ctx context.Context, tx *sql.Tx, repoID int64, tag string) (bool, error) {
	var st store.RepositorySettings
	var exclusions string
	if err := tx.QueryRowContext(ctx, `SELECT tag_mutability, tag_mutability_exclusions FROM repositories WHERE id = $1`, repoID).
		Scan(&st.TagMutability, &exclusions); err != nil {
		return false, err
	}
	if st.TagMutability == store.TagMutable {
		return false, nil
	}
	if err := json.Unmarshal([]byte(exclusions), &st.TagMutabilityExclusions); err != nil {
		return false, fmt.Errorf("sqlite: exclusion filters: %w", err)
	}
	return st.TagImmutable(tag), nil
}

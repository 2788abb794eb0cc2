package iamsql

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-registry/coffer/iam"
)

// keyUseInterval is how often a key's last use is written; AWS reports it at coarse granularity too.
const keyUseInterval = time.Minute

// principalOwner resolves a user name ("" = root) to its entity id ("" for root).
func principalOwner(ctx context.Context, q querier, account, userName string) (string, error) {
	if userName == "" {
		return "", requireAccount(ctx, q, account)
	}
	e, err := loadEntity(ctx, q, iam.EntityRef{Account: account, Kind: iam.KindUser, Name: userName})
	if err != nil {
		return "", err
	}
	return e.id, nil
}

// CreateAccessKey issues a long-term key for a user, or for the root user when userName is "".
// The secret is returned here once and kept only encrypted.
func (s *Service) CreateAccessKey(ctx context.Context, account, userName string) (*iam.NewAccessKey, error) {
	var out *iam.NewAccessKey
	err := s.write(ctx, func(tx *sql.Tx) error {
		owner, err := principalOwner(ctx, tx, account, userName)
		if err != nil {
			return err
		}
		out, err = s.insertAccessKey(ctx, tx, account, owner, canonicalName(ctx, tx, owner, userName))
		return err
	})
	return out, err
}

func (s *Service) insertAccessKey(ctx context.Context, tx *sql.Tx, account, ownerID, userName string) (*iam.NewAccessKey, error) {
	n, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_access_keys WHERE account_id = $1 AND user_id = $2`, account, ownerID)
	if err != nil {
		return nil, err
	}
	if n >= iam.MaxAccessKeysPerUser {
		return nil, iam.LimitExceeded("Cannot exceed quota for AccessKeysPerUser: %d", iam.MaxAccessKeysPerUser)
	}
	k := &iam.NewAccessKey{
		AccessKey: iam.AccessKey{AccountID: account, ID: iam.NewID(iam.PrefixAccessKey), UserName: userName,
			Status: iam.StatusActive, CreatedAt: fromMS(s.nowMS())},
		Secret: iam.NewSecretAccessKey(),
	}
	sealed := s.seal(k.Secret, k.ID)
	_, err = tx.ExecContext(ctx, `INSERT INTO iam_access_keys (id, account_id, user_id, secret_sealed, status, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, k.ID, account, ownerID, sealed, k.Status, ms(k.CreatedAt))
	return k, err
}

func (s *Service) seal(secret, boundTo string) string {
	return base64.StdEncoding.EncodeToString(s.sealer.Seal([]byte(secret), []byte(boundTo)))
}

func (s *Service) unseal(sealed, boundTo string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return nil, err
	}
	return s.sealer.Open(raw, []byte(boundTo))
}

const accessKeyColumns = `k.id, k.account_id, k.status, k.created_at, k.last_used_at, k.last_used_service, k.last_used_region`

func scanAccessKey(row scanner, userName string) (iam.AccessKey, error) {
	k := iam.AccessKey{UserName: userName}
	var created, used int64
	err := row.Scan(&k.ID, &k.AccountID, &k.Status, &created, &used, &k.LastUsed.Service, &k.LastUsed.Region)
	k.CreatedAt, k.LastUsed.At = fromMS(created), fromMS(used)
	return k, err
}

// ListAccessKeys lists a user's (or root's, for "") keys without secrets.
func (s *Service) ListAccessKeys(ctx context.Context, account, userName string) ([]iam.AccessKey, error) {
	var out []iam.AccessKey
	err := s.read(ctx, func(tx *sql.Tx) error {
		owner, err := principalOwner(ctx, tx, account, userName)
		if err != nil {
			return err
		}
		name := canonicalName(ctx, tx, owner, userName) // one lookup serves every key
		out, err = queryAll(ctx, tx, func(row scanner) (iam.AccessKey, error) { return scanAccessKey(row, name) },
			`SELECT `+accessKeyColumns+` FROM iam_access_keys k
			WHERE k.account_id = $1 AND k.user_id = $2 ORDER BY k.created_at, k.id`, account, owner)
		return err
	})
	return out, err
}

// canonicalName returns the stored spelling of a user's name.
func canonicalName(ctx context.Context, q querier, ownerID, given string) string {
	if ownerID == "" {
		return ""
	}
	if e, err := loadEntityByID(ctx, q, ownerID); err == nil && e != nil {
		return e.name
	}
	return given
}

// ownedKey checks that key id belongs to the named user (or root) and returns the owner id.
func ownedKey(ctx context.Context, q querier, account, userName, id string) (string, error) {
	owner, err := principalOwner(ctx, q, account, userName)
	if err != nil {
		return "", err
	}
	n, err := count(ctx, q, `SELECT COUNT(*) FROM iam_access_keys WHERE id = $1 AND account_id = $2 AND user_id = $3`, id, account, owner)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", iam.ErrNoSuchAccessKey(id)
	}
	return owner, nil
}

// UpdateAccessKey sets a key Active or Inactive.
func (s *Service) UpdateAccessKey(ctx context.Context, account, userName, id, status string) error {
	var v iam.Validation
	v.Enum("status", status, iam.StatusActive, iam.StatusInactive)
	if err := v.Err(); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := ownedKey(ctx, tx, account, userName, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE iam_access_keys SET status = $1 WHERE id = $2`, status, id)
		return err
	})
}

// DeleteAccessKey removes a key.
func (s *Service) DeleteAccessKey(ctx context.Context, account, userName, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := ownedKey(ctx, tx, account, userName, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM iam_access_keys WHERE id = $1`, id)
		return err
	})
}

// AccessKeyLastUsed answers GetAccessKeyLastUsed: the owning user ("" for root) and the last use.
func (s *Service) AccessKeyLastUsed(ctx context.Context, id string) (account, userName string, use iam.AccessKeyUse, err error) {
	var owner string
	var used int64
	err = s.reader.QueryRowContext(ctx, `SELECT account_id, user_id, last_used_at, last_used_service, last_used_region
		FROM iam_access_keys WHERE id = $1`, id).Scan(&account, &owner, &used, &use.Service, &use.Region)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", use, iam.ErrNoSuchAccessKey(id)
	}
	if err != nil {
		return "", "", use, err
	}
	use.At = fromMS(used)
	return account, canonicalName(ctx, s.reader, owner, ""), use, nil
}

// RecordAccessKeyUse notes that a long-term key signed a request. Writes are coalesced to one per key
// per minute and do not move the generation (they change nothing authorization depends on).
func (s *Service) RecordAccessKeyUse(ctx context.Context, id, service, region string) error {
	if iam.IsTemporaryAccessKeyID(id) {
		return nil
	}
	now := s.now()
	if last, ok := s.keyUse.Load(id); ok && now.Sub(last.(time.Time)) < keyUseInterval {
		return nil
	}
	s.keyUse.Store(id, now)
	return inTx(ctx, s.writer, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE iam_access_keys SET last_used_at = $1, last_used_service = $2, last_used_region = $3 WHERE id = $4`,
			now.UnixMilli(), service, region, id)
		return err
	})
}

// LookupCredential is request authentication's question: for an access key id, the secret, the
// principal and whether the credential may be used. Unknown ids answer NoSuchEntity. Results are
// immutable and cached until the next write; callers check Active, Expired(now) and TokenMatches.
func (s *Service) LookupCredential(ctx context.Context, id string) (*iam.Credential, error) {
	gen := s.Generation()
	if c, ok := s.creds.Load(id); ok && c.(*iam.Credential).Generation == gen {
		return c.(*iam.Credential), nil
	}
	var c *iam.Credential
	var err error
	if iam.IsTemporaryAccessKeyID(id) {
		c, err = s.lookupSession(ctx, id)
	} else {
		c, err = s.lookupAccessKey(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	c.Generation = gen
	s.creds.Store(id, c)
	return c, nil
}

func (s *Service) lookupAccessKey(ctx context.Context, id string) (*iam.Credential, error) {
	var c *iam.Credential
	err := s.read(ctx, func(tx *sql.Tx) error {
		var account, owner, sealed, status string
		err := tx.QueryRowContext(ctx, `SELECT account_id, user_id, secret_sealed, status FROM iam_access_keys WHERE id = $1`, id).
			Scan(&account, &owner, &sealed, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return iam.ErrNoSuchAccessKey(id)
		}
		if err != nil {
			return err
		}
		secret, err := s.unseal(sealed, id)
		if err != nil {
			return err
		}
		p, err := longTermPrincipal(ctx, tx, account, owner)
		if err != nil {
			return err
		}
		p.AccessKeyID = id
		c = &iam.Credential{AccessKeyID: id, SecretAccessKey: string(secret), Active: status == iam.StatusActive, Principal: p}
		return nil
	})
	return c, err
}

// longTermPrincipal builds the principal of a user id, or of the account's root for "".
func longTermPrincipal(ctx context.Context, q querier, account, ownerID string) (*iam.Principal, error) {
	var org string
	if err := q.QueryRowContext(ctx, `SELECT org_id FROM iam_accounts WHERE id = $1`, account).Scan(&org); err != nil {
		return nil, err
	}
	if ownerID == "" {
		return &iam.Principal{Type: iam.PrincipalRoot, AccountID: account, OrgID: org, ARN: iam.RootARN(account), UserID: account}, nil
	}
	e, err := loadEntityByID(ctx, q, ownerID)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, fmt.Errorf("iamsql: access key owner %s is gone", ownerID)
	}
	tags, err := loadTags(ctx, q, e.id)
	if err != nil {
		return nil, err
	}
	return &iam.Principal{Type: iam.PrincipalUser, AccountID: account, OrgID: org, ARN: e.arn(), UserID: e.id, UserName: e.name, Tags: tags}, nil
}

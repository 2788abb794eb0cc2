package iamsql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-registry/coffer/iam"
)

// Durations of GetSessionToken credentials, in seconds.
const (
	defaultUserSessionDuration = 43200
	maxUserSessionDuration     = 129600
	maxRootSessionDuration     = 3600
	roleChainingMaxDuration    = 3600
	maxSessionPolicyARNs       = 10
	maxSessionTags             = 50
)

// AssumeRole issues role-session credentials. Whether the caller may assume the role (trust policy,
// identity policy, MFA, external id) is decided by the caller of this method before it is called.
func (s *Service) AssumeRole(ctx context.Context, in iam.AssumeRoleInput) (*iam.Session, error) {
	chained := in.Caller != nil && in.Caller.Type == iam.PrincipalAssumedRole
	if in.DurationSeconds == 0 {
		in.DurationSeconds = iam.DefaultSessionDuration
	}
	var v iam.Validation
	v.Length("roleArn", in.RoleARN, 20, 2048)
	v.SessionName("roleSessionName", in.SessionName)
	if in.DurationSeconds < iam.MinSessionDuration {
		return nil, &iam.Error{Code: iam.CodeValidationError, Message: fmt.Sprintf(
			"1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d",
			in.DurationSeconds, iam.MinSessionDuration)}
	}
	if in.Policy != "" {
		v.Length("policy", in.Policy, 1, iam.MaxSessionPolicySize)
	}
	if len(in.PolicyARNs) > maxSessionPolicyARNs {
		return nil, &iam.Error{Code: iam.CodeValidationError, Message: fmt.Sprintf(
			"1 validation error detected: Value '%v' at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to %d",
			in.PolicyARNs, maxSessionPolicyARNs)}
	}
	v.Tags("tags", in.Tags)
	if in.SourceIdentity != "" {
		v.Length("sourceIdentity", in.SourceIdentity, 2, 64)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := iam.CheckTagKeysUnique(in.Tags); err != nil {
		return nil, err
	}
	if strings.HasPrefix(strings.ToLower(in.SourceIdentity), "aws:") {
		return nil, &iam.Error{Code: iam.CodeValidationError, Message: "SourceIdentity cannot start with the prefix 'aws:'."}
	}
	for _, arn := range in.PolicyARNs {
		if _, ok := iam.ParsePolicyARN(arn); !ok {
			return nil, &iam.Error{Code: iam.CodeValidationError, Message: fmt.Sprintf("Policy ARN %s is not valid.", arn)}
		}
	}
	if in.Policy != "" {
		if err := s.checkPolicy("policy", in.Policy, iam.PolicySession); err != nil {
			return nil, err
		}
	}
	res, ok := iam.ParseIAMARN(in.RoleARN)
	if !ok || res.Type != "role" || res.Account == iam.AWSManagedAccount {
		return nil, &iam.Error{Code: iam.CodeValidationError, Message: fmt.Sprintf("%s is invalid", in.RoleARN)}
	}
	var out *iam.Session
	err := s.writeAdditive(ctx, func(tx *sql.Tx) error {
		role, err := loadEntity(ctx, tx, iam.EntityRef{Account: res.Account, Kind: iam.KindRole, Name: res.Name})
		if err != nil {
			return err
		}
		if role.arn() != in.RoleARN {
			return iam.ErrNoSuchRole(res.Name)
		}
		if chained && in.DurationSeconds > roleChainingMaxDuration {
			return &iam.Error{Code: iam.CodeValidationError, Message: "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."}
		}
		if in.DurationSeconds > role.maxSession {
			return &iam.Error{Code: iam.CodeValidationError, Message: "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."}
		}
		roleTags, err := loadTags(ctx, tx, role.id)
		if err != nil {
			return err
		}
		var org string
		if err := tx.QueryRowContext(ctx, `SELECT org_id FROM iam_accounts WHERE id = $1`, role.account).Scan(&org); err != nil {
			return err
		}
		p := iam.Principal{
			Type: iam.PrincipalAssumedRole, AccountID: role.account, OrgID: org,
			ARN:    iam.AssumedRoleARN(role.account, role.name, in.SessionName),
			UserID: role.id + ":" + in.SessionName, RoleName: role.name, RoleARN: role.arn(), RoleID: role.id,
			SessionName: in.SessionName, Temporary: true, MFAAuthTime: in.MFAAuthTime, SourceIdentity: in.SourceIdentity,
		}
		tags := overlayTags(nil, roleTags)
		transitive := append([]string(nil), in.TransitiveTagKeys...)
		if in.Caller != nil {
			if p.MFAAuthTime.IsZero() {
				p.MFAAuthTime = in.Caller.MFAAuthTime
			}
			if p.SourceIdentity == "" {
				p.SourceIdentity = in.Caller.SourceIdentity
			}
			if chained {
				carried := carriedTags(in.Caller)
				tags = overlayTags(tags, carried)
				transitive = append(transitive, in.Caller.TransitiveTagKeys...)
			}
		}
		p.Tags = overlayTags(tags, in.Tags)
		p.TransitiveTagKeys = transitive
		out, err = s.insertSession(ctx, tx, role.account, role.id, p, in.DurationSeconds, in.Policy, in.PolicyARNs)
		return err
	})
	return out, err
}

// carriedTags are a role session's tags whose keys are transitive.
func carriedTags(p *iam.Principal) []iam.Tag {
	var out []iam.Tag
	for _, t := range p.Tags {
		for _, k := range p.TransitiveTagKeys {
			if strings.EqualFold(t.Key, k) {
				out = append(out, t)
			}
		}
	}
	return out
}

// overlayTags returns base with top's tags added, top winning on keys equal without case.
func overlayTags(base, top []iam.Tag) []iam.Tag {
	out := append([]iam.Tag(nil), base...)
	for _, t := range top {
		replaced := false
		for i := range out {
			if strings.EqualFold(out[i].Key, t.Key) {
				out[i] = t
				replaced = true
			}
		}
		if !replaced {
			out = append(out, t)
		}
	}
	return sortedTags(out)
}

// GetSessionToken issues temporary credentials for a user or the root user, recording MFA if used.
func (s *Service) GetSessionToken(ctx context.Context, in iam.SessionTokenInput) (*iam.Session, error) {
	if in.DurationSeconds == 0 {
		in.DurationSeconds = defaultUserSessionDuration
		if in.UserName == "" {
			in.DurationSeconds = maxRootSessionDuration
		}
	}
	max := maxUserSessionDuration
	if in.UserName == "" {
		max = maxRootSessionDuration
	}
	if in.DurationSeconds < iam.MinSessionDuration || in.DurationSeconds > max {
		return nil, &iam.Error{Code: iam.CodeValidationError, Message: fmt.Sprintf(
			"1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value between %d and %d",
			in.DurationSeconds, iam.MinSessionDuration, max)}
	}
	var out *iam.Session
	err := s.writeAdditive(ctx, func(tx *sql.Tx) error {
		owner, err := principalOwner(ctx, tx, in.Account, in.UserName)
		if err != nil {
			return err
		}
		p, err := longTermPrincipal(ctx, tx, in.Account, owner)
		if err != nil {
			return err
		}
		p.Temporary = true
		p.MFAAuthTime = in.MFAAuthTime
		out, err = s.insertSession(ctx, tx, in.Account, owner, *p, in.DurationSeconds, "", nil)
		return err
	})
	return out, err
}

func (s *Service) insertSession(ctx context.Context, tx *sql.Tx, account, ownerID string, p iam.Principal, seconds int, policy string, policyARNs []string) (*iam.Session, error) {
	now := fromMS(s.nowMS())
	sess := &iam.Session{
		AccessKeyID:     iam.NewID(iam.PrefixTemporaryKey),
		SecretAccessKey: iam.NewSecretAccessKey(),
		SessionToken:    iam.NewSessionToken(),
		CreatedAt:       now,
		Expiration:      now.Add(time.Duration(seconds) * time.Second),
		PolicyDocument:  policy,
		PolicyARNs:      append([]string(nil), policyARNs...),
	}
	p.AccessKeyID = sess.AccessKeyID
	p.TokenIssueTime = now
	sess.Principal = p
	principalJSON, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	arnsJSON, err := json.Marshal(sess.PolicyARNs)
	if err != nil {
		return nil, err
	}
	hash := iam.HashToken(sess.SessionToken)
	_, err = tx.ExecContext(ctx, `INSERT INTO iam_sessions (access_key_id, account_id, owner_id, principal_json, secret_sealed,
		token_hash, policy, policy_arns, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		sess.AccessKeyID, account, ownerID, string(principalJSON), s.seal(sess.SecretAccessKey, sess.AccessKeyID),
		hex.EncodeToString(hash[:]), policy, string(arnsJSON), ms(now), ms(sess.Expiration))
	return sess, err
}

type sessionRow struct {
	account, owner, policy string
	principal              iam.Principal
	policyARNs             []string
	sealed, tokenHash      string
	created, expires       int64
}

func loadSession(ctx context.Context, q querier, id string) (*sessionRow, error) {
	var r sessionRow
	var principalJSON, arnsJSON string
	err := q.QueryRowContext(ctx, `SELECT account_id, owner_id, principal_json, secret_sealed, token_hash, policy, policy_arns,
		created_at, expires_at FROM iam_sessions WHERE access_key_id = $1`, id).
		Scan(&r.account, &r.owner, &principalJSON, &r.sealed, &r.tokenHash, &r.policy, &arnsJSON, &r.created, &r.expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, iam.ErrNoSuchAccessKey(id)
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(principalJSON), &r.principal); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(arnsJSON), &r.policyARNs); err != nil {
		return nil, err
	}
	return &r, nil
}

func (s *Service) lookupSession(ctx context.Context, id string) (*iam.Credential, error) {
	r, err := loadSession(ctx, s.reader, id)
	if err != nil {
		return nil, err
	}
	secret, err := s.unseal(r.sealed, id)
	if err != nil {
		return nil, err
	}
	var hash [sha256.Size]byte
	if b, err := hex.DecodeString(r.tokenHash); err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("iamsql: session %s has a damaged token hash", id)
	} else {
		copy(hash[:], b)
	}
	p := r.principal
	return iam.NewTemporaryCredential(id, string(secret), hash, fromMS(r.expires), &p), nil
}

// GetSession returns a session without its secret or token.
func (s *Service) GetSession(ctx context.Context, id string) (*iam.Session, error) {
	r, err := loadSession(ctx, s.reader, id)
	if err != nil {
		return nil, err
	}
	return &iam.Session{AccessKeyID: id, CreatedAt: fromMS(r.created), Expiration: fromMS(r.expires),
		Principal: r.principal, PolicyDocument: r.policy, PolicyARNs: r.policyARNs}, nil
}

// ExpireSession ends a session now (its credentials stop working at once).
func (s *Service) ExpireSession(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE iam_sessions SET expires_at = $1 WHERE access_key_id = $2 AND expires_at > $1`, s.nowMS(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := loadSession(ctx, tx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteExpiredSessions removes sessions that expired before now and reports how many went.
func (s *Service) DeleteExpiredSessions(ctx context.Context) (int, error) {
	var n int64
	err := s.writeAdditive(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM iam_sessions WHERE expires_at <= $1`, s.nowMS())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

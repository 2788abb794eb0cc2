package iamsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/coffer-registry/coffer/iam"
)

type policyRow struct {
	id, account, arn, name, path, desc, defaultVersion string
	nextVersion                                        int
	created, updated                                   int64
}

const policyColumns = `id, account_id, arn, name, path, description, default_version, next_version, created_at, updated_at`

func scanPolicy(row scanner) (*policyRow, error) {
	var p policyRow
	err := row.Scan(&p.id, &p.account, &p.arn, &p.name, &p.path, &p.desc, &p.defaultVersion, &p.nextVersion, &p.created, &p.updated)
	return &p, err
}

// loadCustomerPolicy finds a customer-managed policy of account by ARN; nil if there is none.
func loadCustomerPolicy(ctx context.Context, q querier, account, arn string) (*policyRow, error) {
	p, err := scanPolicy(q.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM iam_policies WHERE arn = $1 AND account_id = $2`, arn, account))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return p, err
}

func (p *policyRow) managed() iam.ManagedPolicy {
	return iam.ManagedPolicy{AccountID: p.account, ID: p.id, Name: p.name, Path: p.path, ARN: p.arn, Description: p.desc,
		DefaultVersionID: p.defaultVersion, CreatedAt: fromMS(p.created), UpdatedAt: fromMS(p.updated)}
}

// policyExists reports whether arn names a policy account may attach: its own or an AWS managed one.
func policyExists(ctx context.Context, q querier, account, arn string) (bool, error) {
	if _, ok := iam.LookupAWSManagedPolicy(arn); ok {
		return true, nil
	}
	p, err := loadCustomerPolicy(ctx, q, account, arn)
	return p != nil, err
}

// checkBoundary accepts "" or the ARN of a managed policy the account can use as a boundary.
func checkBoundary(ctx context.Context, q querier, account, arn string) error {
	if arn == "" {
		return nil
	}
	if _, ok := iam.ParsePolicyARN(arn); !ok {
		return iam.InvalidInput("Value (%s) for parameter PermissionsBoundary is invalid.", arn)
	}
	ok, err := policyExists(ctx, q, account, arn)
	if err != nil {
		return err
	}
	if !ok {
		return iam.NoSuchEntity("Scope ARN: %s does not exist or is not attachable.", arn)
	}
	return nil
}

func (s *Service) withUsage(ctx context.Context, q querier, account string, p *iam.ManagedPolicy) error {
	var err error
	p.AttachmentCount, err = count(ctx, q, `SELECT COUNT(*) FROM iam_attachments a JOIN iam_entities e ON e.id = a.owner_id
		WHERE a.policy_arn = $1 AND e.account_id = $2`, p.ARN, account)
	if err != nil {
		return err
	}
	p.BoundaryUsageCount, err = count(ctx, q, `SELECT COUNT(*) FROM iam_entities WHERE boundary_arn = $1 AND account_id = $2`, p.ARN, account)
	return err
}

// CreatePolicyInput describes a new customer-managed policy.
type CreatePolicyInput struct {
	Account     string
	Name        string
	Path        string
	Document    string
	Description string
	Tags        []iam.Tag
}

// CreatePolicy adds a customer-managed policy with version v1 as its default.
func (s *Service) CreatePolicy(ctx context.Context, in CreatePolicyInput) (*iam.ManagedPolicy, error) {
	in.Path = iam.DefaultPath(in.Path)
	var v iam.Validation
	v.Name("policyName", in.Name, 128)
	v.PolicyPath("path", in.Path)
	v.Description("description", in.Description)
	v.Tags("tags", in.Tags)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := iam.CheckTagKeysUnique(in.Tags); err != nil {
		return nil, err
	}
	if err := s.checkManagedDocument(in.Document); err != nil {
		return nil, err
	}
	now := s.nowMS()
	p := &policyRow{id: iam.NewID(iam.PrefixPolicy), account: in.Account, arn: iam.PolicyARN(in.Account, in.Path, in.Name),
		name: in.Name, path: in.Path, desc: in.Description, defaultVersion: "v1", nextVersion: 2, created: now, updated: now}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireAccount(ctx, tx, in.Account); err != nil {
			return err
		}
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_policies WHERE account_id = $1 AND name_lower = $2`, in.Account, strings.ToLower(in.Name))
		if err != nil {
			return err
		}
		if n > 0 {
			return iam.AlreadyExists("A policy called %s already exists. Duplicate names are not allowed.", in.Name)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO iam_policies (`+policyColumns+`, name_lower) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			p.id, p.account, p.arn, p.name, p.path, p.desc, p.defaultVersion, p.nextVersion, p.created, p.updated, strings.ToLower(p.name)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO iam_policy_versions (policy_id, version_id, document, created_at) VALUES ($1, 'v1', $2, $3)`,
			p.id, in.Document, now); err != nil {
			return err
		}
		return mergeTags(ctx, tx, p.id, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	mp := p.managed()
	mp.Tags = sortedTags(in.Tags)
	return &mp, nil
}

func (s *Service) checkManagedDocument(doc string) error {
	if err := s.checkPolicy("policyDocument", doc, iam.PolicyManaged); err != nil {
		return err
	}
	if iam.PolicySize(doc) > iam.MaxManagedPolicySize {
		return iam.LimitExceeded("Cannot exceed quota for PolicySize: %d", iam.MaxManagedPolicySize)
	}
	return nil
}

// GetPolicy returns a customer-managed policy of account, or an AWS managed policy, with its usage
// counts in account.
func (s *Service) GetPolicy(ctx context.Context, account, arn string) (*iam.ManagedPolicy, error) {
	var out *iam.ManagedPolicy
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.getPolicy(ctx, tx, account, arn)
		return err
	})
	return out, err
}

func (s *Service) getPolicy(ctx context.Context, q querier, account, arn string) (*iam.ManagedPolicy, error) {
	var mp iam.ManagedPolicy
	if aws, ok := iam.LookupAWSManagedPolicy(arn); ok {
		mp = aws.Policy
	} else {
		p, err := loadCustomerPolicy(ctx, q, account, arn)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, iam.ErrNoSuchPolicy(arn)
		}
		mp = p.managed()
		if mp.Tags, err = loadTags(ctx, q, p.id); err != nil {
			return nil, err
		}
	}
	if err := s.withUsage(ctx, q, account, &mp); err != nil {
		return nil, err
	}
	return &mp, nil
}

// Policy scopes for ListPolicies.
const (
	ScopeAll   = "All"
	ScopeAWS   = "AWS"
	ScopeLocal = "Local"
)

// ListPoliciesInput filters ListPolicies.
type ListPoliciesInput struct {
	Account      string
	Scope        string // All (default), AWS or Local
	OnlyAttached bool
	PathPrefix   string
}

// ListPolicies lists managed policies visible to an account, sorted by name.
func (s *Service) ListPolicies(ctx context.Context, in ListPoliciesInput) ([]iam.ManagedPolicy, error) {
	if in.Scope == "" {
		in.Scope = ScopeAll
	}
	if in.Scope != ScopeAll && in.Scope != ScopeAWS && in.Scope != ScopeLocal {
		return nil, iam.InvalidInput("Invalid scope: %s", in.Scope)
	}
	var v iam.Validation
	v.PathPrefix("pathPrefix", in.PathPrefix)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out []iam.ManagedPolicy
	err := s.read(ctx, func(tx *sql.Tx) error {
		var all []iam.ManagedPolicy
		if in.Scope != ScopeLocal {
			for _, p := range iam.AWSManagedPolicies() {
				all = append(all, p.Policy)
			}
		}
		if in.Scope != ScopeAWS {
			customer, err := queryAll(ctx, tx, scanPolicy, `SELECT `+policyColumns+` FROM iam_policies WHERE account_id = $1`, in.Account)
			if err != nil {
				return err
			}
			for _, p := range customer {
				all = append(all, p.managed())
			}
		}
		for _, p := range all {
			if in.PathPrefix != "" && !strings.HasPrefix(p.Path, in.PathPrefix) {
				continue
			}
			if err := s.withUsage(ctx, tx, in.Account, &p); err != nil {
				return err
			}
			if in.OnlyAttached && p.AttachmentCount == 0 {
				continue
			}
			if !p.AWSManaged() {
				tags, err := loadTags(ctx, tx, p.ID)
				if err != nil {
					return err
				}
				p.Tags = tags
			}
			out = append(out, p)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// DeletePolicy removes a customer-managed policy that is attached nowhere and has only its default version.
func (s *Service) DeletePolicy(ctx context.Context, account, arn string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		p, err := s.mutablePolicy(ctx, tx, account, arn)
		if err != nil {
			return err
		}
		mp := p.managed()
		if err := s.withUsage(ctx, tx, account, &mp); err != nil {
			return err
		}
		if mp.AttachmentCount > 0 || mp.BoundaryUsageCount > 0 {
			return iam.DeleteConflict("Cannot delete a policy attached to entities.")
		}
		versions, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_policy_versions WHERE policy_id = $1`, p.id)
		if err != nil {
			return err
		}
		if versions > 1 {
			return iam.DeleteConflict("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")
		}
		for _, q := range []string{
			`DELETE FROM iam_policy_versions WHERE policy_id = $1`,
			`DELETE FROM iam_tags WHERE owner_id = $1`,
			`DELETE FROM iam_policies WHERE id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, p.id); err != nil {
				return err
			}
		}
		return nil
	})
}

// mutablePolicy loads a customer-managed policy for a change; AWS managed policies cannot change.
func (s *Service) mutablePolicy(ctx context.Context, q querier, account, arn string) (*policyRow, error) {
	if iam.IsAWSManagedPolicyARN(arn) {
		if _, ok := iam.LookupAWSManagedPolicy(arn); ok {
			return nil, iam.InvalidInput("Policy %s is an AWS managed policy and cannot be modified.", arn)
		}
	}
	p, err := loadCustomerPolicy(ctx, q, account, arn)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, iam.ErrNoSuchPolicy(arn)
	}
	return p, nil
}

// CreatePolicyVersion adds a version (at most 5 are kept), optionally making it the default.
func (s *Service) CreatePolicyVersion(ctx context.Context, account, arn, doc string, setAsDefault bool) (*iam.PolicyVersion, error) {
	if err := s.checkManagedDocument(doc); err != nil {
		return nil, err
	}
	var out *iam.PolicyVersion
	err := s.write(ctx, func(tx *sql.Tx) error {
		p, err := s.mutablePolicy(ctx, tx, account, arn)
		if err != nil {
			return err
		}
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_policy_versions WHERE policy_id = $1`, p.id)
		if err != nil {
			return err
		}
		if n >= iam.MaxPolicyVersions {
			return iam.LimitExceeded("A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", iam.MaxPolicyVersions)
		}
		now := s.nowMS()
		version := "v" + strconv.Itoa(p.nextVersion)
		if _, err := tx.ExecContext(ctx, `INSERT INTO iam_policy_versions (policy_id, version_id, document, created_at) VALUES ($1, $2, $3, $4)`,
			p.id, version, doc, now); err != nil {
			return err
		}
		defaultVersion := p.defaultVersion
		if setAsDefault {
			defaultVersion = version
		}
		if _, err := tx.ExecContext(ctx, `UPDATE iam_policies SET next_version = $1, default_version = $2, updated_at = $3 WHERE id = $4`,
			p.nextVersion+1, defaultVersion, now, p.id); err != nil {
			return err
		}
		out = &iam.PolicyVersion{VersionID: version, Document: doc, IsDefault: setAsDefault, CreatedAt: fromMS(now)}
		return nil
	})
	return out, err
}

// GetPolicyVersion returns one version of a customer or AWS managed policy.
func (s *Service) GetPolicyVersion(ctx context.Context, account, arn, versionID string) (*iam.PolicyVersion, error) {
	var v iam.Validation
	v.VersionID("versionId", versionID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	versions, err := s.ListPolicyVersions(ctx, account, arn)
	if err != nil {
		return nil, err
	}
	for _, pv := range versions {
		if pv.VersionID == versionID {
			return &pv, nil
		}
	}
	return nil, iam.ErrNoSuchPolicyVersion(arn, versionID)
}

// ListPolicyVersions lists a policy's versions, newest first; AWS managed policies show their default only.
func (s *Service) ListPolicyVersions(ctx context.Context, account, arn string) ([]iam.PolicyVersion, error) {
	if aws, ok := iam.LookupAWSManagedPolicy(arn); ok {
		return []iam.PolicyVersion{{VersionID: aws.Policy.DefaultVersionID, Document: aws.Document, IsDefault: true, CreatedAt: aws.Policy.UpdatedAt}}, nil
	}
	var out []iam.PolicyVersion
	err := s.read(ctx, func(tx *sql.Tx) error {
		p, err := loadCustomerPolicy(ctx, tx, account, arn)
		if err != nil {
			return err
		}
		if p == nil {
			return iam.ErrNoSuchPolicy(arn)
		}
		out, err = policyVersions(ctx, tx, p)
		return err
	})
	return out, err
}

func policyVersions(ctx context.Context, q querier, p *policyRow) ([]iam.PolicyVersion, error) {
	out, err := queryAll(ctx, q, func(row scanner) (iam.PolicyVersion, error) {
		var v iam.PolicyVersion
		var created int64
		err := row.Scan(&v.VersionID, &v.Document, &created)
		v.CreatedAt = fromMS(created)
		v.IsDefault = v.VersionID == p.defaultVersion
		return v, err
	}, `SELECT version_id, document, created_at FROM iam_policy_versions WHERE policy_id = $1`, p.id)
	sort.Slice(out, func(i, j int) bool { return versionNumber(out[i].VersionID) > versionNumber(out[j].VersionID) })
	return out, err
}

func versionNumber(v string) int {
	n, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(v, "v"), ".", 2)[0])
	return n
}

// DeletePolicyVersion removes a version other than the default.
func (s *Service) DeletePolicyVersion(ctx context.Context, account, arn, versionID string) error {
	var v iam.Validation
	v.VersionID("versionId", versionID)
	if err := v.Err(); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		p, err := s.mutablePolicy(ctx, tx, account, arn)
		if err != nil {
			return err
		}
		if versionID == p.defaultVersion {
			return iam.DeleteConflict("Cannot delete the default version of a policy.")
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM iam_policy_versions WHERE policy_id = $1 AND version_id = $2`, p.id, versionID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return iam.ErrNoSuchPolicyVersion(arn, versionID)
		}
		return nil
	})
}

// SetDefaultPolicyVersion makes an existing version the one that applies.
func (s *Service) SetDefaultPolicyVersion(ctx context.Context, account, arn, versionID string) error {
	var v iam.Validation
	v.VersionID("versionId", versionID)
	if err := v.Err(); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		p, err := s.mutablePolicy(ctx, tx, account, arn)
		if err != nil {
			return err
		}
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_policy_versions WHERE policy_id = $1 AND version_id = $2`, p.id, versionID)
		if err != nil {
			return err
		}
		if n == 0 {
			return iam.ErrNoSuchPolicyVersion(arn, versionID)
		}
		_, err = tx.ExecContext(ctx, `UPDATE iam_policies SET default_version = $1, updated_at = $2 WHERE id = $3`, versionID, s.nowMS(), p.id)
		return err
	})
}

// TagPolicy, UntagPolicy and ListPolicyTags manage a customer-managed policy's tags.
func (s *Service) TagPolicy(ctx context.Context, account, arn string, tags []iam.Tag) error {
	if err := checkTagInput(tags); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		p, err := s.mutablePolicy(ctx, tx, account, arn)
		if err != nil {
			return err
		}
		return mergeTags(ctx, tx, p.id, tags)
	})
}

func (s *Service) UntagPolicy(ctx context.Context, account, arn string, keys []string) error {
	if err := checkTagKeys(keys); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		p, err := s.mutablePolicy(ctx, tx, account, arn)
		if err != nil {
			return err
		}
		return removeTags(ctx, tx, p.id, keys)
	})
}

func (s *Service) ListPolicyTags(ctx context.Context, account, arn string) ([]iam.Tag, error) {
	p, err := s.GetPolicy(ctx, account, arn)
	if err != nil {
		return nil, err
	}
	return p.Tags, nil
}

// Attachments.

func attachQuota(kind iam.EntityKind) (int, string) {
	switch kind {
	case iam.KindGroup:
		return iam.MaxManagedPoliciesPerGroup, "PoliciesPerGroup"
	case iam.KindRole:
		return iam.MaxManagedPoliciesPerRole, "PoliciesPerRole"
	default:
		return iam.MaxManagedPoliciesPerUser, "PoliciesPerUser"
	}
}

// AttachPolicy attaches a customer or AWS managed policy to a user, group or role (a no-op if attached).
func (s *Service) AttachPolicy(ctx context.Context, ref iam.EntityRef, arn string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, ref)
		if err != nil {
			return err
		}
		return s.attachTx(ctx, tx, e, arn)
	})
}

func (s *Service) attachTx(ctx context.Context, tx *sql.Tx, e *entity, arn string) error {
	if _, ok := iam.ParsePolicyARN(arn); !ok {
		return iam.InvalidInput("ARN %s is not valid.", arn)
	}
	ok, err := policyExists(ctx, tx, e.account, arn)
	if err != nil {
		return err
	}
	if !ok {
		return iam.ErrPolicyNotAttachable(arn)
	}
	already, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_attachments WHERE owner_id = $1 AND policy_arn = $2`, e.id, arn)
	if err != nil || already > 0 {
		return err
	}
	n, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_attachments WHERE owner_id = $1`, e.id)
	if err != nil {
		return err
	}
	if limit, quota := attachQuota(e.kind); n >= limit {
		return iam.LimitExceeded("Cannot exceed quota for %s: %d", quota, limit)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO iam_attachments (owner_id, policy_arn, attached_at) VALUES ($1, $2, $3)`, e.id, arn, s.nowMS())
	return err
}

// DetachPolicy detaches a managed policy from a user, group or role.
func (s *Service) DetachPolicy(ctx context.Context, ref iam.EntityRef, arn string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, ref)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM iam_attachments WHERE owner_id = $1 AND policy_arn = $2`, e.id, arn)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return iam.ErrNoSuchPolicy(arn)
		}
		return nil
	})
}

// ListAttachedPolicies lists the managed policies attached to a user, group or role, by name.
func (s *Service) ListAttachedPolicies(ctx context.Context, ref iam.EntityRef) ([]iam.AttachedPolicy, error) {
	var out []iam.AttachedPolicy
	err := s.read(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, ref)
		if err != nil {
			return err
		}
		out, err = attachedPolicies(ctx, tx, e.id)
		return err
	})
	return out, err
}

func attachedPolicies(ctx context.Context, q querier, ownerID string) ([]iam.AttachedPolicy, error) {
	out, err := queryAll(ctx, q, func(row scanner) (iam.AttachedPolicy, error) {
		var arn string
		err := row.Scan(&arn)
		r, _ := iam.ParsePolicyARN(arn)
		return iam.AttachedPolicy{Name: r.Name, ARN: arn}, err
	}, `SELECT policy_arn FROM iam_attachments WHERE owner_id = $1`, ownerID)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// PolicyEntity is an entity a managed policy is attached to.
type PolicyEntity struct {
	Kind iam.EntityKind
	Name string
	ID   string
}

// ListEntitiesForPolicy lists the users, groups and roles of account a managed policy is attached to.
func (s *Service) ListEntitiesForPolicy(ctx context.Context, account, arn string) ([]PolicyEntity, error) {
	var out []PolicyEntity
	err := s.read(ctx, func(tx *sql.Tx) error {
		if ok, err := policyExists(ctx, tx, account, arn); err != nil || !ok {
			if err == nil {
				err = iam.ErrNoSuchPolicy(arn)
			}
			return err
		}
		var err error
		out, err = queryAll(ctx, tx, func(row scanner) (PolicyEntity, error) {
			var pe PolicyEntity
			var kind string
			err := row.Scan(&kind, &pe.Name, &pe.ID)
			pe.Kind = iam.EntityKind(kind)
			return pe, err
		}, `SELECT e.kind, e.name, e.id FROM iam_entities e JOIN iam_attachments a ON a.owner_id = e.id
			WHERE a.policy_arn = $1 AND e.account_id = $2 ORDER BY e.kind, e.name_lower`, arn, account)
		return err
	})
	return out, err
}

// Inline policies.

func inlineLimit(kind iam.EntityKind) int {
	switch kind {
	case iam.KindGroup:
		return iam.MaxGroupInlinePolicySize
	case iam.KindRole:
		return iam.MaxRoleInlinePolicySize
	default:
		return iam.MaxUserInlinePolicySize
	}
}

// PutInlinePolicy adds or replaces an inline policy of a user, group or role. The sizes of all of an
// entity's inline policies together may not pass the kind's quota (2048, 5120 or 10240 characters).
func (s *Service) PutInlinePolicy(ctx context.Context, ref iam.EntityRef, name, doc string) error {
	var v iam.Validation
	v.Name(string(ref.Kind)+"Name", ref.Name, map[iam.EntityKind]int{iam.KindUser: 128, iam.KindGroup: 128, iam.KindRole: 64}[ref.Kind])
	v.Name("policyName", name, 128)
	if err := v.Err(); err != nil {
		return err
	}
	// One document over the quota fails before the engine sees it, with the entity in the message.
	if limit := inlineLimit(ref.Kind); iam.PolicySize(doc) > limit {
		return iam.LimitExceeded("Maximum policy size of %d bytes exceeded for %s %s", limit, ref.Kind, ref.Name)
	}
	if err := s.checkPolicy("policyDocument", doc, ref.Kind.InlineKind()); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, ref)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT name, document FROM iam_inline_policies WHERE owner_id = $1`, e.id)
		if err != nil {
			return err
		}
		total := iam.PolicySize(doc)
		for rows.Next() {
			var n, d string
			if err := rows.Scan(&n, &d); err != nil {
				rows.Close()
				return err
			}
			if n != name {
				total += iam.PolicySize(d)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if limit := inlineLimit(e.kind); total > limit {
			return iam.LimitExceeded("Maximum policy size of %d bytes exceeded for %s %s", limit, e.kind, e.name)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM iam_inline_policies WHERE owner_id = $1 AND name = $2`, e.id, name); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO iam_inline_policies (owner_id, name, document) VALUES ($1, $2, $3)`, e.id, name, doc)
		return err
	})
}

// GetInlinePolicy returns one inline policy.
func (s *Service) GetInlinePolicy(ctx context.Context, ref iam.EntityRef, name string) (*iam.InlinePolicy, error) {
	var out *iam.InlinePolicy
	err := s.read(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, ref)
		if err != nil {
			return err
		}
		var doc string
		err = tx.QueryRowContext(ctx, `SELECT document FROM iam_inline_policies WHERE owner_id = $1 AND name = $2`, e.id, name).Scan(&doc)
		if errors.Is(err, sql.ErrNoRows) {
			return iam.ErrNoSuchInlinePolicy(ref.Kind, name)
		}
		out = &iam.InlinePolicy{Owner: e.ref(), Name: name, Document: doc}
		return err
	})
	return out, err
}

// ListInlinePolicies lists the names of an entity's inline policies.
func (s *Service) ListInlinePolicies(ctx context.Context, ref iam.EntityRef) ([]string, error) {
	var out []string
	err := s.read(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, ref)
		if err != nil {
			return err
		}
		ps, err := inlinePolicies(ctx, tx, e)
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return err
	})
	return out, err
}

func inlinePolicies(ctx context.Context, q querier, e *entity) ([]iam.InlinePolicy, error) {
	return queryAll(ctx, q, func(row scanner) (iam.InlinePolicy, error) {
		p := iam.InlinePolicy{Owner: e.ref()}
		err := row.Scan(&p.Name, &p.Document)
		return p, err
	}, `SELECT name, document FROM iam_inline_policies WHERE owner_id = $1 ORDER BY name`, e.id)
}

// DeleteInlinePolicy removes an inline policy.
func (s *Service) DeleteInlinePolicy(ctx context.Context, ref iam.EntityRef, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, ref)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM iam_inline_policies WHERE owner_id = $1 AND name = $2`, e.id, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return iam.ErrNoSuchInlinePolicy(ref.Kind, name)
		}
		return nil
	})
}

// Permissions boundaries.

// PutPermissionsBoundary sets the boundary of a user or role.
func (s *Service) PutPermissionsBoundary(ctx context.Context, ref iam.EntityRef, arn string) error {
	if ref.Kind == iam.KindGroup {
		return iam.InvalidInput("Permissions boundaries can be set only on users and roles.")
	}
	if arn == "" {
		return iam.InvalidInput("Value () for parameter PermissionsBoundary is invalid.")
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, ref)
		if err != nil {
			return err
		}
		if err := checkBoundary(ctx, tx, e.account, arn); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE iam_entities SET boundary_arn = $1 WHERE id = $2`, arn, e.id)
		return err
	})
}

// DeletePermissionsBoundary removes the boundary of a user or role.
func (s *Service) DeletePermissionsBoundary(ctx context.Context, ref iam.EntityRef) error {
	if ref.Kind == iam.KindGroup {
		return iam.InvalidInput("Permissions boundaries can be set only on users and roles.")
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, ref)
		if err != nil {
			return err
		}
		if e.boundary == "" {
			return iam.NoSuchEntity("The %s with name %s has no permissions boundary.", e.kind, e.name)
		}
		_, err = tx.ExecContext(ctx, `UPDATE iam_entities SET boundary_arn = '' WHERE id = $1`, e.id)
		return err
	})
}

// managedDocument returns the default version's document of an attachable policy ARN.
func managedDocument(ctx context.Context, q querier, account, arn string) (doc, version string, found bool, err error) {
	if aws, ok := iam.LookupAWSManagedPolicy(arn); ok {
		return aws.Document, aws.Policy.DefaultVersionID, true, nil
	}
	p, err := loadCustomerPolicy(ctx, q, account, arn)
	if err != nil || p == nil {
		return "", "", false, err
	}
	err = q.QueryRowContext(ctx, `SELECT document FROM iam_policy_versions WHERE policy_id = $1 AND version_id = $2`, p.id, p.defaultVersion).Scan(&doc)
	if err != nil {
		return "", "", false, fmt.Errorf("iamsql: default version of %s: %w", arn, err)
	}
	return doc, p.defaultVersion, true, nil
}

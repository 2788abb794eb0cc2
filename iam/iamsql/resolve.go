package iamsql

import (
	"context"
	"database/sql"
	"sort"

	"github.com/coffer-registry/coffer/iam"
)

// PoliciesFor is authorization's question: every identity-side document that applies to p —
// inline and attached policies of the user and its groups (or of the role), the permissions
// boundary, and the session policies. Root gets an empty set (root is not limited by identity
// policies). A principal whose user or role is gone gets an empty set too, so it is denied.
// Results are immutable and cached until the next write.
func (s *Service) PoliciesFor(ctx context.Context, p *iam.Principal) (*iam.PolicySet, error) {
	gen := s.Generation()
	key := p.ARN + "\x00" + p.AccessKeyID
	if cached, ok := s.policies.Load(key); ok && cached.(*iam.PolicySet).Generation == gen {
		return cached.(*iam.PolicySet), nil
	}
	set := &iam.PolicySet{Generation: gen}
	err := s.read(ctx, func(tx *sql.Tx) error {
		switch p.Type {
		case iam.PrincipalUser:
			return resolveUser(ctx, tx, p, set)
		case iam.PrincipalAssumedRole:
			return resolveRoleSession(ctx, tx, p, set)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.policies.Store(key, set)
	return set, nil
}

func resolveUser(ctx context.Context, tx *sql.Tx, p *iam.Principal, set *iam.PolicySet) error {
	u, err := loadEntityByID(ctx, tx, p.UserID)
	if err != nil || u == nil {
		return err
	}
	if err := appendEntityPolicies(ctx, tx, u, &set.Identity); err != nil {
		return err
	}
	groups, err := groupsOf(ctx, tx, u.id)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if err := appendEntityPolicies(ctx, tx, g, &set.Identity); err != nil {
			return err
		}
	}
	set.Boundary, err = boundaryDocument(ctx, tx, u)
	return err
}

func resolveRoleSession(ctx context.Context, tx *sql.Tx, p *iam.Principal, set *iam.PolicySet) error {
	sess, err := loadSession(ctx, tx, p.AccessKeyID)
	if err != nil {
		if iam.ErrorCode(err) == iam.CodeNoSuchEntity {
			return nil
		}
		return err
	}
	role, err := loadEntityByID(ctx, tx, p.RoleID)
	if err != nil || role == nil {
		return err
	}
	if err := appendEntityPolicies(ctx, tx, role, &set.Identity); err != nil {
		return err
	}
	if set.Boundary, err = boundaryDocument(ctx, tx, role); err != nil {
		return err
	}
	if sess.policy != "" {
		set.HasSessionPolicy = true
		set.Session = append(set.Session, iam.PolicyDocument{Source: iam.SourceSession, OwnerARN: p.ARN, Document: sess.policy})
	}
	for _, arn := range sess.policyARNs {
		set.HasSessionPolicy = true
		doc, version, found, err := managedDocument(ctx, tx, role.account, arn)
		if err != nil {
			return err
		}
		if found {
			r, _ := iam.ParsePolicyARN(arn)
			set.Session = append(set.Session, iam.PolicyDocument{Source: iam.SourceManaged, Name: r.Name, ARN: arn, Version: version,
				OwnerARN: p.ARN, Document: doc})
		}
	}
	return nil
}

// appendEntityPolicies adds an entity's inline policies, then its attached managed policies.
func appendEntityPolicies(ctx context.Context, tx *sql.Tx, e *entity, out *[]iam.PolicyDocument) error {
	inline, err := inlinePolicies(ctx, tx, e)
	if err != nil {
		return err
	}
	owner := e.arn()
	for _, ip := range inline {
		*out = append(*out, iam.PolicyDocument{Source: iam.SourceInline, Name: ip.Name, OwnerARN: owner, Document: ip.Document})
	}
	attached, err := attachedPolicies(ctx, tx, e.id)
	if err != nil {
		return err
	}
	for _, ap := range attached {
		doc, version, found, err := managedDocument(ctx, tx, e.account, ap.ARN)
		if err != nil {
			return err
		}
		if found {
			*out = append(*out, iam.PolicyDocument{Source: iam.SourceManaged, Name: ap.Name, ARN: ap.ARN, Version: version,
				OwnerARN: owner, Document: doc})
		}
	}
	return nil
}

func boundaryDocument(ctx context.Context, tx *sql.Tx, e *entity) (*iam.PolicyDocument, error) {
	if e.boundary == "" {
		return nil, nil
	}
	doc, version, found, err := managedDocument(ctx, tx, e.account, e.boundary)
	if err != nil {
		return nil, err
	}
	r, _ := iam.ParsePolicyARN(e.boundary)
	if !found {
		// A boundary whose policy vanished allows nothing, as an empty boundary would.
		return &iam.PolicyDocument{Source: iam.SourceManaged, Name: r.Name, ARN: e.boundary, OwnerARN: e.arn(),
			Document: `{"Version":"2012-10-17","Statement":[]}`}, nil
	}
	return &iam.PolicyDocument{Source: iam.SourceManaged, Name: r.Name, ARN: e.boundary, Version: version, OwnerARN: e.arn(), Document: doc}, nil
}

// AuthorizationDetails lists an account's users, groups and roles with everything attached to them,
// and its customer-managed policies plus the AWS managed policies in use, with all versions.
func (s *Service) AuthorizationDetails(ctx context.Context, account string) (*iam.AuthorizationDetails, error) {
	out := &iam.AuthorizationDetails{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := requireAccount(ctx, tx, account); err != nil {
			return err
		}
		used := map[string]bool{}
		details := func(e *entity) ([]iam.InlinePolicy, []iam.AttachedPolicy, error) {
			inline, err := inlinePolicies(ctx, tx, e)
			if err != nil {
				return nil, nil, err
			}
			attached, err := attachedPolicies(ctx, tx, e.id)
			for _, a := range attached {
				used[a.ARN] = true
			}
			if e.boundary != "" {
				used[e.boundary] = true
			}
			return inline, attached, err
		}
		users, err := listEntities(ctx, tx, account, iam.KindUser, "")
		if err != nil {
			return err
		}
		for _, e := range users {
			u, err := s.userFrom(ctx, tx, e)
			if err != nil {
				return err
			}
			d := iam.UserDetail{User: *u}
			if d.InlinePolicies, d.AttachedPolicies, err = details(e); err != nil {
				return err
			}
			groups, err := groupsOf(ctx, tx, e.id)
			if err != nil {
				return err
			}
			for _, g := range groups {
				d.Groups = append(d.Groups, g.name)
			}
			out.Users = append(out.Users, d)
		}
		groups, err := listEntities(ctx, tx, account, iam.KindGroup, "")
		if err != nil {
			return err
		}
		for _, e := range groups {
			d := iam.GroupDetail{Group: *groupFrom(e)}
			if d.InlinePolicies, d.AttachedPolicies, err = details(e); err != nil {
				return err
			}
			out.Groups = append(out.Groups, d)
		}
		roles, err := listEntities(ctx, tx, account, iam.KindRole, "")
		if err != nil {
			return err
		}
		for _, e := range roles {
			d := iam.RoleDetail{Role: *roleFrom(e)}
			if d.Tags, err = loadTags(ctx, tx, e.id); err != nil {
				return err
			}
			if d.InlinePolicies, d.AttachedPolicies, err = details(e); err != nil {
				return err
			}
			out.Roles = append(out.Roles, d)
		}
		customer, err := queryAll(ctx, tx, scanPolicy, `SELECT `+policyColumns+` FROM iam_policies WHERE account_id = $1`, account)
		if err != nil {
			return err
		}
		for _, p := range customer {
			mp := p.managed()
			if err := s.withUsage(ctx, tx, account, &mp); err != nil {
				return err
			}
			if mp.Tags, err = loadTags(ctx, tx, p.id); err != nil {
				return err
			}
			versions, err := policyVersions(ctx, tx, p)
			if err != nil {
				return err
			}
			out.Policies = append(out.Policies, iam.PolicyDetail{ManagedPolicy: mp, Versions: versions})
		}
		for _, aws := range iam.AWSManagedPolicies() {
			if !used[aws.Policy.ARN] {
				continue
			}
			mp := aws.Policy
			if err := s.withUsage(ctx, tx, account, &mp); err != nil {
				return err
			}
			out.Policies = append(out.Policies, iam.PolicyDetail{ManagedPolicy: mp, Versions: []iam.PolicyVersion{{
				VersionID: mp.DefaultVersionID, Document: aws.Document, IsDefault: true, CreatedAt: mp.UpdatedAt}}})
		}
		sort.Slice(out.Policies, func(i, j int) bool { return out.Policies[i].Name < out.Policies[j].Name })
		return nil
	})
	return out, err
}

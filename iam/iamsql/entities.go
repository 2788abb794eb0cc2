package iamsql

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/coffer-registry/coffer/iam"
)

// entity is one row of iam_entities: a user, group or role.
type entity struct {
	id, account, name, path string
	kind                    iam.EntityKind
	created                 int64
	boundary, trust, desc   string
	maxSession              int
}

func (e *entity) arn() string { return iam.EntityARN(e.account, string(e.kind), e.path, e.name) }

func (e *entity) ref() iam.EntityRef {
	return iam.EntityRef{Account: e.account, Kind: e.kind, Name: e.name}
}

const entityColumns = `id, account_id, kind, name, path, created_at, boundary_arn, trust_policy, description, max_session_duration`

func scanEntity(row scanner) (*entity, error) {
	var e entity
	var kind string
	err := row.Scan(&e.id, &e.account, &kind, &e.name, &e.path, &e.created, &e.boundary, &e.trust, &e.desc, &e.maxSession)
	e.kind = iam.EntityKind(kind)
	return &e, err
}

// loadEntity finds a user, group or role by name (case-insensitively), or answers NoSuchEntity.
func loadEntity(ctx context.Context, q querier, ref iam.EntityRef) (*entity, error) {
	e, err := scanEntity(q.QueryRowContext(ctx, `SELECT `+entityColumns+` FROM iam_entities
		WHERE account_id = $1 AND kind = $2 AND name_lower = $3`, ref.Account, string(ref.Kind), strings.ToLower(ref.Name)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, iam.ErrNoSuchEntityOfKind(ref.Kind, ref.Name)
	}
	return e, err
}

func loadEntityByID(ctx context.Context, q querier, id string) (*entity, error) {
	e, err := scanEntity(q.QueryRowContext(ctx, `SELECT `+entityColumns+` FROM iam_entities WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return e, err
}

func listEntities(ctx context.Context, q querier, account string, kind iam.EntityKind, pathPrefix string) ([]*entity, error) {
	es, err := queryAll(ctx, q, scanEntity, `SELECT `+entityColumns+` FROM iam_entities
		WHERE account_id = $1 AND kind = $2 ORDER BY name_lower`, account, string(kind))
	return slices.DeleteFunc(es, func(e *entity) bool { return !strings.HasPrefix(e.path, pathPrefix) }), err
}

func insertEntity(ctx context.Context, tx *sql.Tx, e *entity) error {
	n, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_entities WHERE account_id = $1 AND kind = $2 AND name_lower = $3`,
		e.account, string(e.kind), strings.ToLower(e.name))
	if err != nil {
		return err
	}
	if n > 0 {
		return iam.ErrEntityAlreadyExists(e.kind, e.name)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO iam_entities (`+entityColumns+`, name_lower)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.id, e.account, string(e.kind), e.name, e.path, e.created, e.boundary, e.trust, e.desc, e.maxSession, strings.ToLower(e.name))
	return err
}

// requireAccount fails with NoSuchEntity when the account is unknown.
func requireAccount(ctx context.Context, q querier, account string) error {
	n, err := count(ctx, q, `SELECT COUNT(*) FROM iam_accounts WHERE id = $1`, account)
	if err != nil {
		return err
	}
	if n == 0 {
		return iam.ErrNoSuchAccount(account)
	}
	return nil
}

// CreateUserInput describes a new IAM user.
type CreateUserInput struct {
	Account             string
	Name                string
	Path                string // "" means "/"
	Tags                []iam.Tag
	PermissionsBoundary string // managed policy ARN or ""
}

// CreateUser adds an IAM user.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (*iam.User, error) {
	in.Path = iam.DefaultPath(in.Path)
	var v iam.Validation
	v.Name("userName", in.Name, 64)
	v.Path("path", in.Path)
	v.Tags("tags", in.Tags)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := iam.CheckTagKeysUnique(in.Tags); err != nil {
		return nil, err
	}
	e := &entity{id: iam.NewID(iam.PrefixUser), account: in.Account, kind: iam.KindUser, name: in.Name, path: in.Path,
		created: s.nowMS(), boundary: in.PermissionsBoundary}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireAccount(ctx, tx, in.Account); err != nil {
			return err
		}
		if err := checkBoundary(ctx, tx, in.Account, in.PermissionsBoundary); err != nil {
			return err
		}
		if err := insertEntity(ctx, tx, e); err != nil {
			return err
		}
		return mergeTags(ctx, tx, e.id, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return &iam.User{AccountID: e.account, ID: e.id, Name: e.name, Path: e.path, ARN: e.arn(),
		CreatedAt: fromMS(e.created), PermissionsBoundary: e.boundary, Tags: sortedTags(in.Tags)}, nil
}

func (s *Service) userFrom(ctx context.Context, q querier, e *entity) (*iam.User, error) {
	tags, err := loadTags(ctx, q, e.id)
	if err != nil {
		return nil, err
	}
	return &iam.User{AccountID: e.account, ID: e.id, Name: e.name, Path: e.path, ARN: e.arn(),
		CreatedAt: fromMS(e.created), PermissionsBoundary: e.boundary, Tags: tags}, nil
}

// GetUser returns a user with its tags.
func (s *Service) GetUser(ctx context.Context, account, name string) (*iam.User, error) {
	var u *iam.User
	err := s.read(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindUser, Name: name})
		if err != nil {
			return err
		}
		u, err = s.userFrom(ctx, tx, e)
		return err
	})
	return u, err
}

// ListUsers lists an account's users whose path starts with pathPrefix ("" for all), by name.
func (s *Service) ListUsers(ctx context.Context, account, pathPrefix string) ([]iam.User, error) {
	var v iam.Validation
	v.PathPrefix("pathPrefix", pathPrefix)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out []iam.User
	err := s.read(ctx, func(tx *sql.Tx) error {
		es, err := listEntities(ctx, tx, account, iam.KindUser, pathPrefix)
		if err != nil {
			return err
		}
		for _, e := range es {
			u, err := s.userFrom(ctx, tx, e)
			if err != nil {
				return err
			}
			out = append(out, *u)
		}
		return nil
	})
	return out, err
}

// DeleteUser removes a user that has no access keys, MFA devices, policies or group memberships.
func (s *Service) DeleteUser(ctx context.Context, account, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		return deleteEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindUser, Name: name}, func(id string) []dependent {
			return []dependent{
				{`SELECT COUNT(*) FROM iam_access_keys WHERE account_id = $1 AND user_id = $2`, []any{account, id}, "Cannot delete entity, must delete access keys first."},
				{`SELECT COUNT(*) FROM iam_mfa_devices WHERE account_id = $1 AND user_id = $2`, []any{account, id}, "Cannot delete entity, must delete MFA device first."},
				{`SELECT COUNT(*) FROM iam_inline_policies WHERE owner_id = $1`, []any{id}, "Cannot delete entity, must delete policies first."},
				{`SELECT COUNT(*) FROM iam_attachments WHERE owner_id = $1`, []any{id}, "Cannot delete entity, must detach all policies first."},
				{`SELECT COUNT(*) FROM iam_group_members WHERE user_id = $1`, []any{id}, "Cannot delete entity, must remove users from group first."},
			}
		})
	})
}

// dependent is a kind of row that keeps a user, group or role from being deleted: a query
// counting such rows, its arguments, and the conflict IAM reports while any remain.
type dependent struct {
	query   string
	args    []any
	message string
}

// deleteEntity removes a user, group or role and its tags once none of the dependents of its
// id remain.
func deleteEntity(ctx context.Context, tx *sql.Tx, ref iam.EntityRef, dependents func(id string) []dependent) error {
	e, err := loadEntity(ctx, tx, ref)
	if err != nil {
		return err
	}
	for _, d := range dependents(e.id) {
		n, err := count(ctx, tx, d.query, d.args...)
		if err != nil {
			return err
		}
		if n > 0 {
			return iam.DeleteConflict("%s", d.message)
		}
	}
	for _, q := range []string{
		`DELETE FROM iam_tags WHERE owner_id = $1`,
		`DELETE FROM iam_entities WHERE id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, e.id); err != nil {
			return err
		}
	}
	return nil
}

// CreateGroup adds an IAM group.
func (s *Service) CreateGroup(ctx context.Context, account, name, path string) (*iam.Group, error) {
	path = iam.DefaultPath(path)
	var v iam.Validation
	v.Name("groupName", name, 128)
	v.Path("path", path)
	if err := v.Err(); err != nil {
		return nil, err
	}
	e := &entity{id: iam.NewID(iam.PrefixGroup), account: account, kind: iam.KindGroup, name: name, path: path, created: s.nowMS()}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireAccount(ctx, tx, account); err != nil {
			return err
		}
		return insertEntity(ctx, tx, e)
	})
	if err != nil {
		return nil, err
	}
	return groupFrom(e), nil
}

func groupFrom(e *entity) *iam.Group {
	return &iam.Group{AccountID: e.account, ID: e.id, Name: e.name, Path: e.path, ARN: e.arn(), CreatedAt: fromMS(e.created)}
}

// GetGroup returns a group and its members.
func (s *Service) GetGroup(ctx context.Context, account, name string) (*iam.Group, []iam.User, error) {
	var g *iam.Group
	var users []iam.User
	err := s.read(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindGroup, Name: name})
		if err != nil {
			return err
		}
		g = groupFrom(e)
		members, err := groupMembers(ctx, tx, e.id)
		if err != nil {
			return err
		}
		for _, m := range members {
			u, err := s.userFrom(ctx, tx, m)
			if err != nil {
				return err
			}
			users = append(users, *u)
		}
		return nil
	})
	return g, users, err
}

// LookupGroup returns a group without its members: all that authorizing an operation on the
// group, or checking that it exists, needs.
func (s *Service) LookupGroup(ctx context.Context, account, name string) (*iam.Group, error) {
	e, err := loadEntity(ctx, s.reader, iam.EntityRef{Account: account, Kind: iam.KindGroup, Name: name})
	if err != nil {
		return nil, err
	}
	return groupFrom(e), nil
}

func groupMembers(ctx context.Context, q querier, groupID string) ([]*entity, error) {
	return queryAll(ctx, q, scanEntity, `SELECT `+prefixed("e.", entityColumns)+` FROM iam_entities e
		JOIN iam_group_members m ON m.user_id = e.id WHERE m.group_id = $1 ORDER BY e.name_lower`, groupID)
}

func groupsOf(ctx context.Context, q querier, userID string) ([]*entity, error) {
	return queryAll(ctx, q, scanEntity, `SELECT `+prefixed("e.", entityColumns)+` FROM iam_entities e
		JOIN iam_group_members m ON m.group_id = e.id WHERE m.user_id = $1 ORDER BY e.name_lower`, userID)
}

func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ", ")
	for i := range parts {
		parts[i] = prefix + parts[i]
	}
	return strings.Join(parts, ", ")
}

// ListGroups lists an account's groups whose path starts with pathPrefix.
func (s *Service) ListGroups(ctx context.Context, account, pathPrefix string) ([]iam.Group, error) {
	var v iam.Validation
	v.PathPrefix("pathPrefix", pathPrefix)
	if err := v.Err(); err != nil {
		return nil, err
	}
	es, err := listEntities(ctx, s.reader, account, iam.KindGroup, pathPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]iam.Group, 0, len(es))
	for _, e := range es {
		out = append(out, *groupFrom(e))
	}
	return out, nil
}

// ListGroupsForUser lists the groups a user belongs to.
func (s *Service) ListGroupsForUser(ctx context.Context, account, userName string) ([]iam.Group, error) {
	var out []iam.Group
	err := s.read(ctx, func(tx *sql.Tx) error {
		u, err := loadEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindUser, Name: userName})
		if err != nil {
			return err
		}
		gs, err := groupsOf(ctx, tx, u.id)
		for _, g := range gs {
			out = append(out, *groupFrom(g))
		}
		return err
	})
	return out, err
}

// DeleteGroup removes a group without members or policies.
func (s *Service) DeleteGroup(ctx context.Context, account, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		return deleteEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindGroup, Name: name}, func(id string) []dependent {
			return []dependent{
				{`SELECT COUNT(*) FROM iam_group_members WHERE group_id = $1`, []any{id}, "Cannot delete entity, must remove users from group first."},
				{`SELECT COUNT(*) FROM iam_inline_policies WHERE owner_id = $1`, []any{id}, "Cannot delete entity, must delete policies first."},
				{`SELECT COUNT(*) FROM iam_attachments WHERE owner_id = $1`, []any{id}, "Cannot delete entity, must detach all policies first."},
			}
		})
	})
}

// AddUserToGroup makes a user a member of a group (a no-op if it already is).
func (s *Service) AddUserToGroup(ctx context.Context, account, groupName, userName string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		g, err := loadEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindGroup, Name: groupName})
		if err != nil {
			return err
		}
		u, err := loadEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindUser, Name: userName})
		if err != nil {
			return err
		}
		member, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_group_members WHERE group_id = $1 AND user_id = $2`, g.id, u.id)
		if err != nil || member > 0 {
			return err
		}
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_group_members WHERE user_id = $1`, u.id)
		if err != nil {
			return err
		}
		if n >= iam.MaxGroupsPerUser {
			return iam.LimitExceeded("Cannot exceed quota for GroupsPerUser: %d", iam.MaxGroupsPerUser)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO iam_group_members (group_id, user_id, added_at) VALUES ($1, $2, $3)`, g.id, u.id, s.nowMS())
		return err
	})
}

// RemoveUserFromGroup ends a membership.
func (s *Service) RemoveUserFromGroup(ctx context.Context, account, groupName, userName string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		g, err := loadEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindGroup, Name: groupName})
		if err != nil {
			return err
		}
		u, err := loadEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindUser, Name: userName})
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM iam_group_members WHERE group_id = $1 AND user_id = $2`, g.id, u.id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return iam.NoSuchEntity("The user with name %s cannot be found in group %s.", u.name, g.name)
		}
		return nil
	})
}

// CreateRoleInput describes a new role.
type CreateRoleInput struct {
	Account             string
	Name                string
	Path                string
	AssumeRolePolicy    string
	Description         string
	MaxSessionDuration  int // 0 means 3600
	Tags                []iam.Tag
	PermissionsBoundary string
}

// CreateRole adds a role with its trust policy.
func (s *Service) CreateRole(ctx context.Context, in CreateRoleInput) (*iam.Role, error) {
	var r *iam.Role
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = s.createRoleTx(ctx, tx, in)
		return err
	})
	return r, err
}

func (s *Service) createRoleTx(ctx context.Context, tx *sql.Tx, in CreateRoleInput) (*iam.Role, error) {
	in.Path = iam.DefaultPath(in.Path)
	if in.MaxSessionDuration == 0 {
		in.MaxSessionDuration = iam.MinRoleSessionDuration
	}
	var v iam.Validation
	v.Name("roleName", in.Name, 64)
	v.Path("path", in.Path)
	v.Description("description", in.Description)
	v.MaxSessionDuration("maxSessionDuration", in.MaxSessionDuration)
	v.Tags("tags", in.Tags)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := iam.CheckTagKeysUnique(in.Tags); err != nil {
		return nil, err
	}
	if err := s.checkTrustPolicy(in.AssumeRolePolicy); err != nil {
		return nil, err
	}
	if err := requireAccount(ctx, tx, in.Account); err != nil {
		return nil, err
	}
	if err := checkBoundary(ctx, tx, in.Account, in.PermissionsBoundary); err != nil {
		return nil, err
	}
	e := &entity{id: iam.NewID(iam.PrefixRole), account: in.Account, kind: iam.KindRole, name: in.Name, path: in.Path,
		created: s.nowMS(), boundary: in.PermissionsBoundary, trust: in.AssumeRolePolicy, desc: in.Description, maxSession: in.MaxSessionDuration}
	if err := insertEntity(ctx, tx, e); err != nil {
		return nil, err
	}
	if err := mergeTags(ctx, tx, e.id, in.Tags); err != nil {
		return nil, err
	}
	r := roleFrom(e)
	r.Tags = sortedTags(in.Tags)
	return r, nil
}

func (s *Service) checkTrustPolicy(doc string) error {
	if err := s.checkPolicy("assumeRolePolicyDocument", doc, iam.PolicyTrust); err != nil {
		return err
	}
	if iam.PolicySize(doc) > iam.MaxTrustPolicySize {
		return iam.LimitExceeded("Cannot exceed quota for ACLSizePerRole: %d", iam.MaxTrustPolicySize)
	}
	return nil
}

func roleFrom(e *entity) *iam.Role {
	return &iam.Role{AccountID: e.account, ID: e.id, Name: e.name, Path: e.path, ARN: e.arn(), CreatedAt: fromMS(e.created),
		AssumeRolePolicy: e.trust, Description: e.desc, MaxSessionDuration: e.maxSession, PermissionsBoundary: e.boundary}
}

// GetRole returns a role with its tags.
func (s *Service) GetRole(ctx context.Context, account, name string) (*iam.Role, error) {
	var r *iam.Role
	err := s.read(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindRole, Name: name})
		if err != nil {
			return err
		}
		r = roleFrom(e)
		r.Tags, err = loadTags(ctx, tx, e.id)
		return err
	})
	return r, err
}

// GetRoleByARN returns the role an ARN names (the path in the ARN must match).
func (s *Service) GetRoleByARN(ctx context.Context, arn string) (*iam.Role, error) {
	res, ok := iam.ParseIAMARN(arn)
	if !ok || res.Type != "role" || res.Account == iam.AWSManagedAccount {
		return nil, iam.InvalidInput("Invalid role ARN: %s", arn)
	}
	r, err := s.GetRole(ctx, res.Account, res.Name)
	if err != nil {
		return nil, err
	}
	if r.ARN != arn {
		return nil, iam.ErrNoSuchRole(res.Name)
	}
	return r, nil
}

// ListRoles lists an account's roles whose path starts with pathPrefix.
func (s *Service) ListRoles(ctx context.Context, account, pathPrefix string) ([]iam.Role, error) {
	var v iam.Validation
	v.PathPrefix("pathPrefix", pathPrefix)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out []iam.Role
	err := s.read(ctx, func(tx *sql.Tx) error {
		es, err := listEntities(ctx, tx, account, iam.KindRole, pathPrefix)
		if err != nil {
			return err
		}
		for _, e := range es {
			r := roleFrom(e)
			if r.Tags, err = loadTags(ctx, tx, e.id); err != nil {
				return err
			}
			out = append(out, *r)
		}
		return nil
	})
	return out, err
}

// DeleteRole removes a role without policies. Its live sessions lose every permission.
func (s *Service) DeleteRole(ctx context.Context, account, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		return deleteEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindRole, Name: name}, func(id string) []dependent {
			return []dependent{
				{`SELECT COUNT(*) FROM iam_attachments WHERE owner_id = $1`, []any{id}, "Cannot delete entity, must detach all policies first."},
				{`SELECT COUNT(*) FROM iam_inline_policies WHERE owner_id = $1`, []any{id}, "Cannot delete entity, must delete policies first."},
			}
		})
	})
}

// UpdateRoleInput changes a role's description and/or maximum session duration (nil: unchanged).
type UpdateRoleInput struct {
	Account            string
	Name               string
	Description        *string
	MaxSessionDuration *int
}

// UpdateRole changes a role's description or maximum session duration.
func (s *Service) UpdateRole(ctx context.Context, in UpdateRoleInput) error {
	var v iam.Validation
	if in.Description != nil {
		v.Description("description", *in.Description)
	}
	if in.MaxSessionDuration != nil {
		v.MaxSessionDuration("maxSessionDuration", *in.MaxSessionDuration)
	}
	if err := v.Err(); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, iam.EntityRef{Account: in.Account, Kind: iam.KindRole, Name: in.Name})
		if err != nil {
			return err
		}
		if in.Description != nil {
			e.desc = *in.Description
		}
		if in.MaxSessionDuration != nil {
			e.maxSession = *in.MaxSessionDuration
		}
		_, err = tx.ExecContext(ctx, `UPDATE iam_entities SET description = $1, max_session_duration = $2 WHERE id = $3`, e.desc, e.maxSession, e.id)
		return err
	})
}

// UpdateAssumeRolePolicy replaces a role's trust policy.
func (s *Service) UpdateAssumeRolePolicy(ctx context.Context, account, roleName, doc string) error {
	if err := s.checkTrustPolicy(doc); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindRole, Name: roleName})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE iam_entities SET trust_policy = $1 WHERE id = $2`, doc, e.id)
		return err
	})
}

// Tags.

func loadTags(ctx context.Context, q querier, ownerID string) ([]iam.Tag, error) {
	return queryAll(ctx, q, func(row scanner) (iam.Tag, error) {
		var t iam.Tag
		err := row.Scan(&t.Key, &t.Value)
		return t, err
	}, `SELECT tag_key, tag_value FROM iam_tags WHERE owner_id = $1 ORDER BY key_lower`, ownerID)
}

// mergeTags adds or overwrites tags (keys compared without case), keeping the total within 50.
func mergeTags(ctx context.Context, tx *sql.Tx, ownerID string, tags []iam.Tag) error {
	for _, t := range tags {
		k := strings.ToLower(t.Key)
		if _, err := tx.ExecContext(ctx, `DELETE FROM iam_tags WHERE owner_id = $1 AND key_lower = $2`, ownerID, k); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO iam_tags (owner_id, key_lower, tag_key, tag_value) VALUES ($1, $2, $3, $4)`,
			ownerID, k, t.Key, t.Value); err != nil {
			return err
		}
	}
	n, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_tags WHERE owner_id = $1`, ownerID)
	if err != nil {
		return err
	}
	if n > iam.MaxTagsPerEntity {
		return iam.LimitExceeded("The number of tags has reached the maximum limit.")
	}
	return nil
}

func sortedTags(tags []iam.Tag) []iam.Tag {
	out := append([]iam.Tag(nil), tags...)
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Key) < strings.ToLower(out[j].Key) })
	return out
}

// tagOwner finds the unique id that tags of ref hang on (users and roles carry tags).
func tagOwner(ctx context.Context, q querier, ref iam.EntityRef) (string, error) {
	if ref.Kind == iam.KindGroup {
		return "", iam.InvalidInput("Groups cannot be tagged.")
	}
	e, err := loadEntity(ctx, q, ref)
	if err != nil {
		return "", err
	}
	return e.id, nil
}

// TagEntity adds or replaces tags on a user or role.
func (s *Service) TagEntity(ctx context.Context, ref iam.EntityRef, tags []iam.Tag) error {
	if err := checkTagInput(tags); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		id, err := tagOwner(ctx, tx, ref)
		if err != nil {
			return err
		}
		return mergeTags(ctx, tx, id, tags)
	})
}

// UntagEntity removes tags by key from a user or role; unknown keys are ignored.
func (s *Service) UntagEntity(ctx context.Context, ref iam.EntityRef, keys []string) error {
	if err := checkTagKeys(keys); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		id, err := tagOwner(ctx, tx, ref)
		if err != nil {
			return err
		}
		return removeTags(ctx, tx, id, keys)
	})
}

// ListEntityTags lists the tags of a user or role.
func (s *Service) ListEntityTags(ctx context.Context, ref iam.EntityRef) ([]iam.Tag, error) {
	var out []iam.Tag
	err := s.read(ctx, func(tx *sql.Tx) error {
		id, err := tagOwner(ctx, tx, ref)
		if err != nil {
			return err
		}
		out, err = loadTags(ctx, tx, id)
		return err
	})
	return out, err
}

func checkTagInput(tags []iam.Tag) error {
	var v iam.Validation
	v.Tags("tags", tags)
	if err := v.Err(); err != nil {
		return err
	}
	return iam.CheckTagKeysUnique(tags)
}

func checkTagKeys(keys []string) error {
	var v iam.Validation
	if len(keys) > iam.MaxTagsPerEntity {
		return iam.LimitExceeded("The number of tags has reached the maximum limit.")
	}
	for i, k := range keys {
		v.TagKey("tagKeys."+strconv.Itoa(i+1), k)
	}
	return v.Err()
}

func removeTags(ctx context.Context, tx *sql.Tx, ownerID string, keys []string) error {
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `DELETE FROM iam_tags WHERE owner_id = $1 AND key_lower = $2`, ownerID, strings.ToLower(k)); err != nil {
			return err
		}
	}
	return nil
}

// UpdateEntityInput renames or moves a user or group (UpdateUser, UpdateGroup). Empty fields stay.
type UpdateEntityInput struct {
	Ref     iam.EntityRef
	NewName string
	NewPath string
}

// UpdateEntity changes a user's or group's name and/or path; keys, policies and memberships follow.
func (s *Service) UpdateEntity(ctx context.Context, in UpdateEntityInput) error {
	if in.Ref.Kind == iam.KindRole {
		return iam.InvalidInput("Roles cannot be renamed.")
	}
	max := 64
	if in.Ref.Kind == iam.KindGroup {
		max = 128
	}
	var v iam.Validation
	if in.NewName != "" {
		v.Name("new"+strings.ToUpper(string(in.Ref.Kind[:1]))+string(in.Ref.Kind[1:])+"Name", in.NewName, max)
	}
	if in.NewPath != "" {
		v.Path("newPath", in.NewPath)
	}
	if err := v.Err(); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		e, err := loadEntity(ctx, tx, in.Ref)
		if err != nil {
			return err
		}
		name, path := e.name, e.path
		if in.NewName != "" {
			name = in.NewName
		}
		if in.NewPath != "" {
			path = in.NewPath
		}
		if !strings.EqualFold(name, e.name) {
			n, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_entities WHERE account_id = $1 AND kind = $2 AND name_lower = $3`,
				e.account, string(e.kind), strings.ToLower(name))
			if err != nil {
				return err
			}
			if n > 0 {
				return iam.ErrEntityAlreadyExists(e.kind, name)
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE iam_entities SET name = $1, name_lower = $2, path = $3 WHERE id = $4`,
			name, strings.ToLower(name), path, e.id)
		return err
	})
}

package iamapi

import (
	"context"

	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/policy"
)

// resource is what an operation on an existing user, group or role is authorized against:
// the entity's ARN (with its path) and the condition keys it brings, its tags and its
// permissions boundary. For an entity that does not exist the ARN has the path "/" and there
// are no keys (the answer is then NoSuchEntity, but only to callers allowed to learn it).
type resource struct {
	arn      string
	tags     []iam.Tag
	boundary string
}

// entity looks up a user, group or role for authorization.
func (a *api) entity(ctx context.Context, account string, kind iam.EntityKind, name string) resource {
	switch kind {
	case iam.KindUser:
		if u, err := a.Store.GetUser(ctx, account, name); err == nil {
			return resource{arn: u.ARN, tags: u.Tags, boundary: u.PermissionsBoundary}
		}
	case iam.KindGroup:
		if g, err := a.Store.LookupGroup(ctx, account, name); err == nil {
			return resource{arn: g.ARN}
		}
	case iam.KindRole:
		if r, err := a.Store.GetRole(ctx, account, name); err == nil {
			return resource{arn: r.ARN, tags: r.Tags, boundary: r.PermissionsBoundary}
		}
	}
	return resource{arn: iam.EntityARN(account, string(kind), "/", name)}
}

// boundaryOperations are the operations whose requests carry iam:PermissionsBoundary with
// the boundary the user or role has, so that administrators can be limited to entities
// bounded by a given policy. Put*PermissionsBoundary carries the new boundary instead.
var boundaryOperations = map[string]bool{
	"AttachUserPolicy": true, "AttachRolePolicy": true, "DetachUserPolicy": true, "DetachRolePolicy": true,
	"PutUserPolicy": true, "PutRolePolicy": true, "DeleteUserPolicy": true, "DeleteRolePolicy": true,
	"DeleteUserPermissionsBoundary": true, "DeleteRolePermissionsBoundary": true,
}

// keys are the resource's condition keys for operation: aws:ResourceTag/K and
// iam:ResourceTag/K for each tag, and iam:PermissionsBoundary where IAM defines it.
func (r resource) keys(operation string) []authz.Key {
	var keys []authz.Key
	for _, t := range r.tags {
		keys = append(keys,
			authz.Key{Name: "aws:ResourceTag/" + t.Key, Type: policy.TypeString, Values: []string{t.Value}},
			authz.Key{Name: "iam:ResourceTag/" + t.Key, Type: policy.TypeString, Values: []string{t.Value}})
	}
	if r.boundary != "" && boundaryOperations[operation] {
		keys = append(keys, boundaryKey(r.boundary))
	}
	return keys
}

// authorizeOn asks whether the caller may perform iam:<operation> on r, with r's keys and
// the request's own.
func (a *api) authorizeOn(ctx context.Context, operation string, r resource, extra ...authz.Key) error {
	return a.authorize(ctx, operation, r.arn, append(r.keys(operation), extra...)...)
}

// startOnEntity is the first step of a handler that acts on a named user, group or role: the
// caller's account, and whether the caller may perform operation on that entity.
func (a *api) startOnEntity(ctx context.Context, operation string, kind iam.EntityKind, name string, extra ...authz.Key) (string, error) {
	_, account, err := caller(ctx)
	if err != nil {
		return "", err
	}
	return account, a.authorizeOn(ctx, operation, a.entity(ctx, account, kind, name), extra...)
}

// startOnUser is the first step of the access-key and MFA calls whose UserName is optional:
// the caller's account, the user acted on (see implicitUser) and whether the caller may.
func (a *api) startOnUser(ctx context.Context, operation string, name *string) (account, user string, err error) {
	p, account, err := caller(ctx)
	if err != nil {
		return "", "", err
	}
	user, target, err := a.implicitUser(ctx, p, account, name)
	if err != nil {
		return "", "", err
	}
	return account, user, a.authorizeOn(ctx, operation, target)
}

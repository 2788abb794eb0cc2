package iamapi

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
)

// entityPolicyIn carries the members of the inline-policy and attachment calls of all three
// entity kinds; which of them an operation requires is checked by the handler.
type entityPolicyIn struct {
	UserName       *string
	GroupName      *string
	RoleName       *string
	PolicyName     *string
	PolicyDocument *string
	PolicyArn      *string
	PathPrefix     *string
	Paging
}

// entity returns the entity an inline or attachment call names, and its member name.
func (in *entityPolicyIn) entity(kind iam.EntityKind) (name *string, member string) {
	switch kind {
	case iam.KindUser:
		return in.UserName, "userName"
	case iam.KindGroup:
		return in.GroupName, "groupName"
	}
	return in.RoleName, "roleName"
}

// kindNames spells each entity kind as the operation names do.
var kindNames = map[iam.EntityKind]string{iam.KindUser: "User", iam.KindGroup: "Group", iam.KindRole: "Role"}

// entityTarget checks the members an inline-policy or attachment call requires (the entity's
// name and the members named in needs) and authorizes the call on the entity; Attach* and
// Detach* calls carry the policy's ARN as iam:PolicyARN.
func (a *api) entityTarget(ctx context.Context, kind iam.EntityKind, operation string, in *entityPolicyIn, needs ...string) (iam.EntityRef, error) {
	name, member := in.entity(kind)
	checks := []any{member, name}
	var keys []authz.Key
	for _, n := range needs {
		switch n {
		case "policyName":
			checks = append(checks, n, in.PolicyName)
		case "policyDocument":
			checks = append(checks, n, in.PolicyDocument)
		case "policyArn":
			checks = append(checks, n, in.PolicyArn)
			if in.PolicyArn != nil {
				keys = append(keys, policyARNKey(*in.PolicyArn))
			}
		}
	}
	if err := required(checks...); err != nil {
		return iam.EntityRef{}, err
	}
	account, err := a.startOnEntity(ctx, operation, kind, *name, keys...)
	return iam.EntityRef{Account: account, Kind: kind, Name: *name}, err
}

func (a *api) registerInlinePolicies(e *awsproto.Endpoint) {
	for _, kind := range []iam.EntityKind{iam.KindUser, iam.KindGroup, iam.KindRole} {
		k := kindNames[kind]

		put := func(ctx context.Context, in *entityPolicyIn) (*awsproto.NoOutput, error) {
			ref, err := a.entityTarget(ctx, kind, "Put"+k+"Policy", in, "policyName", "policyDocument")
			if err != nil {
				return nil, err
			}
			return &awsproto.NoOutput{}, a.Store.PutInlinePolicy(ctx, ref, *in.PolicyName, *in.PolicyDocument)
		}
		del := func(ctx context.Context, in *entityPolicyIn) (*awsproto.NoOutput, error) {
			ref, err := a.entityTarget(ctx, kind, "Delete"+k+"Policy", in, "policyName")
			if err != nil {
				return nil, err
			}
			return &awsproto.NoOutput{}, a.Store.DeleteInlinePolicy(ctx, ref, *in.PolicyName)
		}
		list := func(ctx context.Context, in *entityPolicyIn) ([]string, bool, *string, error) {
			ref, err := a.entityTarget(ctx, kind, "List"+k+"Policies", in)
			if err != nil {
				return nil, false, nil, err
			}
			names, err := a.Store.ListInlinePolicies(ctx, ref)
			if err != nil {
				return nil, false, nil, err
			}
			return pageOf(names, in.Paging)
		}

		op(e, "Put"+k+"Policy", put)
		op(e, "Delete"+k+"Policy", del)
		switch kind {
		case iam.KindUser:
			op(e, "GetUserPolicy", func(ctx context.Context, in *entityPolicyIn) (*sdk.GetUserPolicyOutput, error) {
				p, err := a.getInline(ctx, kind, in)
				if err != nil {
					return nil, err
				}
				return &sdk.GetUserPolicyOutput{UserName: aws.String(p.Owner.Name), PolicyName: aws.String(p.Name),
					PolicyDocument: encodeDocument(p.Document)}, nil
			})
			op(e, "ListUserPolicies", func(ctx context.Context, in *entityPolicyIn) (*sdk.ListUserPoliciesOutput, error) {
				names, truncated, marker, err := list(ctx, in)
				if err != nil {
					return nil, err
				}
				return &sdk.ListUserPoliciesOutput{PolicyNames: names, IsTruncated: truncated, Marker: marker}, nil
			})
		case iam.KindGroup:
			op(e, "GetGroupPolicy", func(ctx context.Context, in *entityPolicyIn) (*sdk.GetGroupPolicyOutput, error) {
				p, err := a.getInline(ctx, kind, in)
				if err != nil {
					return nil, err
				}
				return &sdk.GetGroupPolicyOutput{GroupName: aws.String(p.Owner.Name), PolicyName: aws.String(p.Name),
					PolicyDocument: encodeDocument(p.Document)}, nil
			})
			op(e, "ListGroupPolicies", func(ctx context.Context, in *entityPolicyIn) (*sdk.ListGroupPoliciesOutput, error) {
				names, truncated, marker, err := list(ctx, in)
				if err != nil {
					return nil, err
				}
				return &sdk.ListGroupPoliciesOutput{PolicyNames: names, IsTruncated: truncated, Marker: marker}, nil
			})
		case iam.KindRole:
			op(e, "GetRolePolicy", func(ctx context.Context, in *entityPolicyIn) (*sdk.GetRolePolicyOutput, error) {
				p, err := a.getInline(ctx, kind, in)
				if err != nil {
					return nil, err
				}
				return &sdk.GetRolePolicyOutput{RoleName: aws.String(p.Owner.Name), PolicyName: aws.String(p.Name),
					PolicyDocument: encodeDocument(p.Document)}, nil
			})
			op(e, "ListRolePolicies", func(ctx context.Context, in *entityPolicyIn) (*sdk.ListRolePoliciesOutput, error) {
				names, truncated, marker, err := list(ctx, in)
				if err != nil {
					return nil, err
				}
				return &sdk.ListRolePoliciesOutput{PolicyNames: names, IsTruncated: truncated, Marker: marker}, nil
			})
		}
	}
}

func (a *api) getInline(ctx context.Context, kind iam.EntityKind, in *entityPolicyIn) (*iam.InlinePolicy, error) {
	ref, err := a.entityTarget(ctx, kind, "Get"+kindNames[kind]+"Policy", in, "policyName")
	if err != nil {
		return nil, err
	}
	return a.Store.GetInlinePolicy(ctx, ref, *in.PolicyName)
}

package iamapi

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
)

type createPolicyIn struct {
	PolicyName     string `aws:"PolicyName,required"`
	PolicyDocument string `aws:"PolicyDocument,required"`
	Path           *string
	Description    *string
	Tags           []tagIn
}

type policyARNIn struct {
	PolicyArn string `aws:"PolicyArn,required"`
}

type policyARNPageIn struct {
	PolicyArn string `aws:"PolicyArn,required"`
	Paging
}

type listPoliciesIn struct {
	Scope             *string
	OnlyAttached      bool
	PathPrefix        *string
	PolicyUsageFilter *string
	Paging
}

type createPolicyVersionIn struct {
	PolicyArn      string `aws:"PolicyArn,required"`
	PolicyDocument string `aws:"PolicyDocument,required"`
	SetAsDefault   bool
}

type policyVersionIn struct {
	PolicyArn string `aws:"PolicyArn,required"`
	VersionId string `aws:"VersionId,required"`
}

type listEntitiesForPolicyIn struct {
	PolicyArn         string `aws:"PolicyArn,required"`
	EntityFilter      *string
	PathPrefix        *string
	PolicyUsageFilter *string
	Paging
}

func (a *api) registerManagedPolicies(e *awsproto.Endpoint) {
	op(e, "CreatePolicy", func(ctx context.Context, in *createPolicyIn) (*sdk.CreatePolicyOutput, error) {
		_, account, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		tags := domainTags(in.Tags)
		arn := iam.PolicyARN(account, iam.DefaultPath(str(in.Path)), in.PolicyName)
		if err := a.authorize(ctx, "CreatePolicy", arn, requestTagKeys(tags)...); err != nil {
			return nil, err
		}
		if len(tags) > 0 {
			if err := a.authorize(ctx, "TagPolicy", arn, requestTagKeys(tags)...); err != nil {
				return nil, err
			}
		}
		p, err := a.Store.CreatePolicy(ctx, iamsql.CreatePolicyInput{Account: account, Name: in.PolicyName, Path: str(in.Path),
			Document: in.PolicyDocument, Description: str(in.Description), Tags: tags})
		if err != nil {
			return nil, err
		}
		out := wirePolicy(p, true)
		out.Description = nil // CreatePolicy's answer leaves the description out, as IAM's does
		return &sdk.CreatePolicyOutput{Policy: &out}, nil
	})

	op(e, "GetPolicy", func(ctx context.Context, in *policyARNIn) (*sdk.GetPolicyOutput, error) {
		_, account, err := a.start(ctx, "GetPolicy", in.PolicyArn)
		if err != nil {
			return nil, err
		}
		p, err := a.Store.GetPolicy(ctx, account, in.PolicyArn)
		if err != nil {
			return nil, err
		}
		out := wirePolicy(p, true)
		return &sdk.GetPolicyOutput{Policy: &out}, nil
	})

	op(e, "ListPolicies", func(ctx context.Context, in *listPoliciesIn) (*sdk.ListPoliciesOutput, error) {
		_, account, err := a.start(ctx, "ListPolicies", "*")
		if err != nil {
			return nil, err
		}
		var v iam.Validation
		if in.Scope != nil {
			v.Enum("scope", *in.Scope, iamsql.ScopeAll, iamsql.ScopeAWS, iamsql.ScopeLocal)
		}
		if in.PolicyUsageFilter != nil {
			v.Enum("policyUsageFilter", *in.PolicyUsageFilter, "PermissionsPolicy", "PermissionsBoundary")
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
		policies, err := a.Store.ListPolicies(ctx, iamsql.ListPoliciesInput{Account: account, Scope: str(in.Scope),
			OnlyAttached: in.OnlyAttached, PathPrefix: str(in.PathPrefix)})
		if err != nil {
			return nil, err
		}
		if in.OnlyAttached && in.PolicyUsageFilter != nil {
			kept := policies[:0:0]
			for _, p := range policies {
				if (*in.PolicyUsageFilter == "PermissionsPolicy" && p.AttachmentCount > 0) ||
					(*in.PolicyUsageFilter == "PermissionsBoundary" && p.BoundaryUsageCount > 0) {
					kept = append(kept, p)
				}
			}
			policies = kept
		}
		list, truncated, marker, err := wirePage(policies, in.Paging, func(v *iam.ManagedPolicy) iamtypes.Policy { return wirePolicy(v, false) })
		if err != nil {
			return nil, err
		}
		return &sdk.ListPoliciesOutput{Policies: list, IsTruncated: truncated, Marker: marker}, nil
	})

	op(e, "DeletePolicy", func(ctx context.Context, in *policyARNIn) (*awsproto.NoOutput, error) {
		_, account, err := a.start(ctx, "DeletePolicy", in.PolicyArn)
		if err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.DeletePolicy(ctx, account, in.PolicyArn)
	})

	op(e, "CreatePolicyVersion", func(ctx context.Context, in *createPolicyVersionIn) (*sdk.CreatePolicyVersionOutput, error) {
		_, account, err := a.start(ctx, "CreatePolicyVersion", in.PolicyArn)
		if err != nil {
			return nil, err
		}
		v, err := a.Store.CreatePolicyVersion(ctx, account, in.PolicyArn, in.PolicyDocument, in.SetAsDefault)
		if err != nil {
			return nil, err
		}
		out := wireVersion(v, false)
		return &sdk.CreatePolicyVersionOutput{PolicyVersion: &out}, nil
	})

	op(e, "GetPolicyVersion", func(ctx context.Context, in *policyVersionIn) (*sdk.GetPolicyVersionOutput, error) {
		_, account, err := a.start(ctx, "GetPolicyVersion", in.PolicyArn)
		if err != nil {
			return nil, err
		}
		v, err := a.Store.GetPolicyVersion(ctx, account, in.PolicyArn, in.VersionId)
		if err != nil {
			return nil, err
		}
		out := wireVersion(v, true)
		return &sdk.GetPolicyVersionOutput{PolicyVersion: &out}, nil
	})

	op(e, "ListPolicyVersions", func(ctx context.Context, in *policyARNPageIn) (*sdk.ListPolicyVersionsOutput, error) {
		_, account, err := a.start(ctx, "ListPolicyVersions", in.PolicyArn)
		if err != nil {
			return nil, err
		}
		versions, err := a.Store.ListPolicyVersions(ctx, account, in.PolicyArn)
		if err != nil {
			return nil, err
		}
		list, truncated, marker, err := wirePage(versions, in.Paging, func(v *iam.PolicyVersion) iamtypes.PolicyVersion { return wireVersion(v, false) })
		if err != nil {
			return nil, err
		}
		return &sdk.ListPolicyVersionsOutput{Versions: list, IsTruncated: truncated, Marker: marker}, nil
	})

	op(e, "DeletePolicyVersion", func(ctx context.Context, in *policyVersionIn) (*awsproto.NoOutput, error) {
		_, account, err := a.start(ctx, "DeletePolicyVersion", in.PolicyArn)
		if err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.DeletePolicyVersion(ctx, account, in.PolicyArn, in.VersionId)
	})

	op(e, "SetDefaultPolicyVersion", func(ctx context.Context, in *policyVersionIn) (*awsproto.NoOutput, error) {
		_, account, err := a.start(ctx, "SetDefaultPolicyVersion", in.PolicyArn)
		if err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.SetDefaultPolicyVersion(ctx, account, in.PolicyArn, in.VersionId)
	})

	op(e, "ListEntitiesForPolicy", func(ctx context.Context, in *listEntitiesForPolicyIn) (*sdk.ListEntitiesForPolicyOutput, error) {
		_, account, err := a.start(ctx, "ListEntitiesForPolicy", in.PolicyArn)
		if err != nil {
			return nil, err
		}
		var v iam.Validation
		if in.EntityFilter != nil {
			v.Enum("entityFilter", *in.EntityFilter, "User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
		entities, err := a.Store.ListEntitiesForPolicy(ctx, account, in.PolicyArn)
		if err != nil {
			return nil, err
		}
		kept := entities[:0:0]
		for _, ent := range entities {
			if in.EntityFilter == nil || strings.EqualFold(*in.EntityFilter, string(ent.Kind)) {
				kept = append(kept, ent)
			}
		}
		page, truncated, marker, err := pageOf(kept, in.Paging)
		if err != nil {
			return nil, err
		}
		out := &sdk.ListEntitiesForPolicyOutput{PolicyGroups: []iamtypes.PolicyGroup{}, PolicyUsers: []iamtypes.PolicyUser{},
			PolicyRoles: []iamtypes.PolicyRole{}, IsTruncated: truncated, Marker: marker}
		for _, ent := range page {
			switch ent.Kind {
			case iam.KindUser:
				out.PolicyUsers = append(out.PolicyUsers, iamtypes.PolicyUser{UserName: aws.String(ent.Name), UserId: aws.String(ent.ID)})
			case iam.KindGroup:
				out.PolicyGroups = append(out.PolicyGroups, iamtypes.PolicyGroup{GroupName: aws.String(ent.Name), GroupId: aws.String(ent.ID)})
			case iam.KindRole:
				out.PolicyRoles = append(out.PolicyRoles, iamtypes.PolicyRole{RoleName: aws.String(ent.Name), RoleId: aws.String(ent.ID)})
			}
		}
		return out, nil
	})
}

type boundaryIn struct {
	UserName            *string
	RoleName            *string
	PermissionsBoundary *string
}

func (a *api) registerAttachments(e *awsproto.Endpoint) {
	for _, kind := range []iam.EntityKind{iam.KindUser, iam.KindGroup, iam.KindRole} {
		k := kindNames[kind]
		op(e, "Attach"+k+"Policy", func(ctx context.Context, in *entityPolicyIn) (*awsproto.NoOutput, error) {
			ref, err := a.entityTarget(ctx, kind, "Attach"+k+"Policy", in, "policyArn")
			if err != nil {
				return nil, err
			}
			return &awsproto.NoOutput{}, a.Store.AttachPolicy(ctx, ref, *in.PolicyArn)
		})
		op(e, "Detach"+k+"Policy", func(ctx context.Context, in *entityPolicyIn) (*awsproto.NoOutput, error) {
			ref, err := a.entityTarget(ctx, kind, "Detach"+k+"Policy", in, "policyArn")
			if err != nil {
				return nil, err
			}
			return &awsproto.NoOutput{}, a.Store.DetachPolicy(ctx, ref, *in.PolicyArn)
		})
		listAttached := func(ctx context.Context, in *entityPolicyIn) ([]iamtypes.AttachedPolicy, bool, *string, error) {
			ref, err := a.entityTarget(ctx, kind, "ListAttached"+k+"Policies", in)
			if err != nil {
				return nil, false, nil, err
			}
			attached, err := a.Store.ListAttachedPolicies(ctx, ref)
			if err != nil {
				return nil, false, nil, err
			}
			if prefix := str(in.PathPrefix); prefix != "" {
				kept := attached[:0:0]
				for _, p := range attached {
					if r, ok := iam.ParsePolicyARN(p.ARN); ok && strings.HasPrefix(r.Path, prefix) {
						kept = append(kept, p)
					}
				}
				attached = kept
			}
			page, truncated, marker, err := pageOf(attached, in.Paging)
			return wireAttached(page), truncated, marker, err
		}
		switch kind {
		case iam.KindUser:
			op(e, "ListAttachedUserPolicies", func(ctx context.Context, in *entityPolicyIn) (*sdk.ListAttachedUserPoliciesOutput, error) {
				list, truncated, marker, err := listAttached(ctx, in)
				if err != nil {
					return nil, err
				}
				return &sdk.ListAttachedUserPoliciesOutput{AttachedPolicies: list, IsTruncated: truncated, Marker: marker}, nil
			})
		case iam.KindGroup:
			op(e, "ListAttachedGroupPolicies", func(ctx context.Context, in *entityPolicyIn) (*sdk.ListAttachedGroupPoliciesOutput, error) {
				list, truncated, marker, err := listAttached(ctx, in)
				if err != nil {
					return nil, err
				}
				return &sdk.ListAttachedGroupPoliciesOutput{AttachedPolicies: list, IsTruncated: truncated, Marker: marker}, nil
			})
		case iam.KindRole:
			op(e, "ListAttachedRolePolicies", func(ctx context.Context, in *entityPolicyIn) (*sdk.ListAttachedRolePoliciesOutput, error) {
				list, truncated, marker, err := listAttached(ctx, in)
				if err != nil {
					return nil, err
				}
				return &sdk.ListAttachedRolePoliciesOutput{AttachedPolicies: list, IsTruncated: truncated, Marker: marker}, nil
			})
		}
	}

	for _, kind := range []iam.EntityKind{iam.KindUser, iam.KindRole} {
		k := kindNames[kind]
		target := func(ctx context.Context, in *boundaryIn, operation string) (iam.EntityRef, error) {
			name, member := in.UserName, "userName"
			if kind == iam.KindRole {
				name, member = in.RoleName, "roleName"
			}
			checks := []any{member, name}
			if strings.HasPrefix(operation, "Put") {
				checks = append(checks, "permissionsBoundary", in.PermissionsBoundary)
			}
			if err := required(checks...); err != nil {
				return iam.EntityRef{}, err
			}
			var keys []authz.Key
			if in.PermissionsBoundary != nil {
				keys = append(keys, boundaryKey(*in.PermissionsBoundary))
			}
			account, err := a.startOnEntity(ctx, operation, kind, *name, keys...)
			return iam.EntityRef{Account: account, Kind: kind, Name: *name}, err
		}
		op(e, "Put"+k+"PermissionsBoundary", func(ctx context.Context, in *boundaryIn) (*awsproto.NoOutput, error) {
			ref, err := target(ctx, in, "Put"+k+"PermissionsBoundary")
			if err != nil {
				return nil, err
			}
			return &awsproto.NoOutput{}, a.Store.PutPermissionsBoundary(ctx, ref, *in.PermissionsBoundary)
		})
		op(e, "Delete"+k+"PermissionsBoundary", func(ctx context.Context, in *boundaryIn) (*awsproto.NoOutput, error) {
			ref, err := target(ctx, in, "Delete"+k+"PermissionsBoundary")
			if err != nil {
				return nil, err
			}
			return &awsproto.NoOutput{}, a.Store.DeletePermissionsBoundary(ctx, ref)
		})
	}
}

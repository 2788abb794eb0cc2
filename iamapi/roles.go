package iamapi

import (
	"context"

	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
)

type createRoleIn struct {
	RoleName                 string `aws:"RoleName,required"`
	AssumeRolePolicyDocument string `aws:"AssumeRolePolicyDocument,required"`
	Path                     *string
	Description              *string
	MaxSessionDuration       *int32
	PermissionsBoundary      *string
	Tags                     []tagIn
}

type roleNameIn struct {
	RoleName string `aws:"RoleName,required"`
}

type updateRoleIn struct {
	RoleName           string `aws:"RoleName,required"`
	Description        *string
	MaxSessionDuration *int32
}

type updateRoleDescriptionIn struct {
	RoleName    string `aws:"RoleName,required"`
	Description string `aws:"Description,required"`
}

type updateAssumeRolePolicyIn struct {
	RoleName       string `aws:"RoleName,required"`
	PolicyDocument string `aws:"PolicyDocument,required"`
}

func (a *api) registerRoles(e *awsproto.Endpoint) {
	op(e, "CreateRole", func(ctx context.Context, in *createRoleIn) (*sdk.CreateRoleOutput, error) {
		_, account, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		tags := domainTags(in.Tags)
		keys := requestTagKeys(tags)
		if b := str(in.PermissionsBoundary); b != "" {
			keys = append(keys, boundaryKey(b))
		}
		arn := iam.RoleARN(account, iam.DefaultPath(str(in.Path)), in.RoleName)
		if err := a.authorize(ctx, "CreateRole", arn, keys...); err != nil {
			return nil, err
		}
		if len(tags) > 0 {
			if err := a.authorize(ctx, "TagRole", arn, requestTagKeys(tags)...); err != nil {
				return nil, err
			}
		}
		maxSession := 0
		if in.MaxSessionDuration != nil {
			maxSession = int(*in.MaxSessionDuration)
			var v iam.Validation
			v.MaxSessionDuration("maxSessionDuration", maxSession)
			if err := v.Err(); err != nil {
				return nil, err
			}
		}
		r, err := a.Store.CreateRole(ctx, iamsql.CreateRoleInput{Account: account, Name: in.RoleName, Path: str(in.Path),
			AssumeRolePolicy: in.AssumeRolePolicyDocument, Description: str(in.Description), MaxSessionDuration: maxSession,
			Tags: tags, PermissionsBoundary: str(in.PermissionsBoundary)})
		if err != nil {
			return nil, err
		}
		out := wireRole(r, true)
		out.RoleLastUsed = nil
		return &sdk.CreateRoleOutput{Role: &out}, nil
	})

	op(e, "GetRole", func(ctx context.Context, in *roleNameIn) (*sdk.GetRoleOutput, error) {
		_, account, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		r, lookupErr := a.Store.GetRole(ctx, account, in.RoleName)
		target := resource{arn: iam.RoleARN(account, "/", in.RoleName)}
		if lookupErr == nil {
			target = resource{arn: r.ARN, tags: r.Tags, boundary: r.PermissionsBoundary}
		}
		if err := a.authorizeOn(ctx, "GetRole", target); err != nil {
			return nil, err
		}
		if lookupErr != nil {
			return nil, lookupErr
		}
		out := wireRole(r, true)
		return &sdk.GetRoleOutput{Role: &out}, nil
	})

	op(e, "ListRoles", func(ctx context.Context, in *listByPathIn) (*sdk.ListRolesOutput, error) {
		_, account, err := a.start(ctx, "ListRoles", "*")
		if err != nil {
			return nil, err
		}
		roles, err := a.Store.ListRoles(ctx, account, str(in.PathPrefix))
		if err != nil {
			return nil, err
		}
		list, truncated, marker, err := wirePage(roles, in.Paging, func(v *iam.Role) iamtypes.Role { return wireRole(v, false) })
		if err != nil {
			return nil, err
		}
		return &sdk.ListRolesOutput{Roles: list, IsTruncated: truncated, Marker: marker}, nil
	})

	op(e, "UpdateRole", func(ctx context.Context, in *updateRoleIn) (*sdk.UpdateRoleOutput, error) {
		account, err := a.startOnEntity(ctx, "UpdateRole", iam.KindRole, in.RoleName)
		if err != nil {
			return nil, err
		}
		upd := iamsql.UpdateRoleInput{Account: account, Name: in.RoleName, Description: in.Description}
		if in.MaxSessionDuration != nil {
			d := int(*in.MaxSessionDuration)
			upd.MaxSessionDuration = &d
		}
		if err := a.Store.UpdateRole(ctx, upd); err != nil {
			return nil, err
		}
		return &sdk.UpdateRoleOutput{}, nil
	})

	op(e, "UpdateRoleDescription", func(ctx context.Context, in *updateRoleDescriptionIn) (*sdk.UpdateRoleDescriptionOutput, error) {
		account, err := a.startOnEntity(ctx, "UpdateRoleDescription", iam.KindRole, in.RoleName)
		if err != nil {
			return nil, err
		}
		if err := a.Store.UpdateRole(ctx, iamsql.UpdateRoleInput{Account: account, Name: in.RoleName, Description: &in.Description}); err != nil {
			return nil, err
		}
		r, err := a.Store.GetRole(ctx, account, in.RoleName)
		if err != nil {
			return nil, err
		}
		out := wireRole(r, true)
		return &sdk.UpdateRoleDescriptionOutput{Role: &out}, nil
	})

	op(e, "UpdateAssumeRolePolicy", func(ctx context.Context, in *updateAssumeRolePolicyIn) (*awsproto.NoOutput, error) {
		account, err := a.startOnEntity(ctx, "UpdateAssumeRolePolicy", iam.KindRole, in.RoleName)
		if err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.UpdateAssumeRolePolicy(ctx, account, in.RoleName, in.PolicyDocument)
	})

	op(e, "DeleteRole", func(ctx context.Context, in *roleNameIn) (*awsproto.NoOutput, error) {
		account, err := a.startOnEntity(ctx, "DeleteRole", iam.KindRole, in.RoleName)
		if err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.DeleteRole(ctx, account, in.RoleName)
	})
}

package iamapi

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
)

type createUserIn struct {
	UserName            string `aws:"UserName,required"`
	Path                *string
	PermissionsBoundary *string
	Tags                []tagIn
}

type userNameIn struct {
	UserName string `aws:"UserName,required"`
}

type optionalUserIn struct {
	UserName *string
}

type listByPathIn struct {
	PathPrefix *string
	Paging
}

type updateEntityIn struct {
	UserName     *string
	GroupName    *string
	NewUserName  *string
	NewGroupName *string
	NewPath      *string
}

type userPageIn struct {
	UserName string `aws:"UserName,required"`
	Paging
}

func (a *api) registerUsers(e *awsproto.Endpoint) {
	op(e, "CreateUser", func(ctx context.Context, in *createUserIn) (*sdk.CreateUserOutput, error) {
		_, account, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		tags := domainTags(in.Tags)
		keys := requestTagKeys(tags)
		if b := str(in.PermissionsBoundary); b != "" {
			keys = append(keys, boundaryKey(b))
		}
		arn := iam.UserARN(account, iam.DefaultPath(str(in.Path)), in.UserName)
		if err := a.authorize(ctx, "CreateUser", arn, keys...); err != nil {
			return nil, err
		}
		if len(tags) > 0 {
			if err := a.authorize(ctx, "TagUser", arn, requestTagKeys(tags)...); err != nil {
				return nil, err
			}
		}
		u, err := a.Store.CreateUser(ctx, iamsql.CreateUserInput{Account: account, Name: in.UserName, Path: str(in.Path),
			Tags: tags, PermissionsBoundary: str(in.PermissionsBoundary)})
		if err != nil {
			return nil, err
		}
		out := wireUser(u, true)
		return &sdk.CreateUserOutput{User: &out}, nil
	})

	op(e, "GetUser", func(ctx context.Context, in *optionalUserIn) (*sdk.GetUserOutput, error) {
		p, account, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		if in.UserName == nil && p.Type == iam.PrincipalRoot { // the root user asking about itself
			arn := iam.RootARN(account)
			if err := a.authorize(ctx, "GetUser", arn); err != nil {
				return nil, err
			}
			acct, err := a.Store.GetAccount(ctx, account)
			if err != nil {
				return nil, err
			}
			return &sdk.GetUserOutput{User: &iamtypes.User{UserId: aws.String(account), Arn: aws.String(arn),
				CreateDate: timePtr(acct.JoinedAt)}}, nil
		}
		name := str(in.UserName)
		if name == "" {
			if p.Type != iam.PrincipalUser || p.UserName == "" {
				_, _, err := a.implicitUser(ctx, p, account, nil)
				return nil, err
			}
			name = p.UserName
		}
		// One read serves both the resource ARN (with the user's path) and the answer.
		u, lookupErr := a.Store.GetUser(ctx, account, name)
		target := resource{arn: iam.UserARN(account, "/", name)}
		if lookupErr == nil {
			target = resource{arn: u.ARN, tags: u.Tags, boundary: u.PermissionsBoundary}
		}
		if err := a.authorizeOn(ctx, "GetUser", target); err != nil {
			return nil, err
		}
		if lookupErr != nil {
			return nil, lookupErr
		}
		out := wireUser(u, true)
		return &sdk.GetUserOutput{User: &out}, nil
	})

	op(e, "ListUsers", func(ctx context.Context, in *listByPathIn) (*sdk.ListUsersOutput, error) {
		_, account, err := a.start(ctx, "ListUsers", "*")
		if err != nil {
			return nil, err
		}
		users, err := a.Store.ListUsers(ctx, account, str(in.PathPrefix))
		if err != nil {
			return nil, err
		}
		list, truncated, marker, err := wirePage(users, in.Paging, func(v *iam.User) iamtypes.User { return wireUser(v, false) })
		if err != nil {
			return nil, err
		}
		return &sdk.ListUsersOutput{Users: list, IsTruncated: truncated, Marker: marker}, nil
	})

	op(e, "UpdateUser", func(ctx context.Context, in *updateEntityIn) (*awsproto.NoOutput, error) {
		if err := required("userName", in.UserName); err != nil {
			return nil, err
		}
		return a.updateEntity(ctx, iam.KindUser, "UpdateUser", *in.UserName, str(in.NewUserName), str(in.NewPath))
	})

	op(e, "DeleteUser", func(ctx context.Context, in *userNameIn) (*awsproto.NoOutput, error) {
		account, err := a.startOnEntity(ctx, "DeleteUser", iam.KindUser, in.UserName)
		if err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.DeleteUser(ctx, account, in.UserName)
	})

	op(e, "ListGroupsForUser", func(ctx context.Context, in *userPageIn) (*sdk.ListGroupsForUserOutput, error) {
		account, err := a.startOnEntity(ctx, "ListGroupsForUser", iam.KindUser, in.UserName)
		if err != nil {
			return nil, err
		}
		groups, err := a.Store.ListGroupsForUser(ctx, account, in.UserName)
		if err != nil {
			return nil, err
		}
		list, truncated, marker, err := wirePage(groups, in.Paging, wireGroup)
		if err != nil {
			return nil, err
		}
		return &sdk.ListGroupsForUserOutput{Groups: list, IsTruncated: truncated, Marker: marker}, nil
	})
}

// updateEntity renames or moves a user or group (UpdateUser, UpdateGroup).
func (a *api) updateEntity(ctx context.Context, kind iam.EntityKind, operation, name, newName, newPath string) (*awsproto.NoOutput, error) {
	_, account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	source := a.entity(ctx, account, kind, name)
	if err := a.authorizeOn(ctx, operation, source); err != nil {
		return nil, err
	}
	// Renaming or moving needs permission on the entity's new ARN as well, as in IAM.
	if r, ok := iam.ParseIAMARN(source.arn); ok && (newName != "" || newPath != "") {
		if newName != "" {
			r.Name = newName
		}
		if newPath != "" {
			r.Path = newPath
		}
		if err := a.authorize(ctx, operation, iam.EntityARN(account, string(kind), r.Path, r.Name)); err != nil {
			return nil, err
		}
	}
	err = a.Store.UpdateEntity(ctx, iamsql.UpdateEntityInput{Ref: iam.EntityRef{Account: account, Kind: kind, Name: name},
		NewName: newName, NewPath: newPath})
	if err != nil {
		return nil, err
	}
	return &awsproto.NoOutput{}, nil
}

type createGroupIn struct {
	GroupName string `aws:"GroupName,required"`
	Path      *string
}

type groupNameIn struct {
	GroupName string `aws:"GroupName,required"`
}

type groupPageIn struct {
	GroupName string `aws:"GroupName,required"`
	Paging
}

type membershipIn struct {
	GroupName string `aws:"GroupName,required"`
	UserName  string `aws:"UserName,required"`
}

func (a *api) registerGroups(e *awsproto.Endpoint) {
	op(e, "CreateGroup", func(ctx context.Context, in *createGroupIn) (*sdk.CreateGroupOutput, error) {
		_, account, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		if err := a.authorize(ctx, "CreateGroup", iam.GroupARN(account, iam.DefaultPath(str(in.Path)), in.GroupName)); err != nil {
			return nil, err
		}
		g, err := a.Store.CreateGroup(ctx, account, in.GroupName, str(in.Path))
		if err != nil {
			return nil, err
		}
		out := wireGroup(g)
		return &sdk.CreateGroupOutput{Group: &out}, nil
	})

	op(e, "GetGroup", func(ctx context.Context, in *groupPageIn) (*sdk.GetGroupOutput, error) {
		_, account, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		g, members, lookupErr := a.Store.GetGroup(ctx, account, in.GroupName)
		arn := iam.GroupARN(account, "/", in.GroupName)
		if lookupErr == nil {
			arn = g.ARN
		}
		if err := a.authorize(ctx, "GetGroup", arn); err != nil {
			return nil, err
		}
		if lookupErr != nil {
			return nil, lookupErr
		}
		list, truncated, marker, err := wirePage(members, in.Paging, func(v *iam.User) iamtypes.User { return wireUser(v, false) })
		if err != nil {
			return nil, err
		}
		group := wireGroup(g)
		return &sdk.GetGroupOutput{Group: &group, Users: list, IsTruncated: truncated, Marker: marker}, nil
	})

	op(e, "ListGroups", func(ctx context.Context, in *listByPathIn) (*sdk.ListGroupsOutput, error) {
		_, account, err := a.start(ctx, "ListGroups", "*")
		if err != nil {
			return nil, err
		}
		groups, err := a.Store.ListGroups(ctx, account, str(in.PathPrefix))
		if err != nil {
			return nil, err
		}
		list, truncated, marker, err := wirePage(groups, in.Paging, wireGroup)
		if err != nil {
			return nil, err
		}
		return &sdk.ListGroupsOutput{Groups: list, IsTruncated: truncated, Marker: marker}, nil
	})

	op(e, "UpdateGroup", func(ctx context.Context, in *updateEntityIn) (*awsproto.NoOutput, error) {
		if err := required("groupName", in.GroupName); err != nil {
			return nil, err
		}
		return a.updateEntity(ctx, iam.KindGroup, "UpdateGroup", *in.GroupName, str(in.NewGroupName), str(in.NewPath))
	})

	op(e, "DeleteGroup", func(ctx context.Context, in *groupNameIn) (*awsproto.NoOutput, error) {
		account, err := a.startOnEntity(ctx, "DeleteGroup", iam.KindGroup, in.GroupName)
		if err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.DeleteGroup(ctx, account, in.GroupName)
	})

	op(e, "AddUserToGroup", func(ctx context.Context, in *membershipIn) (*awsproto.NoOutput, error) {
		account, err := a.startOnEntity(ctx, "AddUserToGroup", iam.KindGroup, in.GroupName)
		if err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.AddUserToGroup(ctx, account, in.GroupName, in.UserName)
	})

	op(e, "RemoveUserFromGroup", func(ctx context.Context, in *membershipIn) (*awsproto.NoOutput, error) {
		account, err := a.startOnEntity(ctx, "RemoveUserFromGroup", iam.KindGroup, in.GroupName)
		if err != nil {
			return nil, err
		}
		return &awsproto.NoOutput{}, a.Store.RemoveUserFromGroup(ctx, account, in.GroupName, in.UserName)
	})
}

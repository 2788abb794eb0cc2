package iamapi

import (
	"context"

	sdk "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
)

// taggedIn carries the members of the Tag*, Untag* and List*Tags calls of users, roles,
// managed policies and MFA devices.
type taggedIn struct {
	UserName     *string
	RoleName     *string
	PolicyArn    *string
	SerialNumber *string
	Tags         []tagIn
	TagKeys      []string
	Paging
}

// taggable is one kind of resource that carries tags.
type taggable struct {
	suffix string // "User", "Role", "Policy", "MFADevice"
	member string // the member naming the resource
	name   func(in *taggedIn) *string
	// target is the resource the call is authorized against.
	target func(a *api, ctx context.Context, account, name string) resource
	tag    func(a *api, ctx context.Context, account, name string, tags []iam.Tag) error
	untag  func(a *api, ctx context.Context, account, name string, keys []string) error
	list   func(a *api, ctx context.Context, account, name string) ([]iam.Tag, error)
}

func entityTaggable(kind iam.EntityKind) taggable {
	name := func(in *taggedIn) *string { return in.UserName }
	member := "userName"
	if kind == iam.KindRole {
		name = func(in *taggedIn) *string { return in.RoleName }
		member = "roleName"
	}
	ref := func(account, name string) iam.EntityRef {
		return iam.EntityRef{Account: account, Kind: kind, Name: name}
	}
	return taggable{suffix: kindNames[kind], member: member, name: name,
		target: func(a *api, ctx context.Context, account, name string) resource {
			return a.entity(ctx, account, kind, name)
		},
		tag: func(a *api, ctx context.Context, account, name string, tags []iam.Tag) error {
			return a.Store.TagEntity(ctx, ref(account, name), tags)
		},
		untag: func(a *api, ctx context.Context, account, name string, keys []string) error {
			return a.Store.UntagEntity(ctx, ref(account, name), keys)
		},
		list: func(a *api, ctx context.Context, account, name string) ([]iam.Tag, error) {
			return a.Store.ListEntityTags(ctx, ref(account, name))
		},
	}
}

var taggables = []taggable{
	entityTaggable(iam.KindUser),
	entityTaggable(iam.KindRole),
	{suffix: "Policy", member: "policyArn", name: func(in *taggedIn) *string { return in.PolicyArn },
		target: func(_ *api, _ context.Context, _, arn string) resource { return resource{arn: arn} },
		tag: func(a *api, ctx context.Context, account, arn string, tags []iam.Tag) error {
			return a.Store.TagPolicy(ctx, account, arn, tags)
		},
		untag: func(a *api, ctx context.Context, account, arn string, keys []string) error {
			return a.Store.UntagPolicy(ctx, account, arn, keys)
		},
		list: func(a *api, ctx context.Context, account, arn string) ([]iam.Tag, error) {
			return a.Store.ListPolicyTags(ctx, account, arn)
		}},
	{suffix: "MFADevice", member: "serialNumber", name: func(in *taggedIn) *string { return in.SerialNumber },
		target: func(_ *api, _ context.Context, _, serial string) resource { return resource{arn: serial} },
		tag: func(a *api, ctx context.Context, account, serial string, tags []iam.Tag) error {
			return a.Store.TagMFADevice(ctx, account, serial, tags)
		},
		untag: func(a *api, ctx context.Context, account, serial string, keys []string) error {
			return a.Store.UntagMFADevice(ctx, account, serial, keys)
		},
		list: func(a *api, ctx context.Context, account, serial string) ([]iam.Tag, error) {
			return a.Store.ListMFADeviceTags(ctx, account, serial)
		}},
}

func (a *api) registerTags(e *awsproto.Endpoint) {
	for _, t := range taggables {
		op(e, "Tag"+t.suffix, func(ctx context.Context, in *taggedIn) (*awsproto.NoOutput, error) {
			name := t.name(in)
			if err := required(t.member, name); err != nil {
				return nil, err
			}
			if in.Tags == nil {
				return nil, awsproto.ValidationFailed(awsproto.ProtocolQuery, []awsproto.Violation{{Path: "tags", Constraint: "Member must not be null"}})
			}
			_, account, err := caller(ctx)
			if err != nil {
				return nil, err
			}
			tags := domainTags(in.Tags)
			if err := a.authorizeOn(ctx, "Tag"+t.suffix, t.target(a, ctx, account, *name), requestTagKeys(tags)...); err != nil {
				return nil, err
			}
			return &awsproto.NoOutput{}, t.tag(a, ctx, account, *name, tags)
		})
		op(e, "Untag"+t.suffix, func(ctx context.Context, in *taggedIn) (*awsproto.NoOutput, error) {
			name := t.name(in)
			if err := required(t.member, name); err != nil {
				return nil, err
			}
			if in.TagKeys == nil {
				return nil, awsproto.ValidationFailed(awsproto.ProtocolQuery, []awsproto.Violation{{Path: "tagKeys", Constraint: "Member must not be null"}})
			}
			_, account, err := caller(ctx)
			if err != nil {
				return nil, err
			}
			if err := a.authorizeOn(ctx, "Untag"+t.suffix, t.target(a, ctx, account, *name), tagKeysKey(in.TagKeys)...); err != nil {
				return nil, err
			}
			return &awsproto.NoOutput{}, t.untag(a, ctx, account, *name, in.TagKeys)
		})
		listTags := func(ctx context.Context, in *taggedIn) (*sdk.ListUserTagsOutput, error) {
			name := t.name(in)
			if err := required(t.member, name); err != nil {
				return nil, err
			}
			_, account, err := caller(ctx)
			if err != nil {
				return nil, err
			}
			if err := a.authorizeOn(ctx, "List"+t.suffix+"Tags", t.target(a, ctx, account, *name)); err != nil {
				return nil, err
			}
			tags, err := t.list(a, ctx, account, *name)
			if err != nil {
				return nil, err
			}
			page, truncated, marker, err := pageOf(tags, in.Paging)
			if err != nil {
				return nil, err
			}
			return &sdk.ListUserTagsOutput{Tags: wireTags(page), IsTruncated: truncated, Marker: marker}, nil
		}
		// Every List*Tags answer has the same members: Tags, IsTruncated, Marker.
		op(e, "List"+t.suffix+"Tags", listTags)
	}
}

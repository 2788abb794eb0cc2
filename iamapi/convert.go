package iamapi

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/coffer-registry/coffer/iam"
)

// The answers use the Go SDK's own IAM types: their field names are the model's member
// names, so the XML they encode to has the shapes the botocore model promises.

func wireTags(tags []iam.Tag) []iamtypes.Tag {
	out := make([]iamtypes.Tag, len(tags))
	for i, t := range tags {
		out[i] = iamtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)}
	}
	return out
}

// optionalTags leaves the Tags element out when there are none, as IAM does.
func optionalTags(tags []iam.Tag) []iamtypes.Tag {
	if len(tags) == 0 {
		return nil
	}
	return wireTags(tags)
}

func wireBoundary(arn string) *iamtypes.AttachedPermissionsBoundary {
	if arn == "" {
		return nil
	}
	return &iamtypes.AttachedPermissionsBoundary{PermissionsBoundaryArn: aws.String(arn),
		PermissionsBoundaryType: iamtypes.PermissionsBoundaryAttachmentTypePolicy}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// wireUser is a user as GetUser and CreateUser show it; listings leave out tags and boundary.
func wireUser(u *iam.User, full bool) iamtypes.User {
	out := iamtypes.User{UserName: aws.String(u.Name), UserId: aws.String(u.ID), Arn: aws.String(u.ARN),
		Path: aws.String(u.Path), CreateDate: timePtr(u.CreatedAt)}
	if full {
		out.PermissionsBoundary = wireBoundary(u.PermissionsBoundary)
		out.Tags = optionalTags(u.Tags)
	}
	return out
}

func wireGroup(g *iam.Group) iamtypes.Group {
	return iamtypes.Group{GroupName: aws.String(g.Name), GroupId: aws.String(g.ID), Arn: aws.String(g.ARN),
		Path: aws.String(g.Path), CreateDate: timePtr(g.CreatedAt)}
}

// wireRole is a role as GetRole shows it; ListRoles leaves out tags and boundary.
func wireRole(r *iam.Role, full bool) iamtypes.Role {
	out := iamtypes.Role{RoleName: aws.String(r.Name), RoleId: aws.String(r.ID), Arn: aws.String(r.ARN),
		Path: aws.String(r.Path), CreateDate: timePtr(r.CreatedAt),
		AssumeRolePolicyDocument: encodeDocument(r.AssumeRolePolicy),
		MaxSessionDuration:       aws.Int32(int32(r.MaxSessionDuration))}
	if r.Description != "" {
		out.Description = aws.String(r.Description)
	}
	if full {
		out.PermissionsBoundary = wireBoundary(r.PermissionsBoundary)
		out.Tags = optionalTags(r.Tags)
		out.RoleLastUsed = &iamtypes.RoleLastUsed{}
	}
	return out
}

func wirePolicy(p *iam.ManagedPolicy, full bool) iamtypes.Policy {
	out := iamtypes.Policy{PolicyName: aws.String(p.Name), PolicyId: aws.String(p.ID), Arn: aws.String(p.ARN),
		Path: aws.String(p.Path), DefaultVersionId: aws.String(p.DefaultVersionID),
		AttachmentCount:               aws.Int32(int32(p.AttachmentCount)),
		PermissionsBoundaryUsageCount: aws.Int32(int32(p.BoundaryUsageCount)),
		IsAttachable:                  true, CreateDate: timePtr(p.CreatedAt), UpdateDate: timePtr(p.UpdatedAt)}
	if full {
		if p.Description != "" {
			out.Description = aws.String(p.Description)
		}
		out.Tags = optionalTags(p.Tags)
	}
	return out
}

func wireVersion(v *iam.PolicyVersion, withDocument bool) iamtypes.PolicyVersion {
	out := iamtypes.PolicyVersion{VersionId: aws.String(v.VersionID), IsDefaultVersion: v.IsDefault,
		CreateDate: timePtr(v.CreatedAt)}
	if withDocument {
		out.Document = encodeDocument(v.Document)
	}
	return out
}

func wireAttached(list []iam.AttachedPolicy) []iamtypes.AttachedPolicy {
	out := make([]iamtypes.AttachedPolicy, len(list))
	for i, p := range list {
		out[i] = iamtypes.AttachedPolicy{PolicyName: aws.String(p.Name), PolicyArn: aws.String(p.ARN)}
	}
	return out
}

func wireAccessKey(k *iam.AccessKey) iamtypes.AccessKeyMetadata {
	out := iamtypes.AccessKeyMetadata{AccessKeyId: aws.String(k.ID), Status: iamtypes.StatusType(k.Status),
		CreateDate: timePtr(k.CreatedAt)}
	if k.UserName != "" {
		out.UserName = aws.String(k.UserName)
	}
	return out
}

func wireInline(list []iam.InlinePolicy) []iamtypes.PolicyDetail {
	out := make([]iamtypes.PolicyDetail, len(list))
	for i, p := range list {
		out[i] = iamtypes.PolicyDetail{PolicyName: aws.String(p.Name), PolicyDocument: encodeDocument(p.Document)}
	}
	return out
}

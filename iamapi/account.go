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

type authorizationDetailsIn struct {
	Filter []string
	Paging
}

// detailItem is one entry of GetAccountAuthorizationDetails, whose pages run over users,
// groups, roles and policies in that order.
type detailItem struct {
	user   *iamtypes.UserDetail
	group  *iamtypes.GroupDetail
	role   *iamtypes.RoleDetail
	policy *iamtypes.ManagedPolicyDetail
}

var entityFilters = []string{"User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"}

func (a *api) registerAccount(e *awsproto.Endpoint) {
	op(e, "GetAccountAuthorizationDetails", func(ctx context.Context, in *authorizationDetailsIn) (*sdk.GetAccountAuthorizationDetailsOutput, error) {
		_, account, err := a.start(ctx, "GetAccountAuthorizationDetails", "*")
		if err != nil {
			return nil, err
		}
		want := map[string]bool{}
		var v iam.Validation
		for _, f := range in.Filter {
			v.Enum("filter", f, entityFilters...)
			want[f] = true
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
		all := len(in.Filter) == 0
		details, err := a.Store.AuthorizationDetails(ctx, account)
		if err != nil {
			return nil, err
		}
		var items []detailItem
		if all || want["User"] {
			for i := range details.Users {
				items = append(items, detailItem{user: userDetail(&details.Users[i])})
			}
		}
		if all || want["Group"] {
			for i := range details.Groups {
				items = append(items, detailItem{group: groupDetail(&details.Groups[i])})
			}
		}
		if all || want["Role"] {
			for i := range details.Roles {
				items = append(items, detailItem{role: roleDetail(&details.Roles[i])})
			}
		}
		for i := range details.Policies {
			p := &details.Policies[i]
			if all || (p.AWSManaged() && want["AWSManagedPolicy"]) || (!p.AWSManaged() && want["LocalManagedPolicy"]) {
				items = append(items, detailItem{policy: policyDetail(p)})
			}
		}
		page, truncated, marker, err := pageOf(items, in.Paging)
		if err != nil {
			return nil, err
		}
		out := &sdk.GetAccountAuthorizationDetailsOutput{UserDetailList: []iamtypes.UserDetail{},
			GroupDetailList: []iamtypes.GroupDetail{}, RoleDetailList: []iamtypes.RoleDetail{},
			Policies: []iamtypes.ManagedPolicyDetail{}, IsTruncated: truncated, Marker: marker}
		for _, it := range page {
			switch {
			case it.user != nil:
				out.UserDetailList = append(out.UserDetailList, *it.user)
			case it.group != nil:
				out.GroupDetailList = append(out.GroupDetailList, *it.group)
			case it.role != nil:
				out.RoleDetailList = append(out.RoleDetailList, *it.role)
			default:
				out.Policies = append(out.Policies, *it.policy)
			}
		}
		return out, nil
	})

	op(e, "GetAccountSummary", func(ctx context.Context, _ *struct{}) (*sdk.GetAccountSummaryOutput, error) {
		_, account, err := a.start(ctx, "GetAccountSummary", "*")
		if err != nil {
			return nil, err
		}
		return a.accountSummary(ctx, account)
	})
}

func userDetail(u *iam.UserDetail) *iamtypes.UserDetail {
	return &iamtypes.UserDetail{UserName: aws.String(u.Name), UserId: aws.String(u.ID), Arn: aws.String(u.ARN),
		Path: aws.String(u.Path), CreateDate: timePtr(u.CreatedAt), GroupList: nonNil(u.Groups),
		UserPolicyList: wireInline(u.InlinePolicies), AttachedManagedPolicies: wireAttached(u.AttachedPolicies),
		PermissionsBoundary: wireBoundary(u.PermissionsBoundary), Tags: wireTags(u.Tags)}
}

func groupDetail(g *iam.GroupDetail) *iamtypes.GroupDetail {
	return &iamtypes.GroupDetail{GroupName: aws.String(g.Name), GroupId: aws.String(g.ID), Arn: aws.String(g.ARN),
		Path: aws.String(g.Path), CreateDate: timePtr(g.CreatedAt), GroupPolicyList: wireInline(g.InlinePolicies),
		AttachedManagedPolicies: wireAttached(g.AttachedPolicies)}
}

func roleDetail(r *iam.RoleDetail) *iamtypes.RoleDetail {
	return &iamtypes.RoleDetail{RoleName: aws.String(r.Name), RoleId: aws.String(r.ID), Arn: aws.String(r.ARN),
		Path: aws.String(r.Path), CreateDate: timePtr(r.CreatedAt), AssumeRolePolicyDocument: encodeDocument(r.AssumeRolePolicy),
		RolePolicyList: wireInline(r.InlinePolicies), AttachedManagedPolicies: wireAttached(r.AttachedPolicies),
		InstanceProfileList: []iamtypes.InstanceProfile{}, PermissionsBoundary: wireBoundary(r.PermissionsBoundary),
		Tags: wireTags(r.Tags), RoleLastUsed: &iamtypes.RoleLastUsed{}}
}

func policyDetail(p *iam.PolicyDetail) *iamtypes.ManagedPolicyDetail {
	out := &iamtypes.ManagedPolicyDetail{PolicyName: aws.String(p.Name), PolicyId: aws.String(p.ID), Arn: aws.String(p.ARN),
		Path: aws.String(p.Path), DefaultVersionId: aws.String(p.DefaultVersionID),
		AttachmentCount:               aws.Int32(int32(p.AttachmentCount)),
		PermissionsBoundaryUsageCount: aws.Int32(int32(p.BoundaryUsageCount)), IsAttachable: true,
		CreateDate: timePtr(p.CreatedAt), UpdateDate: timePtr(p.UpdatedAt),
		PolicyVersionList: make([]iamtypes.PolicyVersion, len(p.Versions))}
	if p.Description != "" {
		out.Description = aws.String(p.Description)
	}
	for i := range p.Versions {
		out.PolicyVersionList[i] = wireVersion(&p.Versions[i], true)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// accountSummary counts the account's entities beside IAM's default quotas.
func (a *api) accountSummary(ctx context.Context, account string) (*sdk.GetAccountSummaryOutput, error) {
	users, err := a.Store.ListUsers(ctx, account, "")
	if err != nil {
		return nil, err
	}
	groups, err := a.Store.ListGroups(ctx, account, "")
	if err != nil {
		return nil, err
	}
	roles, err := a.Store.ListRoles(ctx, account, "")
	if err != nil {
		return nil, err
	}
	local, err := a.Store.ListPolicies(ctx, iamsql.ListPoliciesInput{Account: account, Scope: iamsql.ScopeLocal})
	if err != nil {
		return nil, err
	}
	devices, err := a.Store.ListVirtualMFADevices(ctx, account, iamsql.AssignmentAny)
	if err != nil {
		return nil, err
	}
	rootKeys, err := a.Store.ListAccessKeys(ctx, account, "")
	if err != nil {
		return nil, err
	}
	versions := 0
	for _, p := range local {
		vs, err := a.Store.ListPolicyVersions(ctx, account, p.ARN)
		if err != nil {
			return nil, err
		}
		versions += len(vs)
	}
	inUse := 0
	for _, d := range devices {
		if d.UserName != "" {
			inUse++
		}
	}
	present := int32(0)
	if len(rootKeys) > 0 {
		present = 1
	}
	m := map[string]int32{
		"Users": int32(len(users)), "Groups": int32(len(groups)), "Roles": int32(len(roles)),
		"Policies": int32(len(local)), "PolicyVersionsInUse": int32(versions),
		"MFADevices": int32(len(devices)), "MFADevicesInUse": int32(inUse),
		"AccountAccessKeysPresent": present, "AccountMFAEnabled": 0, "AccountSigningCertificatesPresent": 0,
		"InstanceProfiles": 0, "Providers": 0, "ServerCertificates": 0, "GlobalEndpointTokenVersion": 1,
		"UsersQuota": 5000, "GroupsQuota": 300, "RolesQuota": 1000, "PoliciesQuota": 1500,
		"PolicyVersionsInUseQuota": 10000, "InstanceProfilesQuota": 1000, "ServerCertificatesQuota": 20,
		"AccessKeysPerUserQuota": iam.MaxAccessKeysPerUser, "GroupsPerUserQuota": iam.MaxGroupsPerUser,
		"AttachedPoliciesPerUserQuota": iam.MaxManagedPoliciesPerUser, "AttachedPoliciesPerGroupQuota": iam.MaxManagedPoliciesPerGroup,
		"AttachedPoliciesPerRoleQuota": iam.MaxManagedPoliciesPerRole, "VersionsPerPolicyQuota": iam.MaxPolicyVersions,
		"PolicySizeQuota": iam.MaxManagedPolicySize, "UserPolicySizeQuota": iam.MaxUserInlinePolicySize,
		"GroupPolicySizeQuota": iam.MaxGroupInlinePolicySize, "RolePolicySizeQuota": iam.MaxRoleInlinePolicySize,
		"AssumeRolePolicySizeQuota": iam.MaxTrustPolicySize, "SigningCertificatesPerUserQuota": 2,
	}
	return &sdk.GetAccountSummaryOutput{SummaryMap: m}, nil
}

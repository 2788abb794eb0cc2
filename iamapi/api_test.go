package iamapi_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/coffer-registry/coffer/iam"
)

const readOnlyECR = `{"Version":"2012-10-17","Statement":[{"Sid":"Pull","Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"*"}]}`

func TestUsersGroupsAndMembership(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.root

	out := must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("alice"),
		Path: aws.String("/dev/"), Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("ml")}}}))
	u := out.User
	if *u.Arn != "arn:aws:iam::"+w.acct+":user/dev/alice" || *u.Path != "/dev/" || !strings.HasPrefix(*u.UserId, "AIDA") ||
		u.CreateDate == nil || len(u.Tags) != 1 || *u.Tags[0].Key != "team" {
		t.Fatalf("CreateUser answered %+v", u)
	}
	got := must[*sdk.GetUserOutput](t)(c.GetUser(ctx, &sdk.GetUserInput{UserName: aws.String("alice")}))
	if *got.User.Arn != *u.Arn || *got.User.UserId != *u.UserId || len(got.User.Tags) != 1 {
		t.Fatalf("GetUser answered %+v", got.User)
	}
	// GetUser without a name is the caller: the root user here.
	self := must[*sdk.GetUserOutput](t)(c.GetUser(ctx, &sdk.GetUserInput{}))
	if *self.User.Arn != iam.RootARN(w.acct) || *self.User.UserId != w.acct {
		t.Fatalf("GetUser of root answered %+v", self.User)
	}

	for _, name := range []string{"bob", "carol"} {
		must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String(name)}))
	}
	list := must[*sdk.ListUsersOutput](t)(c.ListUsers(ctx, &sdk.ListUsersInput{}))
	if len(list.Users) != 3 || list.IsTruncated {
		t.Fatalf("ListUsers: %d users, truncated %v", len(list.Users), list.IsTruncated)
	}
	dev := must[*sdk.ListUsersOutput](t)(c.ListUsers(ctx, &sdk.ListUsersInput{PathPrefix: aws.String("/dev/")}))
	if len(dev.Users) != 1 || *dev.Users[0].UserName != "alice" {
		t.Fatalf("ListUsers under /dev/: %+v", dev.Users)
	}

	// Pagination: MaxItems and Marker, as the SDK paginator drives them.
	var names []string
	pages := sdk.NewListUsersPaginator(c, &sdk.ListUsersInput{MaxItems: aws.Int32(2)})
	n := 0
	for pages.HasMorePages() {
		p := must[*sdk.ListUsersOutput](t)(pages.NextPage(ctx))
		n++
		for _, u := range p.Users {
			names = append(names, *u.UserName)
		}
	}
	if n != 2 || strings.Join(names, ",") != "alice,bob,carol" {
		t.Fatalf("paginated %d pages: %v", n, names)
	}
	_, err := c.ListUsers(ctx, &sdk.ListUsersInput{MaxItems: aws.Int32(0)})
	wantCode(t, err, "ValidationError")
	_, err = c.ListUsers(ctx, &sdk.ListUsersInput{Marker: aws.String("garbage")})
	wantCode(t, err, "InvalidInput")

	g := must[*sdk.CreateGroupOutput](t)(c.CreateGroup(ctx, &sdk.CreateGroupInput{GroupName: aws.String("devs")}))
	if *g.Group.Arn != "arn:aws:iam::"+w.acct+":group/devs" || !strings.HasPrefix(*g.Group.GroupId, "AGPA") {
		t.Fatalf("CreateGroup answered %+v", g.Group)
	}
	for _, name := range []string{"alice", "bob"} {
		must[*sdk.AddUserToGroupOutput](t)(c.AddUserToGroup(ctx, &sdk.AddUserToGroupInput{GroupName: aws.String("devs"), UserName: aws.String(name)}))
	}
	gg := must[*sdk.GetGroupOutput](t)(c.GetGroup(ctx, &sdk.GetGroupInput{GroupName: aws.String("devs")}))
	if len(gg.Users) != 2 || *gg.Group.GroupName != "devs" {
		t.Fatalf("GetGroup answered %+v", gg)
	}
	gfu := must[*sdk.ListGroupsForUserOutput](t)(c.ListGroupsForUser(ctx, &sdk.ListGroupsForUserInput{UserName: aws.String("alice")}))
	if len(gfu.Groups) != 1 || *gfu.Groups[0].GroupName != "devs" {
		t.Fatalf("ListGroupsForUser answered %+v", gfu.Groups)
	}
	groups := must[*sdk.ListGroupsOutput](t)(c.ListGroups(ctx, &sdk.ListGroupsInput{}))
	if len(groups.Groups) != 1 {
		t.Fatalf("ListGroups answered %+v", groups.Groups)
	}
	// A group with members cannot go; RemoveUserFromGroup then DeleteGroup can.
	_, err = c.DeleteGroup(ctx, &sdk.DeleteGroupInput{GroupName: aws.String("devs")})
	wantCode(t, err, "DeleteConflict")
	for _, name := range []string{"alice", "bob"} {
		must[*sdk.RemoveUserFromGroupOutput](t)(c.RemoveUserFromGroup(ctx, &sdk.RemoveUserFromGroupInput{GroupName: aws.String("devs"), UserName: aws.String(name)}))
	}
	must[*sdk.UpdateGroupOutput](t)(c.UpdateGroup(ctx, &sdk.UpdateGroupInput{GroupName: aws.String("devs"), NewGroupName: aws.String("builders")}))
	must[*sdk.DeleteGroupOutput](t)(c.DeleteGroup(ctx, &sdk.DeleteGroupInput{GroupName: aws.String("builders")}))

	must[*sdk.UpdateUserOutput](t)(c.UpdateUser(ctx, &sdk.UpdateUserInput{UserName: aws.String("carol"), NewUserName: aws.String("caroline"), NewPath: aws.String("/ops/")}))
	moved := must[*sdk.GetUserOutput](t)(c.GetUser(ctx, &sdk.GetUserInput{UserName: aws.String("caroline")}))
	if *moved.User.Arn != "arn:aws:iam::"+w.acct+":user/ops/caroline" {
		t.Fatalf("UpdateUser left %s", *moved.User.Arn)
	}
	must[*sdk.DeleteUserOutput](t)(c.DeleteUser(ctx, &sdk.DeleteUserInput{UserName: aws.String("caroline")}))
	_, err = c.GetUser(ctx, &sdk.GetUserInput{UserName: aws.String("caroline")})
	wantCode(t, err, "NoSuchEntity")
}

func TestRolesAndTrustPolicies(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.root
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + w.acct + `:root"},"Action":"sts:AssumeRole"}]}`
	r := must[*sdk.CreateRoleOutput](t)(c.CreateRole(ctx, &sdk.CreateRoleInput{RoleName: aws.String("deployer"),
		AssumeRolePolicyDocument: aws.String(trust), Description: aws.String("CI deploys"), MaxSessionDuration: aws.Int32(7200),
		Tags: []iamtypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}))
	if *r.Role.Arn != "arn:aws:iam::"+w.acct+":role/deployer" || !strings.HasPrefix(*r.Role.RoleId, "AROA") ||
		*r.Role.MaxSessionDuration != 7200 || decodeDocument(t, r.Role.AssumeRolePolicyDocument) != trust {
		t.Fatalf("CreateRole answered %+v", r.Role)
	}
	got := must[*sdk.GetRoleOutput](t)(c.GetRole(ctx, &sdk.GetRoleInput{RoleName: aws.String("deployer")}))
	if *got.Role.Description != "CI deploys" || len(got.Role.Tags) != 1 || decodeDocument(t, got.Role.AssumeRolePolicyDocument) != trust {
		t.Fatalf("GetRole answered %+v", got.Role)
	}
	must[*sdk.UpdateRoleOutput](t)(c.UpdateRole(ctx, &sdk.UpdateRoleInput{RoleName: aws.String("deployer"), MaxSessionDuration: aws.Int32(3600)}))
	desc := must[*sdk.UpdateRoleDescriptionOutput](t)(c.UpdateRoleDescription(ctx, &sdk.UpdateRoleDescriptionInput{RoleName: aws.String("deployer"), Description: aws.String("new")}))
	if *desc.Role.Description != "new" || *desc.Role.MaxSessionDuration != 3600 {
		t.Fatalf("UpdateRoleDescription answered %+v", desc.Role)
	}
	trust2 := strings.Replace(trust, ":root", ":user/ci", 1)
	must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("ci")}))
	must[*sdk.UpdateAssumeRolePolicyOutput](t)(c.UpdateAssumeRolePolicy(ctx, &sdk.UpdateAssumeRolePolicyInput{RoleName: aws.String("deployer"), PolicyDocument: aws.String(trust2)}))
	roles := must[*sdk.ListRolesOutput](t)(c.ListRoles(ctx, &sdk.ListRolesInput{}))
	if len(roles.Roles) != 1 || decodeDocument(t, roles.Roles[0].AssumeRolePolicyDocument) != trust2 {
		t.Fatalf("ListRoles answered %+v", roles.Roles)
	}
	// A trust policy with an identity-policy action is malformed, with AWS's text.
	_, err := c.UpdateAssumeRolePolicy(ctx, &sdk.UpdateAssumeRolePolicyInput{RoleName: aws.String("deployer"),
		PolicyDocument: aws.String(strings.Replace(trust, "sts:AssumeRole", "ecr:GetAuthorizationToken", 1))})
	wantCode(t, err, "MalformedPolicyDocument")
	_, err = c.UpdateRole(ctx, &sdk.UpdateRoleInput{RoleName: aws.String("deployer"), MaxSessionDuration: aws.Int32(60)})
	wantCode(t, err, "ValidationError")

	must[*sdk.PutRolePolicyOutput](t)(c.PutRolePolicy(ctx, &sdk.PutRolePolicyInput{RoleName: aws.String("deployer"), PolicyName: aws.String("pull"), PolicyDocument: aws.String(readOnlyECR)}))
	_, err = c.DeleteRole(ctx, &sdk.DeleteRoleInput{RoleName: aws.String("deployer")})
	wantCode(t, err, "DeleteConflict")
	must[*sdk.DeleteRolePolicyOutput](t)(c.DeleteRolePolicy(ctx, &sdk.DeleteRolePolicyInput{RoleName: aws.String("deployer"), PolicyName: aws.String("pull")}))
	must[*sdk.DeleteRoleOutput](t)(c.DeleteRole(ctx, &sdk.DeleteRoleInput{RoleName: aws.String("deployer")}))
	_, err = c.GetRole(ctx, &sdk.GetRoleInput{RoleName: aws.String("deployer")})
	wantCode(t, err, "NoSuchEntity")
}

func TestInlineAndManagedPolicies(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.root
	must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("alice")}))
	must[*sdk.CreateGroupOutput](t)(c.CreateGroup(ctx, &sdk.CreateGroupInput{GroupName: aws.String("devs")}))

	// Inline policies on a user and a group; documents come back URL-encoded, as IAM's do.
	pretty := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"ecr:Describe*\", \"Resource\": \"*\"}]\n}"
	must[*sdk.PutUserPolicyOutput](t)(c.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("describe"), PolicyDocument: aws.String(pretty)}))
	gp := must[*sdk.GetUserPolicyOutput](t)(c.GetUserPolicy(ctx, &sdk.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("describe")}))
	if *gp.UserName != "alice" || *gp.PolicyName != "describe" || decodeDocument(t, gp.PolicyDocument) != pretty ||
		strings.ContainsAny(*gp.PolicyDocument, " +{\"\n") {
		t.Fatalf("GetUserPolicy answered %q", *gp.PolicyDocument)
	}
	must[*sdk.PutGroupPolicyOutput](t)(c.PutGroupPolicy(ctx, &sdk.PutGroupPolicyInput{GroupName: aws.String("devs"), PolicyName: aws.String("pull"), PolicyDocument: aws.String(readOnlyECR)}))
	lgp := must[*sdk.ListGroupPoliciesOutput](t)(c.ListGroupPolicies(ctx, &sdk.ListGroupPoliciesInput{GroupName: aws.String("devs")}))
	if len(lgp.PolicyNames) != 1 || lgp.PolicyNames[0] != "pull" {
		t.Fatalf("ListGroupPolicies answered %v", lgp.PolicyNames)
	}
	ggp := must[*sdk.GetGroupPolicyOutput](t)(c.GetGroupPolicy(ctx, &sdk.GetGroupPolicyInput{GroupName: aws.String("devs"), PolicyName: aws.String("pull")}))
	if decodeDocument(t, ggp.PolicyDocument) != readOnlyECR || *ggp.GroupName != "devs" {
		t.Fatalf("GetGroupPolicy answered %+v", ggp)
	}
	lup := must[*sdk.ListUserPoliciesOutput](t)(c.ListUserPolicies(ctx, &sdk.ListUserPoliciesInput{UserName: aws.String("alice")}))
	if len(lup.PolicyNames) != 1 {
		t.Fatalf("ListUserPolicies answered %v", lup.PolicyNames)
	}

	// A managed policy with versions.
	p := must[*sdk.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &sdk.CreatePolicyInput{PolicyName: aws.String("ecr-pull"), Path: aws.String("/team/"),
		PolicyDocument: aws.String(readOnlyECR), Description: aws.String("pull images")}))
	arn := *p.Policy.Arn
	if arn != "arn:aws:iam::"+w.acct+":policy/team/ecr-pull" || *p.Policy.DefaultVersionId != "v1" || !strings.HasPrefix(*p.Policy.PolicyId, "ANPA") ||
		*p.Policy.AttachmentCount != 0 || !p.Policy.IsAttachable {
		t.Fatalf("CreatePolicy answered %+v", p.Policy)
	}
	v2doc := strings.Replace(readOnlyECR, `"Pull"`, `"Pull2"`, 1)
	v2 := must[*sdk.CreatePolicyVersionOutput](t)(c.CreatePolicyVersion(ctx, &sdk.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(v2doc), SetAsDefault: true}))
	if *v2.PolicyVersion.VersionId != "v2" || !v2.PolicyVersion.IsDefaultVersion || v2.PolicyVersion.Document != nil {
		t.Fatalf("CreatePolicyVersion answered %+v", v2.PolicyVersion)
	}
	gv := must[*sdk.GetPolicyVersionOutput](t)(c.GetPolicyVersion(ctx, &sdk.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v2")}))
	if decodeDocument(t, gv.PolicyVersion.Document) != v2doc {
		t.Fatalf("GetPolicyVersion answered %+v", gv.PolicyVersion)
	}
	vs := must[*sdk.ListPolicyVersionsOutput](t)(c.ListPolicyVersions(ctx, &sdk.ListPolicyVersionsInput{PolicyArn: aws.String(arn)}))
	if len(vs.Versions) != 2 {
		t.Fatalf("ListPolicyVersions answered %+v", vs.Versions)
	}
	must[*sdk.SetDefaultPolicyVersionOutput](t)(c.SetDefaultPolicyVersion(ctx, &sdk.SetDefaultPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1")}))
	_, err := c.DeletePolicyVersion(ctx, &sdk.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1")})
	wantCode(t, err, "DeleteConflict")
	must[*sdk.DeletePolicyVersionOutput](t)(c.DeletePolicyVersion(ctx, &sdk.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v2")}))

	// Attach to a user and a group, with an AWS managed policy too.
	must[*sdk.AttachUserPolicyOutput](t)(c.AttachUserPolicy(ctx, &sdk.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(arn)}))
	must[*sdk.AttachGroupPolicyOutput](t)(c.AttachGroupPolicy(ctx, &sdk.AttachGroupPolicyInput{GroupName: aws.String("devs"), PolicyArn: aws.String(arn)}))
	ro := "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
	must[*sdk.AttachUserPolicyOutput](t)(c.AttachUserPolicy(ctx, &sdk.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(ro)}))
	au := must[*sdk.ListAttachedUserPoliciesOutput](t)(c.ListAttachedUserPolicies(ctx, &sdk.ListAttachedUserPoliciesInput{UserName: aws.String("alice")}))
	if len(au.AttachedPolicies) != 2 {
		t.Fatalf("ListAttachedUserPolicies answered %+v", au.AttachedPolicies)
	}
	team := must[*sdk.ListAttachedUserPoliciesOutput](t)(c.ListAttachedUserPolicies(ctx, &sdk.ListAttachedUserPoliciesInput{UserName: aws.String("alice"), PathPrefix: aws.String("/team/")}))
	if len(team.AttachedPolicies) != 1 || *team.AttachedPolicies[0].PolicyArn != arn {
		t.Fatalf("ListAttachedUserPolicies under /team/ answered %+v", team.AttachedPolicies)
	}
	ag := must[*sdk.ListAttachedGroupPoliciesOutput](t)(c.ListAttachedGroupPolicies(ctx, &sdk.ListAttachedGroupPoliciesInput{GroupName: aws.String("devs")}))
	if len(ag.AttachedPolicies) != 1 {
		t.Fatalf("ListAttachedGroupPolicies answered %+v", ag.AttachedPolicies)
	}
	ents := must[*sdk.ListEntitiesForPolicyOutput](t)(c.ListEntitiesForPolicy(ctx, &sdk.ListEntitiesForPolicyInput{PolicyArn: aws.String(arn)}))
	if len(ents.PolicyUsers) != 1 || len(ents.PolicyGroups) != 1 || len(ents.PolicyRoles) != 0 || *ents.PolicyUsers[0].UserName != "alice" {
		t.Fatalf("ListEntitiesForPolicy answered %+v", ents)
	}
	onlyUsers := must[*sdk.ListEntitiesForPolicyOutput](t)(c.ListEntitiesForPolicy(ctx, &sdk.ListEntitiesForPolicyInput{PolicyArn: aws.String(arn), EntityFilter: iamtypes.EntityTypeUser}))
	if len(onlyUsers.PolicyUsers) != 1 || len(onlyUsers.PolicyGroups) != 0 {
		t.Fatalf("ListEntitiesForPolicy(User) answered %+v", onlyUsers)
	}
	gpol := must[*sdk.GetPolicyOutput](t)(c.GetPolicy(ctx, &sdk.GetPolicyInput{PolicyArn: aws.String(arn)}))
	if *gpol.Policy.AttachmentCount != 2 || *gpol.Policy.Description != "pull images" {
		t.Fatalf("GetPolicy answered %+v", gpol.Policy)
	}
	local := must[*sdk.ListPoliciesOutput](t)(c.ListPolicies(ctx, &sdk.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal}))
	if len(local.Policies) != 1 {
		t.Fatalf("ListPolicies(Local) answered %d policies", len(local.Policies))
	}
	attached := must[*sdk.ListPoliciesOutput](t)(c.ListPolicies(ctx, &sdk.ListPoliciesInput{OnlyAttached: true}))
	if len(attached.Policies) != 2 {
		t.Fatalf("ListPolicies(OnlyAttached) answered %d policies", len(attached.Policies))
	}
	all := must[*sdk.ListPoliciesOutput](t)(c.ListPolicies(ctx, &sdk.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeAws}))
	if len(all.Policies) < 8 {
		t.Fatalf("ListPolicies(AWS) answered %d policies", len(all.Policies))
	}

	// Permissions boundaries.
	must[*sdk.PutUserPermissionsBoundaryOutput](t)(c.PutUserPermissionsBoundary(ctx, &sdk.PutUserPermissionsBoundaryInput{UserName: aws.String("alice"), PermissionsBoundary: aws.String(ro)}))
	gu := must[*sdk.GetUserOutput](t)(c.GetUser(ctx, &sdk.GetUserInput{UserName: aws.String("alice")}))
	if gu.User.PermissionsBoundary == nil || *gu.User.PermissionsBoundary.PermissionsBoundaryArn != ro ||
		gu.User.PermissionsBoundary.PermissionsBoundaryType != iamtypes.PermissionsBoundaryAttachmentTypePolicy {
		t.Fatalf("GetUser boundary %+v", gu.User.PermissionsBoundary)
	}
	must[*sdk.DeleteUserPermissionsBoundaryOutput](t)(c.DeleteUserPermissionsBoundary(ctx, &sdk.DeleteUserPermissionsBoundaryInput{UserName: aws.String("alice")}))

	// Everything shows in GetAccountAuthorizationDetails, documents encoded.
	det := must[*sdk.GetAccountAuthorizationDetailsOutput](t)(c.GetAccountAuthorizationDetails(ctx, &sdk.GetAccountAuthorizationDetailsInput{}))
	if len(det.UserDetailList) != 1 || len(det.GroupDetailList) != 1 || len(det.Policies) < 2 {
		t.Fatalf("GetAccountAuthorizationDetails: %d users, %d groups, %d policies", len(det.UserDetailList), len(det.GroupDetailList), len(det.Policies))
	}
	ud := det.UserDetailList[0]
	if len(ud.UserPolicyList) != 1 || decodeDocument(t, ud.UserPolicyList[0].PolicyDocument) != pretty ||
		len(ud.AttachedManagedPolicies) != 2 || len(ud.GroupList) != 0 {
		t.Fatalf("user detail %+v", ud)
	}
	onlyGroups := must[*sdk.GetAccountAuthorizationDetailsOutput](t)(c.GetAccountAuthorizationDetails(ctx, &sdk.GetAccountAuthorizationDetailsInput{Filter: []iamtypes.EntityType{iamtypes.EntityTypeGroup}}))
	if len(onlyGroups.UserDetailList) != 0 || len(onlyGroups.GroupDetailList) != 1 || len(onlyGroups.Policies) != 0 {
		t.Fatalf("filtered details %+v", onlyGroups)
	}
	sum := must[*sdk.GetAccountSummaryOutput](t)(c.GetAccountSummary(ctx, &sdk.GetAccountSummaryInput{}))
	if sum.SummaryMap["Users"] != 1 || sum.SummaryMap["Groups"] != 1 || sum.SummaryMap["Policies"] != 1 || sum.SummaryMap["AccessKeysPerUserQuota"] != 2 {
		t.Fatalf("GetAccountSummary answered %v", sum.SummaryMap)
	}

	// Detach everything, then the policy can be deleted.
	_, err = c.DeletePolicy(ctx, &sdk.DeletePolicyInput{PolicyArn: aws.String(arn)})
	wantCode(t, err, "DeleteConflict")
	must[*sdk.DetachUserPolicyOutput](t)(c.DetachUserPolicy(ctx, &sdk.DetachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(arn)}))
	must[*sdk.DetachGroupPolicyOutput](t)(c.DetachGroupPolicy(ctx, &sdk.DetachGroupPolicyInput{GroupName: aws.String("devs"), PolicyArn: aws.String(arn)}))
	must[*sdk.DeletePolicyOutput](t)(c.DeletePolicy(ctx, &sdk.DeletePolicyInput{PolicyArn: aws.String(arn)}))
	_, err = c.GetPolicy(ctx, &sdk.GetPolicyInput{PolicyArn: aws.String(arn)})
	wantCode(t, err, "NoSuchEntity")
}

func TestAccessKeysAndLastUsed(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.root
	must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("alice")}))
	k1 := must[*sdk.CreateAccessKeyOutput](t)(c.CreateAccessKey(ctx, &sdk.CreateAccessKeyInput{UserName: aws.String("alice")}))
	if !strings.HasPrefix(*k1.AccessKey.AccessKeyId, "AKIA") || len(*k1.AccessKey.SecretAccessKey) != 40 ||
		k1.AccessKey.Status != iamtypes.StatusTypeActive || *k1.AccessKey.UserName != "alice" {
		t.Fatalf("CreateAccessKey answered %+v", k1.AccessKey)
	}
	must[*sdk.CreateAccessKeyOutput](t)(c.CreateAccessKey(ctx, &sdk.CreateAccessKeyInput{UserName: aws.String("alice")}))
	_, err := c.CreateAccessKey(ctx, &sdk.CreateAccessKeyInput{UserName: aws.String("alice")})
	wantCode(t, err, "LimitExceeded")
	keys := must[*sdk.ListAccessKeysOutput](t)(c.ListAccessKeys(ctx, &sdk.ListAccessKeysInput{UserName: aws.String("alice")}))
	if len(keys.AccessKeyMetadata) != 2 {
		t.Fatalf("ListAccessKeys answered %+v", keys.AccessKeyMetadata)
	}
	// Without a user name, the root user's own keys.
	rootKeys := must[*sdk.ListAccessKeysOutput](t)(c.ListAccessKeys(ctx, &sdk.ListAccessKeysInput{}))
	if len(rootKeys.AccessKeyMetadata) != 1 || *rootKeys.AccessKeyMetadata[0].AccessKeyId != w.rootKey.ID {
		t.Fatalf("root ListAccessKeys answered %+v", rootKeys.AccessKeyMetadata)
	}

	// The new key works (the user may ask about itself only once a policy allows it).
	alice := w.client(*k1.AccessKey.AccessKeyId, *k1.AccessKey.SecretAccessKey)
	_, err = alice.GetUser(ctx, &sdk.GetUserInput{})
	ae := wantCode(t, err, "AccessDenied")
	if !strings.Contains(ae.ErrorMessage(), "user/alice is not authorized to perform: iam:GetUser on resource: arn:aws:iam::"+w.acct+":user/alice") {
		t.Fatalf("AccessDenied message %q", ae.ErrorMessage())
	}
	lu := must[*sdk.GetAccessKeyLastUsedOutput](t)(c.GetAccessKeyLastUsed(ctx, &sdk.GetAccessKeyLastUsedInput{AccessKeyId: k1.AccessKey.AccessKeyId}))
	if *lu.UserName != "alice" || lu.AccessKeyLastUsed == nil || lu.AccessKeyLastUsed.ServiceName == nil {
		t.Fatalf("GetAccessKeyLastUsed answered %+v", lu)
	}

	must[*sdk.UpdateAccessKeyOutput](t)(c.UpdateAccessKey(ctx, &sdk.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: k1.AccessKey.AccessKeyId, Status: iamtypes.StatusTypeInactive}))
	_, err = alice.GetUser(ctx, &sdk.GetUserInput{})
	wantCode(t, err, "InvalidClientTokenId")
	_, err = c.UpdateAccessKey(ctx, &sdk.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: k1.AccessKey.AccessKeyId, Status: "Sleeping"})
	wantCode(t, err, "ValidationError")

	_, err = c.DeleteUser(ctx, &sdk.DeleteUserInput{UserName: aws.String("alice")})
	wantCode(t, err, "DeleteConflict")
	for _, k := range keys.AccessKeyMetadata {
		must[*sdk.DeleteAccessKeyOutput](t)(c.DeleteAccessKey(ctx, &sdk.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: k.AccessKeyId}))
	}
	must[*sdk.DeleteUserOutput](t)(c.DeleteUser(ctx, &sdk.DeleteUserInput{UserName: aws.String("alice")}))
	_, err = c.DeleteAccessKey(ctx, &sdk.DeleteAccessKeyInput{AccessKeyId: aws.String("AKIAAAAAAAAAAAAAAAAA")})
	wantCode(t, err, "NoSuchEntity")
}

func TestVirtualMFADevices(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.root
	must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("alice")}))
	d := must[*sdk.CreateVirtualMFADeviceOutput](t)(c.CreateVirtualMFADevice(ctx, &sdk.CreateVirtualMFADeviceInput{
		VirtualMFADeviceName: aws.String("alice-phone"), Tags: []iamtypes.Tag{{Key: aws.String("kind"), Value: aws.String("phone")}}}))
	serial := *d.VirtualMFADevice.SerialNumber
	if serial != "arn:aws:iam::"+w.acct+":mfa/alice-phone" || len(d.VirtualMFADevice.Base32StringSeed) == 0 {
		t.Fatalf("CreateVirtualMFADevice answered %+v", d.VirtualMFADevice)
	}
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(string(d.VirtualMFADevice.Base32StringSeed))
	if err != nil {
		t.Fatalf("seed %q: %v", d.VirtualMFADevice.Base32StringSeed, err)
	}
	// The QR code for authenticator apps is a PNG image.
	img, err := png.Decode(bytes.NewReader(d.VirtualMFADevice.QRCodePNG))
	if err != nil || img.Bounds().Dx() < 200 || img.Bounds().Dx() != img.Bounds().Dy() {
		t.Fatalf("QRCodePNG: %v", err)
	}
	unassigned := must[*sdk.ListVirtualMFADevicesOutput](t)(c.ListVirtualMFADevices(ctx, &sdk.ListVirtualMFADevicesInput{AssignmentStatus: iamtypes.AssignmentStatusTypeUnassigned}))
	if len(unassigned.VirtualMFADevices) != 1 {
		t.Fatalf("unassigned devices %+v", unassigned.VirtualMFADevices)
	}

	// Two consecutive codes, computed here from the seed, enable the device; wrong ones do not.
	step := iam.TOTPStepAt(w.now())
	_, err = c.EnableMFADevice(ctx, &sdk.EnableMFADeviceInput{UserName: aws.String("alice"), SerialNumber: aws.String(serial),
		AuthenticationCode1: aws.String("000000"), AuthenticationCode2: aws.String("111111")})
	wantCode(t, err, "InvalidAuthenticationCode")
	must[*sdk.EnableMFADeviceOutput](t)(c.EnableMFADevice(ctx, &sdk.EnableMFADeviceInput{UserName: aws.String("alice"), SerialNumber: aws.String(serial),
		AuthenticationCode1: aws.String(iam.HOTP(seed, step-1, 6)), AuthenticationCode2: aws.String(iam.HOTP(seed, step, 6))}))
	devs := must[*sdk.ListMFADevicesOutput](t)(c.ListMFADevices(ctx, &sdk.ListMFADevicesInput{UserName: aws.String("alice")}))
	if len(devs.MFADevices) != 1 || *devs.MFADevices[0].SerialNumber != serial || devs.MFADevices[0].EnableDate == nil {
		t.Fatalf("ListMFADevices answered %+v", devs.MFADevices)
	}
	assigned := must[*sdk.ListVirtualMFADevicesOutput](t)(c.ListVirtualMFADevices(ctx, &sdk.ListVirtualMFADevicesInput{AssignmentStatus: iamtypes.AssignmentStatusTypeAssigned}))
	if len(assigned.VirtualMFADevices) != 1 || assigned.VirtualMFADevices[0].User == nil || *assigned.VirtualMFADevices[0].User.UserName != "alice" {
		t.Fatalf("assigned devices %+v", assigned.VirtualMFADevices)
	}
	tags := must[*sdk.ListMFADeviceTagsOutput](t)(c.ListMFADeviceTags(ctx, &sdk.ListMFADeviceTagsInput{SerialNumber: aws.String(serial)}))
	if len(tags.Tags) != 1 || *tags.Tags[0].Key != "kind" {
		t.Fatalf("ListMFADeviceTags answered %+v", tags.Tags)
	}
	_, err = c.DeleteVirtualMFADevice(ctx, &sdk.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serial)})
	wantCode(t, err, "DeleteConflict")
	_, err = c.DeleteUser(ctx, &sdk.DeleteUserInput{UserName: aws.String("alice")})
	wantCode(t, err, "DeleteConflict")
	must[*sdk.DeactivateMFADeviceOutput](t)(c.DeactivateMFADevice(ctx, &sdk.DeactivateMFADeviceInput{UserName: aws.String("alice"), SerialNumber: aws.String(serial)}))
	must[*sdk.DeleteVirtualMFADeviceOutput](t)(c.DeleteVirtualMFADevice(ctx, &sdk.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serial)}))
	must[*sdk.DeleteUserOutput](t)(c.DeleteUser(ctx, &sdk.DeleteUserInput{UserName: aws.String("alice")}))
}

func TestTags(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.root
	must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("alice")}))
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + w.acct + `"},"Action":"sts:AssumeRole"}]}`
	must[*sdk.CreateRoleOutput](t)(c.CreateRole(ctx, &sdk.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trust)}))
	p := must[*sdk.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &sdk.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(readOnlyECR)}))
	tagset := []iamtypes.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")}}

	must[*sdk.TagUserOutput](t)(c.TagUser(ctx, &sdk.TagUserInput{UserName: aws.String("alice"), Tags: tagset}))
	must[*sdk.UntagUserOutput](t)(c.UntagUser(ctx, &sdk.UntagUserInput{UserName: aws.String("alice"), TagKeys: []string{"a"}}))
	ut := must[*sdk.ListUserTagsOutput](t)(c.ListUserTags(ctx, &sdk.ListUserTagsInput{UserName: aws.String("alice")}))
	if len(ut.Tags) != 1 || *ut.Tags[0].Key != "b" {
		t.Fatalf("ListUserTags answered %+v", ut.Tags)
	}
	must[*sdk.TagRoleOutput](t)(c.TagRole(ctx, &sdk.TagRoleInput{RoleName: aws.String("r"), Tags: tagset}))
	rt := must[*sdk.ListRoleTagsOutput](t)(c.ListRoleTags(ctx, &sdk.ListRoleTagsInput{RoleName: aws.String("r"), MaxItems: aws.Int32(1)}))
	if len(rt.Tags) != 1 || !rt.IsTruncated || rt.Marker == nil {
		t.Fatalf("ListRoleTags page answered %+v", rt)
	}
	must[*sdk.UntagRoleOutput](t)(c.UntagRole(ctx, &sdk.UntagRoleInput{RoleName: aws.String("r"), TagKeys: []string{"a", "b"}}))
	must[*sdk.TagPolicyOutput](t)(c.TagPolicy(ctx, &sdk.TagPolicyInput{PolicyArn: p.Policy.Arn, Tags: tagset}))
	pt := must[*sdk.ListPolicyTagsOutput](t)(c.ListPolicyTags(ctx, &sdk.ListPolicyTagsInput{PolicyArn: p.Policy.Arn}))
	if len(pt.Tags) != 2 {
		t.Fatalf("ListPolicyTags answered %+v", pt.Tags)
	}
	must[*sdk.UntagPolicyOutput](t)(c.UntagPolicy(ctx, &sdk.UntagPolicyInput{PolicyArn: p.Policy.Arn, TagKeys: []string{"b"}}))

	// 51 tags break the quota and nothing is written.
	var many []iamtypes.Tag
	for i := range 51 {
		many = append(many, iamtypes.Tag{Key: aws.String("k" + time.Duration(i).String()), Value: aws.String("v")})
	}
	_, err := c.TagUser(ctx, &sdk.TagUserInput{UserName: aws.String("alice"), Tags: many})
	if err == nil {
		t.Fatal("51 tags accepted")
	}
	ut = must[*sdk.ListUserTagsOutput](t)(c.ListUserTags(ctx, &sdk.ListUserTagsInput{UserName: aws.String("alice")}))
	if len(ut.Tags) != 1 {
		t.Fatalf("a rejected TagUser left %d tags", len(ut.Tags))
	}
}

// GetAccountAuthorizationDetails pages across users, groups, roles and policies.
func TestAuthorizationDetailsPages(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.root
	for _, name := range []string{"u1", "u2"} {
		must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String(name)}))
	}
	must[*sdk.CreateGroupOutput](t)(c.CreateGroup(ctx, &sdk.CreateGroupInput{GroupName: aws.String("g")}))
	must[*sdk.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &sdk.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(readOnlyECR)}))
	users, groups, policies, pages := 0, 0, 0, 0
	p := sdk.NewGetAccountAuthorizationDetailsPaginator(c, &sdk.GetAccountAuthorizationDetailsInput{MaxItems: aws.Int32(1)})
	for p.HasMorePages() {
		out := must[*sdk.GetAccountAuthorizationDetailsOutput](t)(p.NextPage(ctx))
		pages++
		users += len(out.UserDetailList)
		groups += len(out.GroupDetailList)
		policies += len(out.Policies)
	}
	if users != 2 || groups != 1 || policies != 1 || pages != 4 {
		t.Fatalf("%d pages: %d users, %d groups, %d policies", pages, users, groups, policies)
	}
}

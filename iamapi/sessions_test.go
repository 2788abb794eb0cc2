package iamapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/coffer-registry/coffer/iam/iamsql"
)

// Role sessions call IAM in the role's account: a member account's
// OrganizationAccountAccessRole, assumed from the management account, administers the
// member's identities and sees none of the management account's.
func TestRoleSessionsActOnTheirOwnAccount(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	member, err := w.store.CreateAccount(ctx, iamsql.CreateAccountInput{Name: "team-a", Email: "team-a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	must[*sdk.CreateUserOutput](t)(w.root.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("mgmt-user")}))

	// Roles are assumed by IAM principals (never by root): an administrator of the management account.
	must[*sdk.CreateUserOutput](t)(w.root.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("ops")}))
	must[*sdk.AttachUserPolicyOutput](t)(w.root.AttachUserPolicy(ctx, &sdk.AttachUserPolicyInput{UserName: aws.String("ops"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	k := must[*sdk.CreateAccessKeyOutput](t)(w.root.CreateAccessKey(ctx, &sdk.CreateAccessKeyInput{UserName: aws.String("ops")}))
	stsc := sts.NewFromConfig(w.config(*k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey, ""))
	roleARN := "arn:aws:iam::" + member.ID + ":role/" + iamsql.OrganizationAccountAccessRole
	s := must[*sts.AssumeRoleOutput](t)(stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("admin")}))
	admin := sdk.NewFromConfig(w.config(*s.Credentials.AccessKeyId, *s.Credentials.SecretAccessKey, *s.Credentials.SessionToken))

	u := must[*sdk.CreateUserOutput](t)(admin.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("builder")}))
	if !strings.HasPrefix(*u.User.Arn, "arn:aws:iam::"+member.ID+":user/") {
		t.Fatalf("the session created %s", *u.User.Arn)
	}
	users := must[*sdk.ListUsersOutput](t)(admin.ListUsers(ctx, &sdk.ListUsersInput{}))
	if len(users.Users) != 1 || *users.Users[0].UserName != "builder" {
		t.Fatalf("the member account lists %+v", users.Users)
	}
	_, err = admin.GetUser(ctx, &sdk.GetUserInput{UserName: aws.String("mgmt-user")})
	wantCode(t, err, "NoSuchEntity")
	mgmt := must[*sdk.ListUsersOutput](t)(w.root.ListUsers(ctx, &sdk.ListUsersInput{}))
	if len(mgmt.Users) != 2 || *mgmt.Users[0].UserName != "mgmt-user" {
		t.Fatalf("the management account lists %+v", mgmt.Users)
	}
	// A role session has no user of its own to default to.
	_, err = admin.GetUser(ctx, &sdk.GetUserInput{})
	ae := wantCode(t, err, "ValidationError")
	if ae.ErrorMessage() != "Must specify userName when calling with non-User credentials" {
		t.Errorf("message %q", ae.ErrorMessage())
	}
	_, err = admin.ListAccessKeys(ctx, &sdk.ListAccessKeysInput{})
	wantCode(t, err, "ValidationError")

	// A session of a role without IAM permissions is denied, naming the session.
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + w.acct + `"},"Action":"sts:AssumeRole"}]}`
	must[*sdk.CreateRoleOutput](t)(w.root.CreateRole(ctx, &sdk.CreateRoleInput{RoleName: aws.String("reader"), AssumeRolePolicyDocument: aws.String(trust)}))
	must[*sdk.PutRolePolicyOutput](t)(w.root.PutRolePolicy(ctx, &sdk.PutRolePolicyInput{RoleName: aws.String("reader"), PolicyName: aws.String("list"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:List*","Resource":"*"}]}`)}))
	rs := must[*sts.AssumeRoleOutput](t)(stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + w.acct + ":role/reader"), RoleSessionName: aws.String("r1")}))
	reader := sdk.NewFromConfig(w.config(*rs.Credentials.AccessKeyId, *rs.Credentials.SecretAccessKey, *rs.Credentials.SessionToken))
	must[*sdk.ListUsersOutput](t)(reader.ListUsers(ctx, &sdk.ListUsersInput{}))
	_, err = reader.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("x")})
	ae = wantCode(t, err, "AccessDenied")
	if !strings.Contains(ae.ErrorMessage(), "assumed-role/reader/r1 is not authorized to perform: iam:CreateUser") {
		t.Errorf("message %q", ae.ErrorMessage())
	}
}

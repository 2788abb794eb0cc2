package iamapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
)

// viewOwnPermissions is AWS's example policy "allows IAM users to view their own
// identity-based policies", the seed scenario of the project.
const viewOwnPermissions = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "ViewOwnUserInfo",
      "Effect": "Allow",
      "Action": ["iam:GetUserPolicy", "iam:ListGroupsForUser", "iam:ListAttachedUserPolicies", "iam:ListUserPolicies", "iam:GetUser"],
      "Resource": ["arn:aws:iam::*:user/${aws:username}"]
    },
    {
      "Sid": "NavigateInConsole",
      "Effect": "Allow",
      "Action": ["iam:GetGroupPolicy", "iam:GetPolicyVersion", "iam:GetPolicy", "iam:ListAttachedGroupPolicies",
                 "iam:ListGroupPolicies", "iam:ListPolicyVersions", "iam:ListPolicies", "iam:ListUsers"],
      "Resource": "*"
    }
  ]
}`

func TestUsersMayViewTheirOwnPermissions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	alice := w.userClient(t, "alice")
	must[*sdk.CreateUserOutput](t)(w.root.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("bob")}))
	p := must[*sdk.CreatePolicyOutput](t)(w.root.CreatePolicy(ctx, &sdk.CreatePolicyInput{PolicyName: aws.String("ViewOwnPermissions"), PolicyDocument: aws.String(viewOwnPermissions)}))
	must[*sdk.CreateGroupOutput](t)(w.root.CreateGroup(ctx, &sdk.CreateGroupInput{GroupName: aws.String("everyone")}))
	must[*sdk.AttachGroupPolicyOutput](t)(w.root.AttachGroupPolicy(ctx, &sdk.AttachGroupPolicyInput{GroupName: aws.String("everyone"), PolicyArn: p.Policy.Arn}))
	for _, u := range []string{"alice", "bob"} {
		must[*sdk.AddUserToGroupOutput](t)(w.root.AddUserToGroup(ctx, &sdk.AddUserToGroupInput{GroupName: aws.String("everyone"), UserName: aws.String(u)}))
		must[*sdk.PutUserPolicyOutput](t)(w.root.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String(u), PolicyName: aws.String("pull"), PolicyDocument: aws.String(readOnlyECR)}))
	}

	// Alice may look at herself...
	me := must[*sdk.GetUserOutput](t)(alice.GetUser(ctx, &sdk.GetUserInput{}))
	if *me.User.UserName != "alice" {
		t.Fatalf("GetUser without a name answered %s", *me.User.UserName)
	}
	must[*sdk.GetUserOutput](t)(alice.GetUser(ctx, &sdk.GetUserInput{UserName: aws.String("alice")}))
	names := must[*sdk.ListUserPoliciesOutput](t)(alice.ListUserPolicies(ctx, &sdk.ListUserPoliciesInput{UserName: aws.String("alice")}))
	if len(names.PolicyNames) != 1 {
		t.Fatalf("ListUserPolicies answered %v", names.PolicyNames)
	}
	must[*sdk.GetUserPolicyOutput](t)(alice.GetUserPolicy(ctx, &sdk.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("pull")}))
	must[*sdk.ListGroupsForUserOutput](t)(alice.ListGroupsForUser(ctx, &sdk.ListGroupsForUserInput{UserName: aws.String("alice")}))
	must[*sdk.ListAttachedGroupPoliciesOutput](t)(alice.ListAttachedGroupPolicies(ctx, &sdk.ListAttachedGroupPoliciesInput{GroupName: aws.String("everyone")}))
	must[*sdk.GetPolicyVersionOutput](t)(alice.GetPolicyVersion(ctx, &sdk.GetPolicyVersionInput{PolicyArn: p.Policy.Arn, VersionId: aws.String("v1")}))
	must[*sdk.ListUsersOutput](t)(alice.ListUsers(ctx, &sdk.ListUsersInput{}))

	// ...but not at Bob, and she may change nothing.
	bobARN := "arn:aws:iam::" + w.acct + ":user/bob"
	_, err := alice.GetUser(ctx, &sdk.GetUserInput{UserName: aws.String("bob")})
	ae := wantCode(t, err, "AccessDenied")
	want := "User: arn:aws:iam::" + w.acct + ":user/alice is not authorized to perform: iam:GetUser on resource: " + bobARN
	if !strings.HasPrefix(ae.ErrorMessage(), want) {
		t.Errorf("message %q, want prefix %q", ae.ErrorMessage(), want)
	}
	_, err = alice.ListUserPolicies(ctx, &sdk.ListUserPoliciesInput{UserName: aws.String("bob")})
	wantCode(t, err, "AccessDenied")
	_, err = alice.ListAttachedUserPolicies(ctx, &sdk.ListAttachedUserPoliciesInput{UserName: aws.String("bob")})
	wantCode(t, err, "AccessDenied")
	_, err = alice.GetUserPolicy(ctx, &sdk.GetUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("pull")})
	wantCode(t, err, "AccessDenied")
	_, err = alice.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("mallory")})
	wantCode(t, err, "AccessDenied")
	_, err = alice.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("admin"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
	wantCode(t, err, "AccessDenied")
	// A missing user answers AccessDenied too, so existence does not leak to the unauthorized.
	_, err = alice.GetUser(ctx, &sdk.GetUserInput{UserName: aws.String("ghost")})
	wantCode(t, err, "AccessDenied")
	_, err = alice.SimulateCustomPolicy(ctx, &sdk.SimulateCustomPolicyInput{PolicyInputList: []string{readOnlyECR}, ActionNames: []string{"ecr:BatchGetImage"}})
	wantCode(t, err, "AccessDenied")
}

// Conditions on the request keys the handlers add: aws:RequestTag, aws:TagKeys, iam:PolicyARN.
func TestRequestConditionKeys(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	admin := w.userClient(t, "admin")
	ro := "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
	doc := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["iam:CreateUser","iam:TagUser"],"Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"ml"},"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}},
	 {"Effect":"Allow","Action":"iam:AttachUserPolicy","Resource":"*","Condition":{"ArnEquals":{"iam:PolicyARN":"` + ro + `"}}}]}`
	must[*sdk.PutUserPolicyOutput](t)(w.root.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String("admin"), PolicyName: aws.String("delegated"), PolicyDocument: aws.String(doc)}))

	_, err := admin.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("u1")})
	wantCode(t, err, "AccessDenied")
	_, err = admin.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("u1"), Tags: tags("team", "web")})
	wantCode(t, err, "AccessDenied")
	_, err = admin.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("u1"), Tags: append(tags("team", "ml"), tags("cost", "1")...)})
	wantCode(t, err, "AccessDenied")
	must[*sdk.CreateUserOutput](t)(admin.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("u1"), Tags: tags("team", "ml")}))

	must[*sdk.AttachUserPolicyOutput](t)(admin.AttachUserPolicy(ctx, &sdk.AttachUserPolicyInput{UserName: aws.String("u1"), PolicyArn: aws.String(ro)}))
	_, err = admin.AttachUserPolicy(ctx, &sdk.AttachUserPolicyInput{UserName: aws.String("u1"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	wantCode(t, err, "AccessDenied")
}

// Renaming or moving an entity needs the permission on its old and its new ARN.
func TestUpdateUserChecksTheNewARN(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ops := w.userClient(t, "ops")
	must[*sdk.CreateUserOutput](t)(w.root.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("temp"), Path: aws.String("/contractors/")}))
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:UpdateUser","Resource":"arn:aws:iam::*:user/contractors/*"}]}`
	must[*sdk.PutUserPolicyOutput](t)(w.root.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String("ops"), PolicyName: aws.String("contractors"), PolicyDocument: aws.String(doc)}))

	_, err := ops.UpdateUser(ctx, &sdk.UpdateUserInput{UserName: aws.String("temp"), NewPath: aws.String("/staff/")})
	ae := wantCode(t, err, "AccessDenied")
	if !strings.Contains(ae.ErrorMessage(), ":user/staff/temp") {
		t.Errorf("message %q names the wrong resource", ae.ErrorMessage())
	}
	must[*sdk.UpdateUserOutput](t)(ops.UpdateUser(ctx, &sdk.UpdateUserInput{UserName: aws.String("temp"), NewUserName: aws.String("temp2")}))
	u := must[*sdk.GetUserOutput](t)(w.root.GetUser(ctx, &sdk.GetUserInput{UserName: aws.String("temp2")}))
	if *u.User.Path != "/contractors/" {
		t.Fatalf("path %s", *u.User.Path)
	}
}

// Attribute-based and boundary-based delegation: the resource's tags (aws:ResourceTag/K) and
// its permissions boundary (iam:PermissionsBoundary) reach the policies of the caller.
func TestResourceTagsAndBoundaryDelegation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	boundary := "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
	doc := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"ml"}}},
	 {"Effect":"Allow","Action":["iam:CreateUser","iam:PutUserPolicy","iam:DeleteUserPolicy"],"Resource":"*",
	  "Condition":{"StringEquals":{"iam:PermissionsBoundary":"` + boundary + `"}}}]}`
	delegate := w.userClient(t, "delegate")
	must[*sdk.PutUserPolicyOutput](t)(w.root.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String("delegate"), PolicyName: aws.String("d"), PolicyDocument: aws.String(doc)}))
	must[*sdk.CreateUserOutput](t)(w.root.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("ml-user"), Tags: tags("team", "ml")}))
	must[*sdk.CreateUserOutput](t)(w.root.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("web-user"), Tags: tags("team", "web")}))

	must[*sdk.GetUserOutput](t)(delegate.GetUser(ctx, &sdk.GetUserInput{UserName: aws.String("ml-user")}))
	_, err := delegate.GetUser(ctx, &sdk.GetUserInput{UserName: aws.String("web-user")})
	wantCode(t, err, "AccessDenied")

	_, err = delegate.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("free")})
	wantCode(t, err, "AccessDenied")
	must[*sdk.CreateUserOutput](t)(delegate.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("bounded"), PermissionsBoundary: aws.String(boundary)}))
	must[*sdk.PutUserPolicyOutput](t)(delegate.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String("bounded"), PolicyName: aws.String("p"), PolicyDocument: aws.String(readOnlyECR)}))
	_, err = delegate.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String("web-user"), PolicyName: aws.String("p"), PolicyDocument: aws.String(readOnlyECR)})
	wantCode(t, err, "AccessDenied")
	must[*sdk.DeleteUserPolicyOutput](t)(delegate.DeleteUserPolicy(ctx, &sdk.DeleteUserPolicyInput{UserName: aws.String("bounded"), PolicyName: aws.String("p")}))
}

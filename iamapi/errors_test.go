package iamapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// raw sends a query request signed with the root key, bypassing the SDK's own input checks,
// and returns the status and body.
func (w *world) raw(t testing.TB, form url.Values) (int, string) {
	t.Helper()
	form.Set("Version", "2010-05-08")
	body := form.Encode()
	req, err := http.NewRequest(http.MethodPost, w.srv.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: w.rootKey.ID, SecretAccessKey: w.rootKey.Secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMalformedPolicyDocuments(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.root
	must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("alice")}))
	cases := []struct{ doc, message string }{
		{`not json`, "Syntax errors in policy."},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*"}]}`, "Policy statement must contain resources."},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`, "Policy statement must contain actions."},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr","Resource":"*"}]}`, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
		{`{"Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}`, "Policy document must be version 2012-10-17 or greater."},
	}
	for _, tc := range cases {
		_, err := c.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("p"), PolicyDocument: aws.String(tc.doc)})
		ae := wantCode(t, err, "MalformedPolicyDocument")
		if ae.ErrorMessage() != tc.message {
			t.Errorf("%s: message %q, want %q", tc.doc, ae.ErrorMessage(), tc.message)
		}
		_, err = c.CreatePolicy(ctx, &sdk.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(tc.doc)})
		wantCode(t, err, "MalformedPolicyDocument")
	}
	// Nothing was created by the rejected calls.
	names := must[*sdk.ListUserPoliciesOutput](t)(c.ListUserPolicies(ctx, &sdk.ListUserPoliciesInput{UserName: aws.String("alice")}))
	local := must[*sdk.ListPoliciesOutput](t)(c.ListPolicies(ctx, &sdk.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal}))
	if len(names.PolicyNames) != 0 || len(local.Policies) != 0 {
		t.Fatalf("rejected documents left %v and %d managed policies", names.PolicyNames, len(local.Policies))
	}
	// A role with a malformed trust policy is not created either.
	_, err := c.CreateRole(ctx, &sdk.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Resource":"*"}]}`)})
	ae := wantCode(t, err, "MalformedPolicyDocument")
	if ae.ErrorMessage() != "Has prohibited field Resource." {
		t.Errorf("trust policy message %q", ae.ErrorMessage())
	}
	_, err = c.GetRole(ctx, &sdk.GetRoleInput{RoleName: aws.String("r")})
	wantCode(t, err, "NoSuchEntity")
}

func TestNamesDuplicatesAndMissingMembers(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.root

	_, err := c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("bad name!")})
	ae := wantCode(t, err, "ValidationError")
	if !strings.Contains(ae.ErrorMessage(), "Value 'bad name!' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern") {
		t.Errorf("message %q", ae.ErrorMessage())
	}
	_, err = c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String(strings.Repeat("a", 65))})
	wantCode(t, err, "ValidationError")
	_, err = c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("ok"), Path: aws.String("no-slashes")})
	wantCode(t, err, "ValidationError")
	_, err = c.CreateGroup(ctx, &sdk.CreateGroupInput{GroupName: aws.String("a/b")})
	wantCode(t, err, "ValidationError")
	_, err = c.CreateRole(ctx, &sdk.CreateRoleInput{RoleName: aws.String("r:1"), AssumeRolePolicyDocument: aws.String("{}")})
	wantCode(t, err, "ValidationError")

	must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("alice")}))
	_, err = c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("alice")})
	ae = wantCode(t, err, "EntityAlreadyExists")
	if ae.ErrorMessage() != "User with name alice already exists." {
		t.Errorf("message %q", ae.ErrorMessage())
	}
	_, err = c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("ALICE")})
	wantCode(t, err, "EntityAlreadyExists")
	must[*sdk.CreateGroupOutput](t)(c.CreateGroup(ctx, &sdk.CreateGroupInput{GroupName: aws.String("g")}))
	_, err = c.CreateGroup(ctx, &sdk.CreateGroupInput{GroupName: aws.String("g")})
	wantCode(t, err, "EntityAlreadyExists")
	must[*sdk.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &sdk.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(readOnlyECR)}))
	_, err = c.CreatePolicy(ctx, &sdk.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(readOnlyECR)})
	wantCode(t, err, "EntityAlreadyExists")

	// A user whose boundary does not exist, or whose tags are bad, is not half created.
	_, err = c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("bob"), PermissionsBoundary: aws.String("arn:aws:iam::" + w.acct + ":policy/nope")})
	if err == nil {
		t.Fatal("CreateUser with a missing boundary succeeded")
	}
	_, err = c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("bob"), Tags: []iamtypes.Tag{
		{Key: aws.String("k"), Value: aws.String("1")}, {Key: aws.String("K"), Value: aws.String("2")}}})
	if err == nil {
		t.Fatal("CreateUser with duplicate tag keys succeeded")
	}
	_, err = c.GetUser(ctx, &sdk.GetUserInput{UserName: aws.String("bob")})
	wantCode(t, err, "NoSuchEntity")

	// Missing required members, sent past the SDK's own checks.
	status, body := w.raw(t, url.Values{"Action": {"CreateUser"}})
	if status != 400 || !strings.Contains(body, "<Code>ValidationError</Code>") || !strings.Contains(body, "Value null at &#39;userName&#39;") && !strings.Contains(body, "Value null at 'userName'") {
		t.Fatalf("CreateUser without UserName: %d %s", status, body)
	}
	status, body = w.raw(t, url.Values{"Action": {"UpdateUser"}})
	if status != 400 || !strings.Contains(body, "userName") {
		t.Fatalf("UpdateUser without UserName: %d %s", status, body)
	}
	status, body = w.raw(t, url.Values{"Action": {"SimulateCustomPolicy"}, "ActionNames.member.1": {"ecr:GetAuthorizationToken"}})
	if status != 400 || !strings.Contains(body, "policyInputList") {
		t.Fatalf("SimulateCustomPolicy without PolicyInputList: %d %s", status, body)
	}
	status, body = w.raw(t, url.Values{"Action": {"CreateLoginProfile"}, "UserName": {"alice"}})
	if status != 400 || !strings.Contains(body, "<Code>InvalidAction</Code>") {
		t.Fatalf("an operation not served: %d %s", status, body)
	}
	// The raw answer is AWS's XML shape.
	status, body = w.raw(t, url.Values{"Action": {"GetUser"}, "UserName": {"alice"}})
	if status != 200 || !strings.Contains(body, `<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetUserResult><User>`) ||
		!strings.Contains(body, "<UserName>alice</UserName>") || !strings.Contains(body, "<RequestId>") {
		t.Fatalf("GetUser XML: %s", body)
	}
}

func TestLimits(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.root
	must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("alice")}))
	var arns []string
	for i := range 11 {
		p := must[*sdk.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &sdk.CreatePolicyInput{PolicyName: aws.String(fmt.Sprintf("p%d", i)), PolicyDocument: aws.String(readOnlyECR)}))
		arns = append(arns, *p.Policy.Arn)
	}
	for _, arn := range arns[:10] {
		must[*sdk.AttachUserPolicyOutput](t)(c.AttachUserPolicy(ctx, &sdk.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(arn)}))
	}
	_, err := c.AttachUserPolicy(ctx, &sdk.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(arns[10])})
	ae := wantCode(t, err, "LimitExceeded")
	if ae.ErrorMessage() != "Cannot exceed quota for PoliciesPerUser: 10" {
		t.Errorf("message %q", ae.ErrorMessage())
	}
	au := must[*sdk.ListAttachedUserPoliciesOutput](t)(c.ListAttachedUserPolicies(ctx, &sdk.ListAttachedUserPoliciesInput{UserName: aws.String("alice")}))
	if len(au.AttachedPolicies) != 10 {
		t.Fatalf("%d attached after the refused one", len(au.AttachedPolicies))
	}

	// Five versions at most.
	for range 4 {
		must[*sdk.CreatePolicyVersionOutput](t)(c.CreatePolicyVersion(ctx, &sdk.CreatePolicyVersionInput{PolicyArn: aws.String(arns[0]), PolicyDocument: aws.String(readOnlyECR)}))
	}
	_, err = c.CreatePolicyVersion(ctx, &sdk.CreatePolicyVersionInput{PolicyArn: aws.String(arns[0]), PolicyDocument: aws.String(readOnlyECR)})
	wantCode(t, err, "LimitExceeded")

	vs := must[*sdk.ListPolicyVersionsOutput](t)(c.ListPolicyVersions(ctx, &sdk.ListPolicyVersionsInput{PolicyArn: aws.String(arns[0])}))
	if len(vs.Versions) != 5 {
		t.Fatalf("%d versions after the refused sixth", len(vs.Versions))
	}

	// Ten groups per user.
	for i := range 11 {
		must[*sdk.CreateGroupOutput](t)(c.CreateGroup(ctx, &sdk.CreateGroupInput{GroupName: aws.String(fmt.Sprintf("g%d", i))}))
	}
	for i := range 10 {
		must[*sdk.AddUserToGroupOutput](t)(c.AddUserToGroup(ctx, &sdk.AddUserToGroupInput{GroupName: aws.String(fmt.Sprintf("g%d", i)), UserName: aws.String("alice")}))
	}
	_, err = c.AddUserToGroup(ctx, &sdk.AddUserToGroupInput{GroupName: aws.String("g10"), UserName: aws.String("alice")})
	wantCode(t, err, "LimitExceeded")

	// Ten managed policies per role and per group, as per user.
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + w.acct + `"},"Action":"sts:AssumeRole"}]}`
	must[*sdk.CreateRoleOutput](t)(c.CreateRole(ctx, &sdk.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trust)}))
	for _, arn := range arns[:10] {
		must[*sdk.AttachRolePolicyOutput](t)(c.AttachRolePolicy(ctx, &sdk.AttachRolePolicyInput{RoleName: aws.String("r"), PolicyArn: aws.String(arn)}))
		must[*sdk.AttachGroupPolicyOutput](t)(c.AttachGroupPolicy(ctx, &sdk.AttachGroupPolicyInput{GroupName: aws.String("g0"), PolicyArn: aws.String(arn)}))
	}
	_, err = c.AttachRolePolicy(ctx, &sdk.AttachRolePolicyInput{RoleName: aws.String("r"), PolicyArn: aws.String(arns[10])})
	wantCode(t, err, "LimitExceeded")
	_, err = c.AttachGroupPolicy(ctx, &sdk.AttachGroupPolicyInput{GroupName: aws.String("g0"), PolicyArn: aws.String(arns[10])})
	wantCode(t, err, "LimitExceeded")
	// A policy still attached somewhere cannot be deleted.
	_, err = c.DeletePolicy(ctx, &sdk.DeletePolicyInput{PolicyArn: aws.String(arns[1])})
	wantCode(t, err, "DeleteConflict")

	// Inline policies of a user share 2048 characters.
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*","Sid":"` + strings.Repeat("a", 2000) + `"}]}`
	_, err = c.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("big"), PolicyDocument: aws.String(big)})
	wantCode(t, err, "LimitExceeded")
	names := must[*sdk.ListUserPoliciesOutput](t)(c.ListUserPolicies(ctx, &sdk.ListUserPoliciesInput{UserName: aws.String("alice")}))
	if len(names.PolicyNames) != 0 {
		t.Fatalf("an oversized inline policy was kept: %v", names.PolicyNames)
	}
}

package stsapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
)

func TestGetCallerIdentity(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	out, err := c.sts(c.root).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *out.Account != c.mgmt || *out.Arn != "arn:aws:iam::"+c.mgmt+":root" || *out.UserId != c.mgmt {
		t.Fatalf("root: %s %s %s", *out.Account, *out.Arn, *out.UserId)
	}
	// A user whose policies allow nothing, or deny everything, may still ask who it is.
	alice := c.user(c.mgmt, "alice", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`)
	out, err = c.sts(alice).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *out.Arn != iam.UserARN(c.mgmt, "/", "alice") || !strings.HasPrefix(*out.UserId, "AIDA") || *out.Account != c.mgmt {
		t.Fatalf("user: %s %s %s", *out.Account, *out.Arn, *out.UserId)
	}
	// Wrong secret: the authenticator answers before STS.
	_, err = c.sts(aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: "wrong"}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantError(t, err, "SignatureDoesNotMatch", "")
}

// TestAssumeRoleInMemberAccount creates a member account through Organizations, then assumes
// its OrganizationAccountAccessRole as a user of the management account and uses the session.
func TestAssumeRoleInMemberAccount(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	created, err := c.orgs(c.root).CreateAccount(ctx, &organizations.CreateAccountInput{
		AccountName: aws.String("dev"), Email: aws.String("dev@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	status, err := c.orgs(c.root).DescribeCreateAccountStatus(ctx, &organizations.DescribeCreateAccountStatusInput{
		CreateAccountRequestId: created.CreateAccountStatus.Id})
	if err != nil {
		t.Fatal(err)
	}
	if status.CreateAccountStatus.State != "SUCCEEDED" || status.CreateAccountStatus.AccountId == nil {
		t.Fatalf("status %+v", status.CreateAccountStatus)
	}
	member := *status.CreateAccountStatus.AccountId
	roleARN := "arn:aws:iam::" + member + ":role/OrganizationAccountAccessRole"

	admin := c.user(c.mgmt, "admin", allowDoc("sts:AssumeRole", "*", ""))
	out, err := c.sts(admin).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("admin-session")})
	if err != nil {
		t.Fatal(err)
	}
	wantARN := "arn:aws:sts::" + member + ":assumed-role/OrganizationAccountAccessRole/admin-session"
	if *out.AssumedRoleUser.Arn != wantARN || !strings.HasPrefix(*out.AssumedRoleUser.AssumedRoleId, "AROA") ||
		!strings.HasSuffix(*out.AssumedRoleUser.AssumedRoleId, ":admin-session") {
		t.Fatalf("assumed role user %s %s", *out.AssumedRoleUser.Arn, *out.AssumedRoleUser.AssumedRoleId)
	}
	if !strings.HasPrefix(*out.Credentials.AccessKeyId, "ASIA") || len(*out.Credentials.SecretAccessKey) != 40 ||
		*out.Credentials.SessionToken == "" {
		t.Fatalf("credentials %+v", out.Credentials)
	}
	if d := time.Until(*out.Credentials.Expiration); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("default duration: expires in %v", d)
	}
	if out.PackedPolicySize != nil {
		t.Fatalf("PackedPolicySize without session policies or tags: %d", *out.PackedPolicySize)
	}
	session := sessionCreds(out.Credentials)
	who, err := c.sts(session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *who.Arn != wantARN || *who.Account != member || *who.UserId != *out.AssumedRoleUser.AssumedRoleId {
		t.Fatalf("caller %s %s %s", *who.Arn, *who.Account, *who.UserId)
	}
	// The member account's session is not the management account: Organizations refuses it.
	_, err = c.orgs(session).ListAccounts(ctx, &organizations.ListAccountsInput{})
	wantError(t, err, "AccessDeniedException", "You don't have permissions to access this resource.")

	// Cross account needs both sides: a management user without sts:AssumeRole is refused
	// although the trust policy trusts the whole management account.
	nobody := c.user(c.mgmt, "nobody", "")
	_, err = c.sts(nobody).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("x1")})
	wantError(t, err, "AccessDenied", "User: "+iam.UserARN(c.mgmt, "/", "nobody")+" is not authorized to perform: sts:AssumeRole on resource: "+roleARN)
	// A user of another member account is not trusted at all.
	other, err := c.store.CreateAccount(ctx, iamsql.CreateAccountInput{Name: "other", Email: "other@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	stranger := c.user(other.ID, "stranger", allowDoc("sts:AssumeRole", "*", ""))
	_, err = c.sts(stranger).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("x2")})
	wantError(t, err, "AccessDenied", "sts:AssumeRole on resource: "+roleARN)
	// A role that does not exist is refused the same way, without telling that it is missing.
	missing := "arn:aws:iam::" + member + ":role/Nope"
	_, err = c.sts(admin).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(missing), RoleSessionName: aws.String("x3")})
	wantError(t, err, "AccessDenied", "is not authorized to perform: sts:AssumeRole on resource: "+missing)
}

func TestAssumeRoleTrustPolicy(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	alice := c.user(c.mgmt, "alice", "")
	bob := c.user(c.mgmt, "bob", allowDoc("sts:AssumeRole", "*", ""))
	roleARN := c.role(c.mgmt, "deploy", trustDoc(iam.UserARN(c.mgmt, "/", "alice"), ""), "").ARN

	// Same account: a trust policy naming the user suffices without any identity policy.
	if _, err := c.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	// An identity policy alone does not: the trust policy must name the caller.
	_, err := c.sts(bob).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("bob")})
	wantError(t, err, "AccessDenied", "User: "+iam.UserARN(c.mgmt, "/", "bob")+" is not authorized to perform: sts:AssumeRole on resource: "+roleARN)

	// Root may not assume roles at all.
	_, err = c.sts(c.root).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("root")})
	wantError(t, err, "AccessDenied", "Roles may not be assumed by root accounts.")
}

func TestAssumeRoleExternalID(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	alice := c.user(c.mgmt, "alice", "")
	roleARN := c.role(c.mgmt, "vendor", trustDoc(iam.UserARN(c.mgmt, "/", "alice"),
		`,"Condition":{"StringEquals":{"sts:ExternalId":"Unique-1234"}}`), "").ARN
	in := func(id string) *sts.AssumeRoleInput {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("vendor")}
		if id != "" {
			in.ExternalId = aws.String(id)
		}
		return in
	}
	_, err := c.sts(alice).AssumeRole(ctx, in(""))
	wantError(t, err, "AccessDenied", "because no role trust policy allows the sts:AssumeRole action")
	_, err = c.sts(alice).AssumeRole(ctx, in("Unique-9999"))
	wantError(t, err, "AccessDenied", "sts:AssumeRole on resource: "+roleARN)
	if _, err := c.sts(alice).AssumeRole(ctx, in("Unique-1234")); err != nil {
		t.Fatal(err)
	}
	_, err = c.sts(alice).AssumeRole(ctx, in("x"))
	wantError(t, err, "ValidationError", "Value 'x' at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2")
}

// TestSessionPolicy checks that a session's permissions are the intersection of the role's
// policies and the session policies passed to AssumeRole.
func TestSessionPolicy(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	alice := c.user(c.mgmt, "alice", "")
	roleARN := c.role(c.mgmt, "reader", trustDoc(iam.UserARN(c.mgmt, "/", "alice"), ""),
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["organizations:ListAccounts","organizations:DescribeOrganization"],"Resource":"*"}]}`).ARN

	full, err := c.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("full")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.orgs(sessionCreds(full.Credentials)).ListAccounts(ctx, &organizations.ListAccountsInput{}); err != nil {
		t.Fatal(err)
	}

	narrow, err := c.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("narrow"),
		Policy: aws.String(allowDoc("organizations:DescribeOrganization", "*", ""))})
	if err != nil {
		t.Fatal(err)
	}
	if narrow.PackedPolicySize == nil || *narrow.PackedPolicySize < 1 || *narrow.PackedPolicySize > 100 {
		t.Fatalf("PackedPolicySize %v", narrow.PackedPolicySize)
	}
	session := sessionCreds(narrow.Credentials)
	if _, err := c.orgs(session).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.orgs(session).ListAccounts(ctx, &organizations.ListAccountsInput{})
	wantError(t, err, "AccessDeniedException", "organizations:ListAccounts")

	// A session policy cannot grant more than the role has.
	wide, err := c.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("wide"),
		Policy: aws.String(allowDoc("organizations:*", "*", ""))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.orgs(sessionCreds(wide.Credentials)).CreateAccount(ctx, &organizations.CreateAccountInput{
		AccountName: aws.String("x"), Email: aws.String("x@example.com")})
	wantError(t, err, "AccessDeniedException", "organizations:CreateAccount")

	// Managed session policies narrow the same way.
	managed, err := c.store.CreatePolicy(ctx, iamsql.CreatePolicyInput{Account: c.mgmt, Name: "describe-only",
		Document: allowDoc("organizations:DescribeOrganization", "*", "")})
	if err != nil {
		t.Fatal(err)
	}
	viaARN, err := c.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("arn"),
		PolicyArns: []ststypes.PolicyDescriptorType{{Arn: aws.String(managed.ARN)}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.orgs(sessionCreds(viaARN.Credentials)).ListAccounts(ctx, &organizations.ListAccountsInput{})
	wantError(t, err, "AccessDeniedException", "organizations:ListAccounts")

	_, err = c.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("bad"),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow"`)})
	wantError(t, err, "MalformedPolicyDocument", "")
	_, err = c.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("big"),
		Policy: aws.String(allowDoc("organizations:DescribeOrganization", "*", `{"StringEquals":{"aws:username":"`+strings.Repeat("a", 2100)+`"}}`))})
	wantError(t, err, "ValidationError", "at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048")
}

// TestSessionTags checks that session tags need sts:TagSession in the trust policy and then
// apply as aws:PrincipalTag, overriding the role's tags.
func TestSessionTags(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	alice := c.user(c.mgmt, "alice", "")
	aliceARN := iam.UserARN(c.mgmt, "/", "alice")
	byTeam := allowDoc("organizations:DescribeOrganization", "*", `{"StringEquals":{"aws:PrincipalTag/team":"platform"}}`)
	tagging := c.role(c.mgmt, "tagging", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+aliceARN+
		`"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringLike":{"aws:RequestTag/team":"*"}}}]}`, byTeam).ARN
	plain := c.role(c.mgmt, "plain", trustDoc(aliceARN, ""), byTeam).ARN

	assume := func(role, team string, transitive ...string) (*sts.AssumeRoleOutput, error) {
		return c.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("tagged"),
			Tags: []ststypes.Tag{{Key: aws.String("team"), Value: aws.String(team)}}, TransitiveTagKeys: transitive})
	}
	_, err := assume(plain, "platform")
	wantError(t, err, "AccessDenied", "sts:TagSession on resource: "+plain)

	out, err := assume(tagging, "platform", "team")
	if err != nil {
		t.Fatal(err)
	}
	if out.PackedPolicySize == nil {
		t.Fatal("PackedPolicySize missing with session tags")
	}
	if _, err := c.orgs(sessionCreds(out.Credentials)).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{}); err != nil {
		t.Fatal(err)
	}
	out, err = assume(tagging, "payments")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.orgs(sessionCreds(out.Credentials)).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	wantError(t, err, "AccessDeniedException", "organizations:DescribeOrganization")

	// Role chaining carries transitive tags, and only those, into the next session.
	next := c.role(c.mgmt, "next", trustDoc(tagging, ""), byTeam).ARN
	for _, transitive := range []bool{true, false} {
		var keys []string
		if transitive {
			keys = []string{"team"}
		}
		first, err := assume(tagging, "platform", keys...)
		if err != nil {
			t.Fatal(err)
		}
		second, err := c.sts(sessionCreds(first.Credentials)).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(next), RoleSessionName: aws.String("chained")})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.orgs(sessionCreds(second.Credentials)).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
		if transitive && err != nil {
			t.Fatalf("transitive tag lost: %v", err)
		}
		if !transitive {
			wantError(t, err, "AccessDeniedException", "organizations:DescribeOrganization")
		}
	}

	// The trust policy's condition on aws:RequestTag sees the request's tags: no tag, no session.
	_, err = c.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tagging), RoleSessionName: aws.String("untagged")})
	wantError(t, err, "AccessDenied", "sts:AssumeRole on resource: "+tagging)

	// Fifty long, random tags do not fit in a session.
	many := []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("platform")}}
	for i := range 49 {
		many = append(many, ststypes.Tag{Key: aws.String(fmt.Sprintf("k%02d", i)), Value: aws.String(randomText(256))})
	}
	_, err = c.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tagging), RoleSessionName: aws.String("big"), Tags: many})
	wantError(t, err, "PackedPolicyTooLarge", "")

	_, err = c.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tagging), RoleSessionName: aws.String("dup"),
		Tags: []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}, {Key: aws.String("Team"), Value: aws.String("b")}}})
	wantError(t, err, "InvalidInput", "")
}

func TestAssumeRoleValidation(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	alice := c.user(c.mgmt, "alice", "")
	roleARN := c.role(c.mgmt, "r", trustDoc(iam.UserARN(c.mgmt, "/", "alice"), ""), allowDoc("sts:AssumeRole", "*", "")).ARN
	cases := []struct {
		name      string
		in        sts.AssumeRoleInput
		code, msg string
	}{
		{"short session name", sts.AssumeRoleInput{RoleSessionName: aws.String("a")}, "ValidationError",
			"1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{"session name pattern", sts.AssumeRoleInput{RoleSessionName: aws.String("a b")}, "ValidationError",
			`Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`},
		{"long session name", sts.AssumeRoleInput{RoleSessionName: aws.String(strings.Repeat("s", 65))}, "ValidationError",
			"Member must have length less than or equal to 64"},
		{"duration too short", sts.AssumeRoleInput{DurationSeconds: aws.Int32(899)}, "ValidationError",
			"Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"},
		{"duration over the model", sts.AssumeRoleInput{DurationSeconds: aws.Int32(43201)}, "ValidationError",
			"Member must have value less than or equal to 43200"},
		{"duration over the role", sts.AssumeRoleInput{DurationSeconds: aws.Int32(7200)}, "ValidationError",
			"The requested DurationSeconds exceeds the MaxSessionDuration set for this role."},
		{"token code", sts.AssumeRoleInput{SerialNumber: aws.String("arn:aws:iam::123456789012:mfa/x"), TokenCode: aws.String("12a456")}, "ValidationError",
			`Value '12a456' at 'tokenCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [\d]*`},
		{"eleven policy arns", sts.AssumeRoleInput{PolicyArns: make([]ststypes.PolicyDescriptorType, 11)}, "ValidationError",
			"at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10"},
		{"two errors", sts.AssumeRoleInput{RoleSessionName: aws.String("a"), DurationSeconds: aws.Int32(1)}, "ValidationError",
			"2 validation errors detected"},
		{"not a role", sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:user/bob")}, "ValidationError",
			"arn:aws:iam::123456789012:user/bob is invalid"},
		{"source identity prefix", sts.AssumeRoleInput{SourceIdentity: aws.String("aws:me")}, "ValidationError", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.RoleArn == nil {
				in.RoleArn = aws.String(roleARN)
			}
			if in.RoleSessionName == nil {
				in.RoleSessionName = aws.String("valid")
			}
			for i := range in.PolicyArns {
				in.PolicyArns[i].Arn = aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")
			}
			_, err := c.sts(alice).AssumeRole(ctx, &in)
			wantError(t, err, tc.code, tc.msg)
		})
	}
	// A long session within the role's maximum.
	if err := c.store.UpdateRole(ctx, iamsql.UpdateRoleInput{Account: c.mgmt, Name: "r", MaxSessionDuration: aws.Int(7200)}); err != nil {
		t.Fatal(err)
	}
	out, err := c.sts(alice).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("long"), DurationSeconds: aws.Int32(7200)})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(*out.Credentials.Expiration); d < 119*time.Minute || d > 121*time.Minute {
		t.Fatalf("expires in %v", d)
	}
	// Role chaining: a session of r assuming r again may ask for an hour at most.
	chained := sessionCreds(out.Credentials)
	if err := c.store.UpdateAssumeRolePolicy(ctx, c.mgmt, "r", trustDoc(c.mgmt, "")); err != nil {
		t.Fatal(err)
	}
	_, err = c.sts(chained).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("chain"), DurationSeconds: aws.Int32(3601)})
	wantError(t, err, "ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	again, err := c.sts(chained).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("chain")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(*again.AssumedRoleUser.Arn, ":assumed-role/r/chain") {
		t.Fatalf("chained session %s", *again.AssumedRoleUser.Arn)
	}
}

// randomText returns n random letters and digits (text that does not compress well).
func randomText(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

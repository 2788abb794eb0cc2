package authz_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	cofferiam "github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
)

func TestRootMayDoAnythingInItsOwnAccount(t *testing.T) {
	w := newWorld(t)
	wantAllowed(t, w.createUser(w.root(), "bob"))
	wantAllowed(t, w.pull(w.root(), "", "app"))

	member, err := w.store.CreateAccount(context.Background(), iamsql.CreateAccountInput{Name: "dev", Email: "dev@example.com"})
	w.must(err)
	wantECRDenied(t, w.pull(w.root(), member.ID, "app"), fmt.Sprintf(
		"User: arn:aws:iam::%s:root is not authorized to perform: ecr:BatchGetImage on resource: %s because no resource-based policy allows the ecr:BatchGetImage action",
		w.acct, repoARN(member.ID, "app")))
	w.setRepositoryPolicy(member.ID, "app", fmt.Sprintf(
		`{"Version":"2012-10-17","Statement":[{"Sid":"Mgmt","Effect":"Allow","Principal":{"AWS":"%s"},"Action":"ecr:BatchGetImage"}]}`, w.acct))
	wantAllowed(t, w.pull(w.root(), member.ID, "app"))

	// An explicit deny in a resource policy binds the root user too.
	w.setRepositoryPolicy(w.acct, "locked", `{"Version":"2012-10-17","Statement":[{"Sid":"NoOne","Effect":"Deny","Principal":"*","Action":"ecr:*"}]}`)
	wantECRDenied(t, w.pull(w.root(), "", "locked"), fmt.Sprintf(
		"User: arn:aws:iam::%s:root is not authorized to perform: ecr:BatchGetImage on resource: %s with an explicit deny in a resource-based policy",
		w.acct, repoARN(w.acct, "locked")))
}

func TestUserPolicies(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	alice := w.user(w.acct, "alice", nil, allow("iam:CreateUser", "arn:aws:iam::*:user/${aws:username}-*"))
	wantAllowed(t, w.createUser(alice, "alice-bot"))
	wantIAMDenied(t, w.createUser(alice, "bob"), fmt.Sprintf(
		"User: arn:aws:iam::%s:user/alice is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::%s:user/bob because no identity-based policy allows the iam:CreateUser action",
		w.acct, w.acct))
	d := w.lastDecision()
	if d.Decision.Allowed() || d.Principal.ARN != "arn:aws:iam::"+w.acct+":user/alice" {
		t.Fatalf("audit hook saw %+v", d)
	}

	// Through a group's inline policy.
	carol := w.user(w.acct, "carol", nil)
	wantECRDenied(t, w.pull(carol, "", "app"), "")
	_, err := w.store.CreateGroup(ctx, w.acct, "pullers", "/")
	w.must(err)
	w.must(w.store.PutInlinePolicy(ctx, cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindGroup, Name: "pullers"}, "pull",
		allow("ecr:BatchGetImage", repoARN(w.acct, "app"))))
	w.must(w.store.AddUserToGroup(ctx, w.acct, "pullers", "carol"))
	wantAllowed(t, w.pull(carol, "", "app"))
	wantECRDenied(t, w.pull(carol, "", "other"), "")

	// Through a customer managed policy; then an AWS managed one (ReadOnlyAccess is larger
	// than customer policies may be).
	dave := w.user(w.acct, "dave", nil)
	mp, err := w.store.CreatePolicy(ctx, iamsql.CreatePolicyInput{Account: w.acct, Name: "CreateBots",
		Document: allow("iam:CreateUser", "arn:aws:iam::"+w.acct+":user/bot-*")})
	w.must(err)
	w.must(w.store.AttachPolicy(ctx, cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "dave"}, mp.ARN))
	wantAllowed(t, w.createUser(dave, "bot-1"))
	wantECRDenied(t, w.pull(dave, "", "app"), "")
	w.must(w.store.AttachPolicy(ctx, cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "dave"},
		"arn:aws:iam::aws:policy/ReadOnlyAccess"))
	wantAllowed(t, w.pull(dave, "", "app"))
	wantIAMDenied(t, w.createUser(dave, "x"), "")
}

// A write to the store changes the next decision; between writes, decisions read nothing.
func TestPolicyChangeIsSeenAtOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	erin := w.user(w.acct, "erin", nil, allow("ecr:*", "*"))
	for range 3 {
		wantAllowed(t, w.pull(erin, "", "app"))
	}
	if n := w.store.policyReads.Load(); n != 1 {
		t.Fatalf("%d policy reads for 3 requests", n)
	}
	w.must(w.store.PutInlinePolicy(ctx, cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "erin"}, "guard",
		deny("ecr:BatchGetImage", repoARN(w.acct, "app"))))
	wantECRDenied(t, w.pull(erin, "", "app"), fmt.Sprintf(
		"User: arn:aws:iam::%s:user/erin is not authorized to perform: ecr:BatchGetImage on resource: %s with an explicit deny in an identity-based policy",
		w.acct, repoARN(w.acct, "app")))
	w.must(w.store.DeleteInlinePolicy(ctx, cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "erin"}, "guard"))
	wantAllowed(t, w.pull(erin, "", "app"))
}

func TestCrossAccount(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	member, err := w.store.CreateAccount(ctx, iamsql.CreateAccountInput{Name: "prod", Email: "prod@example.com"})
	w.must(err)
	frank := w.user(member.ID, "frank", nil, allow("ecr:BatchGetImage", "*"))
	grace := w.user(member.ID, "grace", nil)
	w.setRepositoryPolicy(w.acct, "shared", fmt.Sprintf(
		`{"Version":"2012-10-17","Statement":[{"Sid":"Prod","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"ecr:BatchGetImage"}]}`, member.ID))
	wantAllowed(t, w.pull(frank, w.acct, "shared"))
	wantECRDenied(t, w.pull(frank, w.acct, "private"), fmt.Sprintf(
		"User: arn:aws:iam::%s:user/frank is not authorized to perform: ecr:BatchGetImage on resource: %s because no resource-based policy allows the ecr:BatchGetImage action",
		member.ID, repoARN(w.acct, "private")))
	// The repository grants grace's account, but her own account does not allow her.
	wantECRDenied(t, w.pull(grace, w.acct, "shared"), fmt.Sprintf(
		"User: arn:aws:iam::%s:user/grace is not authorized to perform: ecr:BatchGetImage on resource: %s because no identity-based policy allows the ecr:BatchGetImage action",
		member.ID, repoARN(w.acct, "shared")))
}

func TestSessionPolicyAndBoundary(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	role, err := w.store.CreateRole(ctx, iamsql.CreateRoleInput{Account: w.acct, Name: "admin",
		AssumeRolePolicy: fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":"sts:AssumeRole"}]}`, w.acct)})
	w.must(err)
	w.must(w.store.AttachPolicy(ctx, cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindRole, Name: "admin"}, cofferiam.AdministratorAccessARN))

	full, err := w.store.AssumeRole(ctx, cofferiam.AssumeRoleInput{RoleARN: role.ARN, SessionName: "full"})
	w.must(err)
	fullCreds := creds{full.AccessKeyID, full.SecretAccessKey, full.SessionToken}
	wantAllowed(t, w.createUser(fullCreds, "x"))
	wantAllowed(t, w.pull(fullCreds, "", "any"))

	limited, err := w.store.AssumeRole(ctx, cofferiam.AssumeRoleInput{RoleARN: role.ARN, SessionName: "pull-only",
		Policy: allow("ecr:BatchGetImage", repoARN(w.acct, "app"))})
	w.must(err)
	lc := creds{limited.AccessKeyID, limited.SecretAccessKey, limited.SessionToken}
	wantAllowed(t, w.pull(lc, "", "app"))
	wantECRDenied(t, w.pull(lc, "", "other"), fmt.Sprintf(
		"User: arn:aws:sts::%s:assumed-role/admin/pull-only is not authorized to perform: ecr:BatchGetImage on resource: %s because no session policy allows the ecr:BatchGetImage action",
		w.acct, repoARN(w.acct, "other")))
	wantIAMDenied(t, w.createUser(lc, "x"), "")

	// A user with AdministratorAccess inside an ECR-only boundary.
	bp, err := w.store.CreatePolicy(ctx, iamsql.CreatePolicyInput{Account: w.acct, Name: "EcrOnly", Document: allow("ecr:*", "*")})
	w.must(err)
	if _, err := w.store.CreateUser(ctx, iamsql.CreateUserInput{Account: w.acct, Name: "heidi", PermissionsBoundary: bp.ARN}); err != nil {
		t.Fatal(err)
	}
	w.must(w.store.AttachPolicy(ctx, cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "heidi"}, cofferiam.AdministratorAccessARN))
	key, err := w.store.CreateAccessKey(ctx, w.acct, "heidi")
	w.must(err)
	heidi := creds{key.ID, key.Secret, ""}
	wantAllowed(t, w.pull(heidi, "", "app"))
	wantIAMDenied(t, w.createUser(heidi, "x"), fmt.Sprintf(
		"User: arn:aws:iam::%s:user/heidi is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::%s:user/x because no permissions boundary allows the iam:CreateUser action",
		w.acct, w.acct))
}

// aws:MultiFactorAuthPresent is absent for long-term keys and present (true or false) for
// temporary credentials; aws:MultiFactorAuthAge is present only after MFA.
func TestMFAKeys(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Sid":"Absent","Effect":"Allow","Action":"ecr:BatchGetImage","Resource":%q,"Condition":{"Null":{"aws:MultiFactorAuthPresent":"true"}}},
		{"Sid":"False","Effect":"Allow","Action":"ecr:BatchGetImage","Resource":%q,"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"},"Null":{"aws:MultiFactorAuthAge":"true"}}},
		{"Sid":"Recent","Effect":"Allow","Action":"ecr:BatchGetImage","Resource":%q,"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"},"NumericLessThan":{"aws:MultiFactorAuthAge":"600"}}}]}`,
		repoARN(w.acct, "absent"), repoARN(w.acct, "false"), repoARN(w.acct, "recent"))
	ivan := w.user(w.acct, "ivan", nil, doc)
	check := func(c creds, want string) {
		t.Helper()
		for _, repo := range []string{"absent", "false", "recent"} {
			err := w.pull(c, "", repo)
			if (repo == want) != (err == nil) {
				t.Errorf("%s: %v", repo, err)
			}
		}
	}
	check(ivan, "absent")
	plain, err := w.store.GetSessionToken(ctx, cofferiam.SessionTokenInput{Account: w.acct, UserName: "ivan"})
	w.must(err)
	check(creds{plain.AccessKeyID, plain.SecretAccessKey, plain.SessionToken}, "false")
	mfa, err := w.store.GetSessionToken(ctx, cofferiam.SessionTokenInput{Account: w.acct, UserName: "ivan", MFAAuthTime: time.Now().Add(-time.Minute)})
	w.must(err)
	check(creds{mfa.AccessKeyID, mfa.SecretAccessKey, mfa.SessionToken}, "recent")
	old, err := w.store.GetSessionToken(ctx, cofferiam.SessionTokenInput{Account: w.acct, UserName: "ivan", MFAAuthTime: time.Now().Add(-time.Hour)})
	w.must(err)
	check(creds{old.AccessKeyID, old.SecretAccessKey, old.SessionToken}, "none")
}

// The caller's tags, account, organization and connection are in the context.
func TestPrincipalAndConnectionKeys(t *testing.T) {
	w := newWorld(t)
	org, err := w.store.DescribeOrganization(context.Background())
	w.must(err)
	cond := func(sid, repo, op, key, value string) string {
		return fmt.Sprintf(`{"Sid":%q,"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":%q,"Condition":{%q:{%q:%q}}}`,
			sid, repoARN(w.acct, repo), op, key, value)
	}
	doc := `{"Version":"2012-10-17","Statement":[` +
		cond("Team", "team", "StringEquals", "aws:PrincipalTag/team", "blue") + "," +
		cond("Org", "org", "StringEquals", "aws:PrincipalOrgID", org.ID) + "," +
		cond("Paths", "paths", "ForAnyValue:StringLike", "aws:PrincipalOrgPaths", org.ID+"/"+org.RootID+"/*") + "," +
		cond("Loopback", "loopback", "IpAddress", "aws:SourceIp", "127.0.0.0/8") + "," +
		cond("Elsewhere", "elsewhere", "IpAddress", "aws:SourceIp", "203.0.113.0/24") + "," +
		cond("TLS", "tls", "Bool", "aws:SecureTransport", "true") + "," +
		cond("Region", "region", "StringEquals", "aws:RequestedRegion", region) + "," +
		cond("Name", "name", "StringEquals", "aws:username", "judy") + "," +
		cond("Account", "account", "StringEquals", "aws:ResourceAccount", w.acct) + "," +
		cond("Now", "now", "DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:00Z") + "," +
		cond("Agent", "agent", "StringLike", "aws:UserAgent", "*aws-sdk-go-v2*") + "]}"
	judy := w.user(w.acct, "judy", []cofferiam.Tag{{Key: "team", Value: "blue"}})
	mp, err := w.store.CreatePolicy(context.Background(), iamsql.CreatePolicyInput{Account: w.acct, Name: "Conditions", Document: doc})
	w.must(err)
	w.must(w.store.AttachPolicy(context.Background(), cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "judy"}, mp.ARN))
	for repo, want := range map[string]bool{"team": true, "org": true, "paths": true, "loopback": true, "elsewhere": false,
		"tls": false, "region": true, "name": true, "account": true, "now": true, "agent": true} {
		if err := w.pull(judy, "", repo); (err == nil) != want {
			t.Errorf("%s: want allowed=%v, got %v", repo, want, err)
		}
	}
}

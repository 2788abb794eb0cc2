package e2e

import (
	"strings"
	"testing"
)

// viewOwnPermissions is AWS's example "allows IAM users to view their own identity-based
// policies", the seed scenario of the project.
const viewOwnPermissions = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ViewOwnUserInfo", "Effect": "Allow",
     "Action": ["iam:GetUserPolicy", "iam:ListGroupsForUser", "iam:ListAttachedUserPolicies", "iam:ListUserPolicies", "iam:GetUser"],
     "Resource": ["arn:aws:iam::*:user/${aws:username}"]},
    {"Sid": "NavigateInConsole", "Effect": "Allow",
     "Action": ["iam:GetGroupPolicy", "iam:GetPolicyVersion", "iam:GetPolicy", "iam:ListAttachedGroupPolicies",
                "iam:ListGroupPolicies", "iam:ListPolicyVersions", "iam:ListPolicies", "iam:ListUsers"],
     "Resource": "*"}
  ]
}`

const pullPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"Pull","Effect":"Allow",
 "Action":["ecr:GetAuthorizationToken","ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"*"}]}`

const pullAndPushPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"PullPush","Effect":"Allow",
 "Action":["ecr:GetAuthorizationToken","ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:PutImage"],"Resource":"*"}]}`

// readOnlyBoundary lets IAM be read and nothing be changed, whatever the identity policies say.
const readOnlyBoundary = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","sts:GetCallerIdentity"],"Resource":"*"}]}`

const createUsersPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:CreateUser","iam:GetUser"],"Resource":"*"}]}`

// The IAM workflow of issue #3 with the aws CLI against the coffer binary, signed with the
// root key of the credentials file the first start wrote.
func TestIAMWithAWSCLI(t *testing.T) {
	srv := startCoffer(t, "")
	root := newAWSCLI(t, srv)
	dir := t.TempDir()
	acct := str(root.run("sts", "get-caller-identity"), "Account")
	arn := func(kind, name string) string { return "arn:aws:iam::" + acct + ":" + kind + "/" + name }

	// Users, groups, roles.
	// alice sits at the root path: the seed's resource user/${aws:username} names only such users.
	u := root.run("iam", "create-user", "--user-name", "alice", "--tags", "Key=team,Value=ml")
	if str(u, "User", "Arn") != arn("user", "alice") || !strings.HasPrefix(str(u, "User", "UserId"), "AIDA") {
		t.Fatalf("create-user printed %v", u)
	}
	if b := root.run("iam", "create-user", "--user-name", "bob", "--path", "/ops/"); str(b, "User", "Arn") != arn("user", "ops/bob") {
		t.Fatalf("create-user printed %v", b)
	}
	root.run("iam", "create-group", "--group-name", "everyone")
	for _, name := range []string{"alice", "bob"} {
		root.run("iam", "add-user-to-group", "--group-name", "everyone", "--user-name", name)
	}
	if g := root.run("iam", "get-group", "--group-name", "everyone"); len(dig(g, "Users").([]any)) != 2 {
		t.Fatalf("get-group printed %v", g)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"sts:AssumeRole"}]}`
	r := root.run("iam", "create-role", "--role-name", "deployer", "--assume-role-policy-document", trust, "--max-session-duration", "7200")
	if str(r, "Role", "Arn") != arn("role", "deployer") || str(r, "Role", "AssumeRolePolicyDocument", "Statement", 0, "Action") != "sts:AssumeRole" {
		t.Fatalf("create-role printed %v", r)
	}

	// The seeds' policies: an AWS managed one, a customer managed one with versions, inline ones.
	root.run("iam", "attach-user-policy", "--user-name", "alice", "--policy-arn", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
	root.run("iam", "attach-role-policy", "--role-name", "deployer", "--policy-arn", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser")
	p := root.run("iam", "create-policy", "--policy-name", "ViewOwnPermissions", "--policy-document", writeFileArg(t, dir, "view.json", viewOwnPermissions))
	viewARN := str(p, "Policy", "Arn")
	if viewARN != "arn:aws:iam::"+acct+":policy/ViewOwnPermissions" || str(p, "Policy", "DefaultVersionId") != "v1" {
		t.Fatalf("create-policy printed %v", p)
	}
	root.run("iam", "attach-group-policy", "--group-name", "everyone", "--policy-arn", viewARN)
	pull := str(root.run("iam", "create-policy", "--policy-name", "pull", "--policy-document", pullPolicy), "Policy", "Arn")
	root.run("iam", "create-policy-version", "--policy-arn", pull, "--policy-document", pullAndPushPolicy, "--set-as-default")
	if v := root.run("iam", "list-policy-versions", "--policy-arn", pull); len(dig(v, "Versions").([]any)) != 2 {
		t.Fatalf("list-policy-versions printed %v", v)
	}
	if v := root.run("iam", "get-policy-version", "--policy-arn", pull, "--version-id", "v2"); str(v, "PolicyVersion", "Document", "Statement", 0, "Sid") != "PullPush" ||
		dig(v, "PolicyVersion", "IsDefaultVersion") != true {
		t.Fatalf("get-policy-version printed %v", v)
	}
	root.run("iam", "set-default-policy-version", "--policy-arn", pull, "--version-id", "v1")
	root.run("iam", "attach-group-policy", "--group-name", "everyone", "--policy-arn", pull)
	root.run("iam", "put-user-policy", "--user-name", "bob", "--policy-name", "create-users", "--policy-document", createUsersPolicy)
	if got := root.run("iam", "get-user-policy", "--user-name", "bob", "--policy-name", "create-users"); str(got, "PolicyDocument", "Statement", 0, "Effect") != "Allow" {
		t.Fatalf("get-user-policy printed %v", got)
	}
	att := root.run("iam", "list-attached-user-policies", "--user-name", "alice")
	if str(att, "AttachedPolicies", 0, "PolicyName") != "AmazonEC2ContainerRegistryReadOnly" {
		t.Fatalf("list-attached-user-policies printed %v", att)
	}

	// Access keys, and calls signed with them.
	aliceKey := root.run("iam", "create-access-key", "--user-name", "alice")
	alice := root.as(awsCreds{ID: str(aliceKey, "AccessKey", "AccessKeyId"), Secret: str(aliceKey, "AccessKey", "SecretAccessKey")})
	if !strings.HasPrefix(alice.creds.ID, "AKIA") || len(alice.creds.Secret) != 40 {
		t.Fatalf("create-access-key printed %v", aliceKey)
	}
	if id := alice.run("sts", "get-caller-identity"); str(id, "Arn") != arn("user", "alice") {
		t.Fatalf("alice is %v", id)
	}
	bobKey := root.run("iam", "create-access-key", "--user-name", "bob")
	bob := root.as(awsCreds{ID: str(bobKey, "AccessKey", "AccessKeyId"), Secret: str(bobKey, "AccessKey", "SecretAccessKey")})

	// The seed: alice may view her own permissions...
	if me := alice.run("iam", "get-user"); str(me, "User", "UserName") != "alice" {
		t.Fatalf("get-user without a name printed %v", me)
	}
	alice.run("iam", "get-user", "--user-name", "alice")
	alice.run("iam", "list-user-policies", "--user-name", "alice")
	alice.run("iam", "list-attached-user-policies", "--user-name", "alice")
	if gs := alice.run("iam", "list-groups-for-user", "--user-name", "alice"); str(gs, "Groups", 0, "GroupName") != "everyone" {
		t.Fatalf("list-groups-for-user printed %v", gs)
	}
	alice.run("iam", "get-policy-version", "--policy-arn", viewARN, "--version-id", "v1")
	// ...and not bob's, with AWS's sentence.
	stderr := alice.fail("AccessDenied", "iam", "get-user", "--user-name", "bob")
	want := "User: " + arn("user", "alice") + " is not authorized to perform: iam:GetUser on resource: " + arn("user", "ops/bob") +
		" because no identity-based policy allows the iam:GetUser action"
	if !strings.Contains(stderr, want) {
		t.Errorf("denied get-user said %q, want %q", stderr, want)
	}
	alice.fail("AccessDenied", "iam", "list-user-policies", "--user-name", "bob")
	alice.fail("AccessDenied", "iam", "create-user", "--user-name", "mallory")

	// A permissions boundary caps bob's inline policy: before it he may create users, after it not.
	bob.run("iam", "create-user", "--user-name", "made-by-bob")
	boundary := str(root.run("iam", "create-policy", "--policy-name", "read-only-boundary", "--policy-document", readOnlyBoundary), "Policy", "Arn")
	root.run("iam", "put-user-permissions-boundary", "--user-name", "bob", "--permissions-boundary", boundary)
	if b := root.run("iam", "get-user", "--user-name", "bob"); str(b, "User", "PermissionsBoundary", "PermissionsBoundaryArn") != boundary {
		t.Fatalf("get-user printed %v", b)
	}
	stderr = bob.fail("AccessDenied", "iam", "create-user", "--user-name", "made-by-bob-2")
	if !strings.Contains(stderr, "because no permissions boundary allows the iam:CreateUser action") {
		t.Errorf("boundary denial said %q", stderr)
	}
	bob.run("iam", "get-user", "--user-name", "made-by-bob")

	// Bad input answers AWS's codes and leaves nothing behind.
	stderr = root.fail("MalformedPolicyDocument", "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "bad",
		"--policy-document", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*"}]}`)
	if !strings.Contains(stderr, "Policy statement must contain resources.") {
		t.Errorf("malformed policy said %q", stderr)
	}
	root.fail("MalformedPolicyDocument", "iam", "create-policy", "--policy-name", "broken", "--policy-document", `{"Version":"2012-10-17","Statement":`)
	root.fail("NoSuchEntity", "iam", "get-policy", "--policy-arn", "arn:aws:iam::"+acct+":policy/broken")
	root.fail("ValidationError", "iam", "create-user", "--user-name", "no spaces/allowed")
	root.fail("EntityAlreadyExists", "iam", "create-user", "--user-name", "bob")
	root.fail("EntityAlreadyExists", "iam", "create-group", "--group-name", "everyone")
	root.run("iam", "create-access-key", "--user-name", "alice")
	root.fail("LimitExceeded", "iam", "create-access-key", "--user-name", "alice")
	if ks := root.run("iam", "list-access-keys", "--user-name", "alice"); len(dig(ks, "AccessKeyMetadata").([]any)) != 2 {
		t.Fatalf("list-access-keys printed %v", ks)
	}
	root.fail("DeleteConflict", "iam", "delete-user", "--user-name", "bob")
	users := root.run("iam", "list-users")
	if n := len(dig(users, "Users").([]any)); n != 3 {
		t.Errorf("list-users shows %d users, want alice, bob, made-by-bob: %v", n, users)
	}

	// A deactivated key stops signing.
	root.run("iam", "update-access-key", "--user-name", "alice", "--access-key-id", alice.creds.ID, "--status", "Inactive")
	alice.fail("InvalidClientTokenId", "sts", "get-caller-identity")

	// The account view ties it together.
	details := root.run("iam", "get-account-authorization-details")
	if len(dig(details, "UserDetailList").([]any)) != 3 || len(dig(details, "GroupDetailList").([]any)) != 1 || len(dig(details, "RoleDetailList").([]any)) != 1 {
		t.Errorf("get-account-authorization-details printed %v", details)
	}
}

package e2e

import (
	"encoding/base32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/iam"
)

// sessionCreds reads the Credentials of an assume-role or get-session-token answer.
func sessionCreds(t *testing.T, out map[string]any) awsCreds {
	t.Helper()
	c := awsCreds{ID: str(out, "Credentials", "AccessKeyId"), Secret: str(out, "Credentials", "SecretAccessKey"),
		Token: str(out, "Credentials", "SessionToken")}
	if !strings.HasPrefix(c.ID, "ASIA") || c.Secret == "" || c.Token == "" {
		t.Fatalf("no temporary credentials in %v", out)
	}
	return c
}

// Organizations creates a member account; the management account's root assumes the member's
// OrganizationAccountAccessRole and acts inside the member account with the session.
func TestOrganizationsAssumeRoleInMemberAccount(t *testing.T) {
	srv := startCoffer(t, "")
	root := newAWSCLI(t, srv)
	mgmt := str(root.run("sts", "get-caller-identity"), "Account")

	org := root.run("organizations", "describe-organization")
	if str(org, "Organization", "MasterAccountId") != mgmt {
		t.Fatalf("describe-organization printed %v", org)
	}
	created := root.run("organizations", "create-account", "--email", "dev@example.com", "--account-name", "dev")
	requestID := str(created, "CreateAccountStatus", "Id")
	status := root.run("organizations", "describe-create-account-status", "--create-account-request-id", requestID)
	member := str(status, "CreateAccountStatus", "AccountId")
	if str(status, "CreateAccountStatus", "State") != "SUCCEEDED" || len(member) != 12 || member == mgmt {
		t.Fatalf("describe-create-account-status printed %v", status)
	}
	if a := root.run("organizations", "describe-account", "--account-id", member); str(a, "Account", "Name") != "dev" {
		t.Fatalf("describe-account printed %v", a)
	}
	if l := root.run("organizations", "list-accounts"); len(dig(l, "Accounts").([]any)) != 2 {
		t.Fatalf("list-accounts printed %v", l)
	}
	// A second account with the same email fails in its status, as in AWS, not in the call.
	dup := root.run("organizations", "create-account", "--email", "dev@example.com", "--account-name", "dev2")
	if str(dup, "CreateAccountStatus", "State") != "FAILED" || str(dup, "CreateAccountStatus", "FailureReason") != "EMAIL_ALREADY_EXISTS" {
		t.Fatalf("a duplicate email printed %v", dup)
	}

	// As in AWS, the root user may not assume roles: an administrator of the management account does.
	roleARN := "arn:aws:iam::" + member + ":role/OrganizationAccountAccessRole"
	stderr := root.fail("AccessDenied", "sts", "assume-role", "--role-arn", roleARN, "--role-session-name", "e2e")
	if !strings.Contains(stderr, "Roles may not be assumed by root accounts.") {
		t.Errorf("the root's assume-role said %q", stderr)
	}
	root.run("iam", "create-user", "--user-name", "admin")
	root.run("iam", "attach-user-policy", "--user-name", "admin", "--policy-arn", "arn:aws:iam::aws:policy/AdministratorAccess")
	ak := root.run("iam", "create-access-key", "--user-name", "admin")
	admin := root.as(awsCreds{ID: str(ak, "AccessKey", "AccessKeyId"), Secret: str(ak, "AccessKey", "SecretAccessKey")})
	assumed := admin.run("sts", "assume-role", "--role-arn", roleARN, "--role-session-name", "e2e", "--duration-seconds", "900")
	want := "arn:aws:sts::" + member + ":assumed-role/OrganizationAccountAccessRole/e2e"
	if str(assumed, "AssumedRoleUser", "Arn") != want {
		t.Fatalf("assume-role printed %v", assumed)
	}
	session := root.as(sessionCreds(t, assumed))
	id := session.run("sts", "get-caller-identity")
	if str(id, "Arn") != want || str(id, "Account") != member || !strings.HasPrefix(str(id, "UserId"), "AROA") {
		t.Fatalf("the session is %v", id)
	}
	// The role holds AdministratorAccess in the member account: IAM there answers the session.
	u := session.run("iam", "create-user", "--user-name", "member-admin")
	if str(u, "User", "Arn") != "arn:aws:iam::"+member+":user/member-admin" {
		t.Fatalf("create-user in the member account printed %v", u)
	}
	if l := root.run("iam", "list-users"); len(dig(l, "Users").([]any)) != 1 {
		t.Errorf("the member account's user shows in the management account: %v", l)
	}

	// A user of the management account without sts:AssumeRole is refused.
	root.run("iam", "create-user", "--user-name", "nobody")
	k := root.run("iam", "create-access-key", "--user-name", "nobody")
	nobody := root.as(awsCreds{ID: str(k, "AccessKey", "AccessKeyId"), Secret: str(k, "AccessKey", "SecretAccessKey")})
	nobody.fail("AccessDenied", "sts", "assume-role", "--role-arn", roleARN, "--role-session-name", "nobody-session")
}

// mfaOnly allows listing users only when the caller signed in with MFA.
const mfaOnly = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*",
 "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"},"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}}]}`

// An MFA-protected call: a virtual MFA device enabled with TOTP codes the test computes,
// get-session-token with a code, and a call that needs aws:MultiFactorAuthPresent.
func TestMFAProtectedCall(t *testing.T) {
	srv := startCoffer(t, "")
	root := newAWSCLI(t, srv)
	dir := t.TempDir()

	root.run("iam", "create-user", "--user-name", "carol")
	root.run("iam", "put-user-policy", "--user-name", "carol", "--policy-name", "mfa-only", "--policy-document", mfaOnly)
	k := root.run("iam", "create-access-key", "--user-name", "carol")
	carol := root.as(awsCreds{ID: str(k, "AccessKey", "AccessKeyId"), Secret: str(k, "AccessKey", "SecretAccessKey")})

	seedFile := filepath.Join(dir, "seed")
	dev := root.run("iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", "carol-phone",
		"--outfile", seedFile, "--bootstrap-method", "Base32StringSeed")
	serial := str(dev, "VirtualMFADevice", "SerialNumber")
	raw, err := os.ReadFile(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("seed file %q: %v", raw, err)
	}
	// Two consecutive codes from the recent past enable the device; the current code stays
	// unused for get-session-token (a code is accepted once).
	step := iam.TOTPStepAt(time.Now())
	root.run("iam", "enable-mfa-device", "--user-name", "carol", "--serial-number", serial,
		"--authentication-code1", iam.HOTP(seed, step-2, 6), "--authentication-code2", iam.HOTP(seed, step-1, 6))
	if l := root.run("iam", "list-mfa-devices", "--user-name", "carol"); str(l, "MFADevices", 0, "SerialNumber") != serial {
		t.Fatalf("list-mfa-devices printed %v", l)
	}

	// Long-term keys carry no MFA: denied.
	carol.fail("AccessDenied", "iam", "list-users")
	// A wrong code is refused with AWS's sentence.
	wrong := "000000"
	if iam.HOTP(seed, step, 6) == wrong {
		wrong = "111111"
	}
	stderr := carol.fail("AccessDenied", "sts", "get-session-token", "--serial-number", serial, "--token-code", wrong)
	if !strings.Contains(stderr, "MultiFactorAuthentication failed with invalid MFA one time pass code.") {
		t.Errorf("a wrong code said %q", stderr)
	}
	// The code of the current step, computed just before use (later than the enabling codes).
	code := iam.HOTP(seed, iam.TOTPStepAt(time.Now()), 6)
	tok := carol.run("sts", "get-session-token", "--serial-number", serial, "--token-code", code, "--duration-seconds", "900")
	withMFA := root.as(sessionCreds(t, tok))
	if l := withMFA.run("iam", "list-users"); len(dig(l, "Users").([]any)) != 1 {
		t.Fatalf("list-users with MFA printed %v", l)
	}
	// A code is good once.
	carol.fail("AccessDenied", "sts", "get-session-token", "--serial-number", serial, "--token-code", code)
	// Without MFA a session token is no better than the key.
	plain := root.as(sessionCreds(t, carol.run("sts", "get-session-token")))
	plain.fail("AccessDenied", "iam", "list-users")
}

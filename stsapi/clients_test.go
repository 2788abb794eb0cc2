package stsapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/internal/awstest"
)

// TestAWSCLI: with the aws CLI, the management account's root creates a member account, a
// management user assumes OrganizationAccountAccessRole in it (aws sts assume-role), and the
// returned credentials are who get-caller-identity says.
func TestAWSCLI(t *testing.T) {
	c := start(t)
	awstest.NeedTool(t, "aws")
	stdout, stderr, err := c.awsCLI(t, c.root, "organizations", "create-account", "--email", "cli@example.com", "--account-name", "cli")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	var created struct {
		CreateAccountStatus struct{ Id, State, AccountId string }
	}
	mustJSON(t, stdout, &created)
	stdout, stderr, err = c.awsCLI(t, c.root, "organizations", "describe-create-account-status",
		"--create-account-request-id", created.CreateAccountStatus.Id)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	var status struct {
		CreateAccountStatus struct{ State, AccountId string }
	}
	mustJSON(t, stdout, &status)
	member := status.CreateAccountStatus.AccountId
	if status.CreateAccountStatus.State != "SUCCEEDED" || !iam.IsAccountID(member) {
		t.Fatalf("status %s", stdout)
	}

	admin := c.user(c.mgmt, "admin", allowDoc("sts:AssumeRole", "arn:aws:iam::*:role/OrganizationAccountAccessRole", ""))
	roleARN := "arn:aws:iam::" + member + ":role/OrganizationAccountAccessRole"
	stdout, stderr, err = c.awsCLI(t, admin, "sts", "assume-role", "--role-arn", roleARN, "--role-session-name", "cli-session",
		"--duration-seconds", "900")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	var assumed struct {
		Credentials     struct{ AccessKeyId, SecretAccessKey, SessionToken, Expiration string }
		AssumedRoleUser struct{ AssumedRoleId, Arn string }
	}
	mustJSON(t, stdout, &assumed)
	wantARN := "arn:aws:sts::" + member + ":assumed-role/OrganizationAccountAccessRole/cli-session"
	if assumed.AssumedRoleUser.Arn != wantARN || !strings.HasPrefix(assumed.Credentials.AccessKeyId, "ASIA") ||
		assumed.Credentials.Expiration == "" {
		t.Fatalf("assume-role: %s", stdout)
	}
	session := aws.Credentials{AccessKeyID: assumed.Credentials.AccessKeyId,
		SecretAccessKey: assumed.Credentials.SecretAccessKey, SessionToken: assumed.Credentials.SessionToken}
	stdout, stderr, err = c.awsCLI(t, session, "sts", "get-caller-identity")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	var who struct{ UserId, Account, Arn string }
	mustJSON(t, stdout, &who)
	if who.Arn != wantARN || who.Account != member || who.UserId != assumed.AssumedRoleUser.AssumedRoleId {
		t.Fatalf("get-caller-identity: %s", stdout)
	}

	// Denials come back as AWS's error, which the CLI prints.
	nobody := c.user(c.mgmt, "nobody", "")
	_, stderr, err = c.awsCLI(t, nobody, "sts", "assume-role", "--role-arn", roleARN, "--role-session-name", "denied")
	if err == nil || !strings.Contains(stderr, "(AccessDenied) when calling the AssumeRole operation: User: "+
		iam.UserARN(c.mgmt, "/", "nobody")+" is not authorized to perform: sts:AssumeRole on resource: "+roleARN) {
		t.Fatalf("want AccessDenied, got %v: %s", err, stderr)
	}
}

// TestBoto3: the same flow through boto3, plus GetSessionToken with an MFA code and a call
// that needs MFA.
func TestBoto3(t *testing.T) {
	c := start(t)
	awstest.NeedTool(t, "python3")
	admin := c.user(c.mgmt, "admin", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"},
		{"Effect":"Allow","Action":"organizations:*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}`)
	serial, seed := c.mfaDevice(c.mgmt, "admin")
	script := `
import os, sys, boto3, botocore
url = os.environ["COFFER_URL"]
def client(name, **creds):
    return boto3.client(name, endpoint_url=url, region_name="us-east-1", **creds)
orgs = client("organizations")
try:
    orgs.list_accounts()
    sys.exit("list_accounts without MFA succeeded")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "AccessDeniedException", e.response
tok = client("sts").get_session_token(SerialNumber=os.environ["MFA_SERIAL"], TokenCode=os.environ["MFA_CODE"])["Credentials"]
creds = dict(aws_access_key_id=tok["AccessKeyId"], aws_secret_access_key=tok["SecretAccessKey"], aws_session_token=tok["SessionToken"])
orgs = client("organizations", **creds)
st = orgs.create_account(Email="py@example.com", AccountName="py")["CreateAccountStatus"]
st = orgs.describe_create_account_status(CreateAccountRequestId=st["Id"])["CreateAccountStatus"]
assert st["State"] == "SUCCEEDED", st
member = st["AccountId"]
ids = [a["Id"] for page in orgs.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 1}) for a in page["Accounts"]]
assert member in ids and len(ids) == 2, ids
role = "arn:aws:iam::%s:role/OrganizationAccountAccessRole" % member
out = client("sts").assume_role(RoleArn=role, RoleSessionName="py-session")
c = out["Credentials"]
who = client("sts", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"]).get_caller_identity()
print(who["Arn"])
`
	out, err := c.python(t, admin, script, "MFA_SERIAL="+serial, "MFA_CODE="+nextCode(seed))
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(out, ":assumed-role/OrganizationAccountAccessRole/py-session") {
		t.Fatalf("boto3 printed %q", out)
	}
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
}

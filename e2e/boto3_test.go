package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// boto3Script does a subset of the aws CLI tests with boto3, configured only by the lines
// coffer printed (AWS_SHARED_CREDENTIALS_FILE, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION).
const boto3Script = `
import json, sys
import boto3
from botocore.exceptions import ClientError

def code(call):
    try:
        call()
        return None
    except ClientError as e:
        return e.response["Error"]["Code"]

out = {}
iam, sts, orgs = boto3.client("iam"), boto3.client("sts"), boto3.client("organizations")
out["root"] = sts.get_caller_identity()["Arn"]
out["user"] = iam.create_user(UserName="dave", Tags=[{"Key": "team", "Value": "web"}])["User"]["Arn"]
iam.create_group(GroupName="pullers")
iam.add_user_to_group(GroupName="pullers", UserName="dave")
iam.attach_group_policy(GroupName="pullers", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
iam.put_user_policy(UserName="dave", PolicyName="self", PolicyDocument=sys.argv[1])
key = iam.create_access_key(UserName="dave")["AccessKey"]
dave = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
out["dave"] = dave.client("sts").get_caller_identity()["Arn"]
out["dave_self"] = dave.client("iam").get_user()["User"]["UserName"]
out["dave_create"] = code(lambda: dave.client("iam").create_user(UserName="eve"))
out["duplicate"] = code(lambda: iam.create_user(UserName="dave"))
out["bad_name"] = code(lambda: iam.create_user(UserName="bad name"))
out["malformed"] = code(lambda: iam.create_policy(PolicyName="bad", PolicyDocument='{"Version":"2012-10-17"}'))
sim = iam.simulate_principal_policy(PolicySourceArn=out["user"], ActionNames=["ecr:BatchGetImage", "ecr:PutImage"])
out["sim"] = [r["EvalDecision"] for r in sim["EvaluationResults"]]
acct = orgs.create_account(Email="qa@example.com", AccountName="qa")["CreateAccountStatus"]
out["accounts"] = len(orgs.list_accounts()["Accounts"])
role = "arn:aws:iam::%s:role/OrganizationAccountAccessRole" % acct["AccountId"]
out["root_assume"] = code(lambda: sts.assume_role(RoleArn=role, RoleSessionName="boto3"))
iam.create_user(UserName="ops")
iam.attach_user_policy(UserName="ops", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
key = iam.create_access_key(UserName="ops")["AccessKey"]
ops = boto3.client("sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
creds = ops.assume_role(RoleArn=role, RoleSessionName="boto3")["Credentials"]
member = boto3.client("sts", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                      aws_session_token=creds["SessionToken"])
out["member"] = member.get_caller_identity()["Arn"]
out["member_account"] = acct["AccountId"]
print(json.dumps(out))
`

func TestBoto3(t *testing.T) {
	python := tool(t, "python3")
	if err := exec.Command(python, "-c", "import boto3").Run(); err != nil {
		t.Skip("boto3 is not installed for python3")
	}
	srv := startCoffer(t, "")
	cli := newAWSCLI(t, srv) // for its isolated environment and the printed lines
	cmd := exec.Command(python, "-c", boto3Script, viewOwnPermissions)
	cmd.Env = cli.environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("boto3: %v\n%s", err, stderr.String())
	}
	var out map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("boto3 printed %q: %v", stdout.String(), err)
	}
	acct := strings.TrimSuffix(strings.TrimPrefix(str(out, "root"), "arn:aws:iam::"), ":root")
	if len(acct) != 12 {
		t.Fatalf("boto3 saw the root as %v", out["root"])
	}
	for k, want := range map[string]string{
		"user":        "arn:aws:iam::" + acct + ":user/dave",
		"dave":        "arn:aws:iam::" + acct + ":user/dave",
		"dave_self":   "dave",
		"dave_create": "AccessDenied",
		"duplicate":   "EntityAlreadyExists",
		"bad_name":    "ValidationError",
		"malformed":   "MalformedPolicyDocument",
		"root_assume": "AccessDenied",
		"member":      "arn:aws:sts::" + str(out, "member_account") + ":assumed-role/OrganizationAccountAccessRole/boto3",
	} {
		if got := str(out, k); got != want {
			t.Errorf("%s: boto3 saw %q, want %q", k, got, want)
		}
	}
	if sim := fmt.Sprint(out["sim"]); sim != "[allowed implicitDeny]" || out["accounts"] != 2.0 {
		t.Errorf("boto3 saw simulation %s and %v accounts", sim, out["accounts"])
	}
}

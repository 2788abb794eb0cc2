package iamapi_test

import (
	"bytes"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/internal/awstest"
)

// clientEnv isolates the AWS clients from any local configuration and signs as id/secret.
func clientEnv(t *testing.T, id, secret string) []string {
	return awstest.Env(t, aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, "us-east-1")
}

// cli runs `aws --endpoint-url <world> --output json args...` as the root user.
func (w *world) cli(t *testing.T, args ...string) (map[string]any, string, error) {
	t.Helper()
	cmd := exec.Command(awstest.NeedTool(t, "aws"), append([]string{"--endpoint-url", w.srv.URL, "--output", "json"}, args...)...)
	cmd.Env = clientEnv(t, w.rootKey.ID, w.rootKey.Secret)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, errb.String(), err
	}
	var v map[string]any
	if strings.TrimSpace(out.String()) != "" {
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatalf("aws %v printed %q: %v", args, out.String(), err)
		}
	}
	return v, errb.String(), nil
}

func (w *world) mustCLI(t *testing.T, args ...string) map[string]any {
	t.Helper()
	v, stderr, err := w.cli(t, args...)
	if err != nil {
		t.Fatalf("aws %v: %v: %s", args, err, stderr)
	}
	return v
}

// dig walks a decoded JSON value by member names and list indexes.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestAWSCLI(t *testing.T) {
	awstest.NeedTool(t, "aws")
	w := newWorld(t)
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policyFile, []byte(viewOwnPermissions), 0o600); err != nil {
		t.Fatal(err)
	}

	out := w.mustCLI(t, "iam", "create-user", "--user-name", "alice", "--path", "/dev/", "--tags", "Key=team,Value=ml")
	if dig(out, "User", "Arn") != "arn:aws:iam::"+w.acct+":user/dev/alice" || dig(out, "User", "Tags", 0, "Value") != "ml" {
		t.Fatalf("create-user printed %v", out)
	}
	_, stderr, err := w.cli(t, "iam", "create-user", "--user-name", "alice")
	if err == nil || !strings.Contains(stderr, "(EntityAlreadyExists)") || !strings.Contains(stderr, "User with name alice already exists.") {
		t.Fatalf("duplicate create-user: %v %s", err, stderr)
	}
	_, stderr, err = w.cli(t, "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "bad", "--policy-document", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*"}]}`)
	if err == nil || !strings.Contains(stderr, "(MalformedPolicyDocument)") || !strings.Contains(stderr, "Policy statement must contain resources.") {
		t.Fatalf("malformed put-user-policy: %v %s", err, stderr)
	}

	// Inline policy: the CLI decodes the URL-encoded document back to JSON.
	w.mustCLI(t, "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "view-own", "--policy-document", "file://"+policyFile)
	got := w.mustCLI(t, "iam", "get-user-policy", "--user-name", "alice", "--policy-name", "view-own")
	if dig(got, "PolicyDocument", "Statement", 0, "Sid") != "ViewOwnUserInfo" {
		t.Fatalf("get-user-policy printed %v", got)
	}

	// Managed policy, versions and attachment.
	pol := w.mustCLI(t, "iam", "create-policy", "--policy-name", "pull", "--policy-document", readOnlyECR, "--description", "pull images")
	arn, _ := dig(pol, "Policy", "Arn").(string)
	if arn != "arn:aws:iam::"+w.acct+":policy/pull" || dig(pol, "Policy", "DefaultVersionId") != "v1" {
		t.Fatalf("create-policy printed %v", pol)
	}
	w.mustCLI(t, "iam", "create-policy-version", "--policy-arn", arn, "--policy-document", readOnlyECR, "--set-as-default")
	ver := w.mustCLI(t, "iam", "get-policy-version", "--policy-arn", arn, "--version-id", "v2")
	if dig(ver, "PolicyVersion", "Document", "Statement", 0, "Sid") != "Pull" || dig(ver, "PolicyVersion", "IsDefaultVersion") != true {
		t.Fatalf("get-policy-version printed %v", ver)
	}
	w.mustCLI(t, "iam", "attach-user-policy", "--user-name", "alice", "--policy-arn", arn)
	w.mustCLI(t, "iam", "attach-user-policy", "--user-name", "alice", "--policy-arn", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
	att := w.mustCLI(t, "iam", "list-attached-user-policies", "--user-name", "alice")
	if l, _ := dig(att, "AttachedPolicies").([]any); len(l) != 2 {
		t.Fatalf("list-attached-user-policies printed %v", att)
	}

	// Groups and roles; the role's trust policy comes back decoded.
	w.mustCLI(t, "iam", "create-group", "--group-name", "devs")
	w.mustCLI(t, "iam", "add-user-to-group", "--group-name", "devs", "--user-name", "alice")
	grp := w.mustCLI(t, "iam", "get-group", "--group-name", "devs")
	if dig(grp, "Users", 0, "UserName") != "alice" {
		t.Fatalf("get-group printed %v", grp)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + w.acct + `:root"},"Action":"sts:AssumeRole"}]}`
	w.mustCLI(t, "iam", "create-role", "--role-name", "ci", "--assume-role-policy-document", trust)
	role := w.mustCLI(t, "iam", "get-role", "--role-name", "ci")
	if dig(role, "Role", "AssumeRolePolicyDocument", "Statement", 0, "Action") != "sts:AssumeRole" {
		t.Fatalf("get-role printed %v", role)
	}

	// Access keys: the third is refused.
	key := w.mustCLI(t, "iam", "create-access-key", "--user-name", "alice")
	if id, _ := dig(key, "AccessKey", "AccessKeyId").(string); !strings.HasPrefix(id, "AKIA") {
		t.Fatalf("create-access-key printed %v", key)
	}
	w.mustCLI(t, "iam", "create-access-key", "--user-name", "alice")
	_, stderr, err = w.cli(t, "iam", "create-access-key", "--user-name", "alice")
	if err == nil || !strings.Contains(stderr, "(LimitExceeded)") {
		t.Fatalf("third access key: %v %s", err, stderr)
	}

	// Virtual MFA: the CLI writes the seed to a file, the test computes two TOTP codes.
	seedFile := filepath.Join(dir, "seed.txt")
	dev := w.mustCLI(t, "iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", "alice-phone",
		"--outfile", seedFile, "--bootstrap-method", "Base32StringSeed")
	serial, _ := dig(dev, "VirtualMFADevice", "SerialNumber").(string)
	raw, err := os.ReadFile(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("seed file %q: %v", raw, err)
	}
	// The other bootstrap method writes the QR code as a PNG file.
	qrFile := filepath.Join(dir, "qr.png")
	w.mustCLI(t, "iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", "alice-tablet", "--outfile", qrFile, "--bootstrap-method", "QRCodePNG")
	if qr, err := os.ReadFile(qrFile); err != nil || !bytes.HasPrefix(qr, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("QR code file: %v", err)
	}
	step := iam.TOTPStepAt(w.now())
	w.mustCLI(t, "iam", "enable-mfa-device", "--user-name", "alice", "--serial-number", serial,
		"--authentication-code1", iam.HOTP(seed, step-1, 6), "--authentication-code2", iam.HOTP(seed, step, 6))
	mfa := w.mustCLI(t, "iam", "list-mfa-devices", "--user-name", "alice")
	if dig(mfa, "MFADevices", 0, "SerialNumber") != serial {
		t.Fatalf("list-mfa-devices printed %v", mfa)
	}

	// The simulator, on the stored policies of the user.
	sim := w.mustCLI(t, "iam", "simulate-principal-policy", "--policy-source-arn", "arn:aws:iam::"+w.acct+":user/dev/alice",
		"--action-names", "ecr:BatchGetImage", "iam:CreateUser")
	if dig(sim, "EvaluationResults", 0, "EvalDecision") != "allowed" || dig(sim, "EvaluationResults", 1, "EvalDecision") != "implicitDeny" {
		t.Fatalf("simulate-principal-policy printed %v", sim)
	}
	details := w.mustCLI(t, "iam", "get-account-authorization-details")
	if dig(details, "UserDetailList", 0, "UserPolicyList", 0, "PolicyDocument", "Version") != "2012-10-17" {
		t.Fatalf("get-account-authorization-details printed %v", dig(details, "UserDetailList"))
	}
	users := w.mustCLI(t, "iam", "list-users", "--max-items", "1")
	if l, _ := dig(users, "Users").([]any); len(l) != 1 {
		t.Fatalf("list-users printed %v", users)
	}
}

const boto3Script = `
import boto3, json, sys
from botocore.exceptions import ClientError
iam = boto3.client("iam", endpoint_url=sys.argv[1])
out = {}
out["user"] = iam.create_user(UserName="bob", Tags=[{"Key": "team", "Value": "web"}])["User"]["Arn"]
iam.put_user_policy(UserName="bob", PolicyName="pull", PolicyDocument=sys.argv[2])
out["doc"] = iam.get_user_policy(UserName="bob", PolicyName="pull")["PolicyDocument"]
key = iam.create_access_key(UserName="bob")["AccessKey"]
out["key"] = key["AccessKeyId"]
out["keys"] = len(iam.list_access_keys(UserName="bob")["AccessKeyMetadata"])
bob = boto3.client("iam", endpoint_url=sys.argv[1], aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
try:
    bob.create_user(UserName="eve")
    out["denied"] = None
except ClientError as e:
    out["denied"] = e.response["Error"]["Code"]
try:
    iam.delete_user(UserName="bob")
except ClientError as e:
    out["conflict"] = e.response["Error"]["Code"]
sim = iam.simulate_custom_policy(PolicyInputList=[sys.argv[2]], ActionNames=["ecr:BatchGetImage", "ecr:PutImage"],
    ContextEntries=[{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.0.0.1"], "ContextKeyType": "ip"}])
out["sim"] = [r["EvalDecision"] for r in sim["EvaluationResults"]]
pages = iam.get_paginator("list_policies").paginate(Scope="AWS", PaginationConfig={"PageSize": 2})
out["aws_policies"] = sum(len(p["Policies"]) for p in pages)
print(json.dumps(out))
`

func TestBoto3(t *testing.T) {
	python := awstest.NeedBoto3(t)
	w := newWorld(t)
	cmd := exec.Command(python, "-c", boto3Script, w.srv.URL, readOnlyECR)
	cmd.Env = clientEnv(t, w.rootKey.ID, w.rootKey.Secret)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	var out struct {
		User, Key, Denied, Conflict string
		Doc                         map[string]any
		Keys                        int
		AWSPolicies                 int `json:"aws_policies"`
		Sim                         []string
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if out.User != "arn:aws:iam::"+w.acct+":user/bob" || dig(out.Doc, "Statement", 0, "Sid") != "Pull" || !strings.HasPrefix(out.Key, "AKIA") ||
		out.Keys != 1 || out.Denied != "AccessDenied" || out.Conflict != "DeleteConflict" ||
		fmt.Sprint(out.Sim) != "[allowed implicitDeny]" || out.AWSPolicies < 8 {
		t.Fatalf("boto3 saw %s", stdout.String())
	}
}

// A sample of the corpus through `aws iam simulate-custom-policy --cli-input-json`, as the
// corpus's own instructions replay it.
func TestAWSCLICorpusSample(t *testing.T) {
	awstest.NeedTool(t, "aws")
	if testing.Short() {
		t.Skip("runs the aws CLI 50 times")
	}
	w := newWorld(t)
	cases := loadCorpus(t)
	dir := t.TempDir()
	stride := len(cases) / 50
	checked := 0
	for i := 0; i < len(cases) && checked < 50; i += stride {
		c := cases[i]
		in := map[string]any{"PolicyInputList": c.PolicyInputList, "ActionNames": []string{c.ActionName},
			"ResourceArns": []string{c.ResourceArn}, "ResourceOwner": c.ResourceOwner, "CallerArn": c.CallerArn,
			"ContextEntries": c.ContextEntries}
		if in["PolicyInputList"] == nil {
			in["PolicyInputList"] = []string{}
		}
		if len(c.PermissionsBoundaryPolicyInputList) > 0 {
			in["PermissionsBoundaryPolicyInputList"] = c.PermissionsBoundaryPolicyInputList
		}
		if c.ResourcePolicy != "" {
			in["ResourcePolicy"] = c.ResourcePolicy
		}
		if len(c.ContextEntries) == 0 {
			delete(in, "ContextEntries")
		}
		data, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, c.ID+".json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out := w.mustCLI(t, "iam", "simulate-custom-policy", "--cli-input-json", "file://"+file)
		if got := dig(out, "EvaluationResults", 0, "EvalDecision"); got != c.EvalDecision {
			t.Errorf("%s: the CLI got %v, the corpus says %s", c.ID, got, c.EvalDecision)
		}
		checked++
	}
	if checked != 50 {
		t.Fatalf("checked %d cases", checked)
	}
}

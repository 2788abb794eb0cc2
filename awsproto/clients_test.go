package awsproto_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/coffer-registry/coffer/internal/awstest"
)

// cliCreds are the credentials the external clients sign with; the test endpoint does not
// check them.
var cliCreds = aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "secret"}

func runAWS(t *testing.T, url string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return awstest.CLI(t, url, cliCreds, "us-east-1", args...)
}

func TestAWSCLI(t *testing.T) {
	awstest.NeedTool(t, "aws")
	rec := &recorded{}
	srv := httptest.NewServer(newTestEndpoint(t, rec))
	defer srv.Close()

	t.Run("iam create-user (query)", func(t *testing.T) {
		stdout, stderr, err := runAWS(t, srv.URL, "iam", "create-user", "--user-name", "cli-bot",
			"--tags", "Key=team,Value=platform", "Key=env,Value=prod")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		var out struct {
			User struct {
				UserName, Arn, CreateDate string
				Tags                      []struct{ Key, Value string }
			}
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		if out.User.UserName != "cli-bot" || out.User.CreateDate != "2026-11-29T15:04:05Z" ||
			len(out.User.Tags) != 2 || out.User.Tags[1].Value != "prod" {
			t.Fatalf("parsed %+v", out)
		}
		if rec.createUser.UserName != "cli-bot" || len(rec.createUser.Tags) != 2 || rec.createUser.Tags[0].Key != "team" {
			t.Fatalf("decoded %+v", rec.createUser)
		}
	})

	t.Run("iam get-user error (query)", func(t *testing.T) {
		_, stderr, err := runAWS(t, srv.URL, "iam", "get-user", "--user-name", "ghost")
		if err == nil || !strings.Contains(stderr, "(NoSuchEntity)") ||
			!strings.Contains(stderr, "The user with name ghost cannot be found.") {
			t.Fatalf("err=%v stderr=%s", err, stderr)
		}
	})

	t.Run("ecr batch-get-image (json)", func(t *testing.T) {
		stdout, stderr, err := runAWS(t, srv.URL, "ecr", "batch-get-image", "--repository-name", "team/app",
			"--image-ids", "imageTag=v1", "imageDigest=sha256:abc")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		var out struct {
			Images []struct {
				ImageManifest string
				ImageID       struct{ ImageTag string } `json:"imageId"`
			}
			Failures []struct{ FailureCode string }
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		if len(out.Images) != 1 || out.Images[0].ImageManifest != `{"schemaVersion":2}` || out.Images[0].ImageID.ImageTag != "v1" ||
			len(out.Failures) != 1 || out.Failures[0].FailureCode != "ImageTagDoesNotMatchDigest" {
			t.Fatalf("parsed %s", stdout)
		}
		if len(rec.batchGet.ImageIds) != 2 || *rec.batchGet.ImageIds[1].ImageDigest != "sha256:abc" {
			t.Fatalf("decoded %+v", rec.batchGet)
		}
	})

	t.Run("ecr delete-repository error (json)", func(t *testing.T) {
		_, stderr, err := runAWS(t, srv.URL, "ecr", "delete-repository", "--repository-name", "nope")
		if err == nil || !strings.Contains(stderr, "(RepositoryNotFoundException)") || !strings.Contains(stderr, "'nope' does not exist") {
			t.Fatalf("err=%v stderr=%s", err, stderr)
		}
	})
}

// botoScript drives boto3 against the endpoint given as argv[1] and prints one JSON object.
const botoScript = `
import json, sys, boto3, botocore
ep = sys.argv[1]
kw = dict(endpoint_url=ep, region_name="us-east-1", aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="secret")
out = {}
iam = boto3.client("iam", **kw)
u = iam.create_user(UserName="boto-bot", Tags=[{"Key": "a", "Value": "1"}])["User"]
out["user"] = [u["UserName"], u["CreateDate"].isoformat(), u["Tags"][0]["Value"]]
try:
    iam.get_user(UserName="ghost")
except botocore.exceptions.ClientError as e:
    out["iam_error"] = [e.response["Error"]["Code"], e.response["Error"]["Message"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Type")]
sim = iam.simulate_custom_policy(PolicyInputList=['{"Version":"2012-10-17","Statement":[]}'], ActionNames=["ecr:PutImage"],
    ContextEntries=[{"ContextKeyName": "aws:TagKeys", "ContextKeyType": "stringList", "ContextKeyValues": ["a", "b"]}])
r0 = sim["EvaluationResults"][0]
out["simulate"] = [r0["EvalActionName"], r0["EvalDecision"], r0["EvalDecisionDetails"]["IAM Policy"],
    r0["MatchedStatements"][0]["StartPosition"]["Column"], r0["MissingContextValues"], sim["IsTruncated"]]
sts = boto3.client("sts", **kw)
r = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/deployer", RoleSessionName="boto",
                    PolicyArns=[{"arn": "arn:aws:iam::aws:policy/ReadOnly"}], Tags=[{"Key": "p", "Value": "q"}])
out["assume"] = [r["Credentials"]["SessionToken"], r["Credentials"]["Expiration"].isoformat(), r["AssumedRoleUser"]["Arn"]]
ecr = boto3.client("ecr", **kw)
repos = ecr.describe_repositories()["repositories"]
out["repo"] = [repos[0]["repositoryName"], repos[0]["createdAt"].isoformat(), repos[0]["imageScanningConfiguration"]["scanOnPush"]]
try:
    ecr.delete_repository(repositoryName="nope")
except ecr.exceptions.RepositoryNotFoundException as e:
    out["ecr_error"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
org = boto3.client("organizations", **kw)
s = org.create_account(Email="dev@example.com", AccountName="dev")["CreateAccountStatus"]
out["account"] = [s["State"], s["RequestedTimestamp"].isoformat()]
print(json.dumps(out))
`

func TestBoto3(t *testing.T) {
	python := awstest.NeedBoto3(t)
	rec := &recorded{}
	srv := httptest.NewServer(newTestEndpoint(t, rec))
	defer srv.Close()
	cmd := exec.Command(python, "-c", botoScript, srv.URL)
	cmd.Env = awstest.Env(t, cliCreds, "us-east-1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	var got map[string][]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	want := map[string][]any{
		"user":      {"boto-bot", "2026-11-29T15:04:05+00:00", "1"},
		"iam_error": {"NoSuchEntity", "The user with name ghost cannot be found.", 404.0, "Sender"},
		"simulate":  {"ecr:PutImage", "allowed", "allowed", 37.0, []any{"aws:SourceIp"}, false},
		"assume":    {"token<&>", "2026-11-29T16:04:05+00:00", "arn:aws:sts::123456789012:assumed-role/deployer/boto"},
		"repo":      {"team/app", "2026-11-29T15:04:05.250000+00:00", true},
		"ecr_error": {"RepositoryNotFoundException", 400.0},
		"account":   {"IN_PROGRESS", "2026-11-29T15:04:05+00:00"},
	}
	for k, w := range want {
		if !jsonEqual(got[k], w) {
			t.Errorf("%s: got %v want %v", k, got[k], w)
		}
	}
	if in := rec.simulate; len(in.ContextEntries) != 1 || len(in.ContextEntries[0].ContextKeyValues) != 2 || in.ContextEntries[0].ContextKeyValues[1] != "b" {
		t.Errorf("boto3 SimulateCustomPolicy decoded %+v", in)
	}
	if in := rec.assumeRole; len(in.PolicyArns) != 1 || *in.PolicyArns[0].Arn != "arn:aws:iam::aws:policy/ReadOnly" {
		t.Errorf("boto3 AssumeRole decoded %+v", in)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

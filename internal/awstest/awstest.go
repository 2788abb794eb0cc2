// Package awstest runs the real AWS clients (the aws CLI, boto3) from tests, against a server
// on loopback, with nothing of the machine's own AWS configuration leaking in.
package awstest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// NeedTool returns the path of an external client. Where it is missing the test is skipped,
// unless CI is set: there it fails.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed (set CI=1 to make this a failure)", name)
	}
	return path
}

// NeedBoto3 returns the path of a python3 that imports boto3, skipping or failing as NeedTool.
func NeedBoto3(t testing.TB) string {
	t.Helper()
	python := NeedTool(t, "python3")
	if err := exec.Command(python, "-c", "import boto3").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("boto3 is required in CI: %v", err)
		}
		t.Skip("boto3 not installed (set CI=1 to make this a failure)")
	}
	return python
}

// Env is the environment of an AWS client that signs as creds in region: the test's own
// without its AWS_* variables, configuration files that do not exist, one attempt per call
// and no pager.
func Env(t testing.TB, creds aws.Credentials, region string) []string {
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_DEFAULT_REGION="+region, "AWS_REGION="+region,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
	if creds.SessionToken != "" {
		env = append(env, "AWS_SESSION_TOKEN="+creds.SessionToken)
	}
	return env
}

// CLI runs `aws --endpoint-url url --output json args...` with Env(creds, region).
func CLI(t testing.TB, url string, creds aws.Credentials, region string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(NeedTool(t, "aws"), append([]string{"--endpoint-url", url, "--output", "json"}, args...)...)
	cmd.Env = Env(t, creds, region)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's workflow: start on an empty data directory, take the printed lines as
// they are (no --endpoint-url), create a user and ask who is calling; a restart prints the
// same lines and the key keeps working.
func TestFirstStartWorkflow(t *testing.T) {
	dir := t.TempDir()
	srv := startCoffer(t, dir)
	env := printedEnv(t, srv)
	creds := filepath.Join(dir, "credentials")
	if env.CredentialsFile != creds || env.EndpointURL != srv.URL || env.Region != "us-east-1" || env.DefaultRegion != "us-east-1" {
		t.Fatalf("coffer printed %+v, want the credentials file %s, %s and us-east-1:\n%s", env, creds, srv.URL, srv.Stdout)
	}
	st, err := os.Stat(creds)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", creds, st.Mode().Perm())
	}
	content, _ := os.ReadFile(creds)
	if !strings.Contains(string(content), "[default]\naws_access_key_id = AKIA") || !strings.Contains(string(content), "\naws_secret_access_key = ") {
		t.Errorf("credentials file:\n%s", content)
	}

	cli := newAWSCLI(t, srv)
	cli.endpointFlag = false // only the exported AWS_ENDPOINT_URL points the CLI at coffer
	id := cli.run("sts", "get-caller-identity")
	acct := str(id, "Account")
	if str(id, "Arn") != "arn:aws:iam::"+acct+":root" {
		t.Fatalf("get-caller-identity printed %v", id)
	}
	if u := cli.run("iam", "create-user", "--user-name", "first"); str(u, "User", "Arn") != "arn:aws:iam::"+acct+":user/first" {
		t.Fatalf("create-user printed %v", u)
	}
	srv.Stop()

	again := startCoffer(t, dir)
	env2 := printedEnv(t, again)
	if env2.CredentialsFile != creds || env2.EndpointURL != again.URL || env2.Region != "us-east-1" {
		t.Fatalf("the second start printed:\n%s", again.Stdout)
	}
	if after, _ := os.ReadFile(creds); string(after) != string(content) {
		t.Error("the second start rewrote the credentials file")
	}
	cli = newAWSCLI(t, again)
	cli.endpointFlag = false
	if id := cli.run("sts", "get-caller-identity"); str(id, "Account") != acct {
		t.Fatalf("after a restart get-caller-identity printed %v", id)
	}
	cli.run("iam", "get-user", "--user-name", "first")
}

// --region is the region the printed lines name and the SigV4 scope the CLI signs with; a
// missing credentials file is reported, not fatal.
func TestRegionAndMissingCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	srv := startCoffer(t, dir, "--region", "eu-central-1")
	if env := printedEnv(t, srv); env.Region != "eu-central-1" || env.DefaultRegion != "eu-central-1" {
		t.Fatalf("coffer printed:\n%s", srv.Stdout)
	}
	cli := newAWSCLI(t, srv)
	id := cli.run("sts", "get-caller-identity", "--region", "eu-central-1")
	cli.run("iam", "list-users")
	repo := cli.run("ecr", "create-repository", "--repository-name", "regional")
	if arn := str(repo, "repository", "repositoryArn"); arn != "arn:aws:ecr:eu-central-1:"+str(id, "Account")+":repository/regional" {
		t.Errorf("with --region eu-central-1 the repository ARN is %s", arn)
	}
	stderr := cli.fail("SignatureDoesNotMatch", "sts", "get-caller-identity", "--region", "ap-southeast-2")
	if !strings.Contains(stderr, "Credential should be scoped to a valid region, not 'ap-southeast-2'.") {
		t.Errorf("a request signed for another region said %q", stderr)
	}
	srv.Stop()

	if err := os.Remove(filepath.Join(dir, "credentials")); err != nil {
		t.Fatal(err)
	}
	again := startCoffer(t, dir, "--region", "eu-central-1")
	env := printedEnv(t, again)
	out := again.Stdout.String()
	if env.CredentialsFile != "" || env.EndpointURL != again.URL || !strings.Contains(out, "is missing") ||
		!strings.Contains(out, "cannot be shown again") || !strings.Contains(out, str(id, "Account")) {
		t.Fatalf("with the credentials file removed, coffer printed:\n%s", out)
	}
	if !strings.Contains(again.log.String(), "credentials file written on first start is missing") {
		t.Errorf("the log does not warn about the missing credentials file:\n%s", again.tail())
	}
	if _, err := os.Stat(filepath.Join(dir, "credentials")); err == nil {
		t.Error("a credentials file appeared with a key that was not just created")
	}
}

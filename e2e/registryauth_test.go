package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The seeds' workflow against the binary with the aws CLI and crane: a repository, a user
// whose policy allows only that repository, docker-style login with a token from
// get-login-password, push and pull there and nowhere else, a user without policy refused
// a token, an anonymous client asked to log in, and the denials in `coffer audit`.
func TestRegistryAccessWithAWSCLIAndCrane(t *testing.T) {
	srv := startCofferAuthorized(t, "")
	root := newAWSCLI(t, srv)
	acct := str(root.run("ecr", "create-repository", "--repository-name", "my-repo"), "repository", "registryId")
	root.run("ecr", "create-repository", "--repository-name", "other-repo")

	root.run("iam", "create-user", "--user-name", "dev")
	root.run("iam", "put-user-policy", "--user-name", "dev", "--policy-name", "my-repo", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"},
		{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:us-east-1:`+acct+`:repository/my-repo"}]}`)
	key := root.run("iam", "create-access-key", "--user-name", "dev")
	dev := root.as(awsCreds{ID: str(key, "AccessKey", "AccessKeyId"), Secret: str(key, "AccessKey", "SecretAccessKey")})
	root.run("iam", "create-user", "--user-name", "nobody")
	nkey := root.run("iam", "create-access-key", "--user-name", "nobody")
	nobody := root.as(awsCreds{ID: str(nkey, "AccessKey", "AccessKeyId"), Secret: str(nkey, "AccessKey", "SecretAccessKey")})

	crane := newClient(t, "crane")
	crane.run("auth", "login", srv.Host, "-u", "AWS", "-p", dev.runText("ecr", "get-login-password"))
	img := randomImage(t, 71, 1, 1500)
	src := filepath.Join(crane.dir, "src")
	writeLayout(t, src, img, "v1")
	myRepo := srv.Host + "/" + acct + "/my-repo"
	crane.run("push", "--insecure", src, myRepo+":v1")
	if d := strings.TrimSpace(crane.run("digest", "--insecure", myRepo+":v1")); d != digestOf(t, img) {
		t.Fatalf("digest %s, want %s", d, digestOf(t, img))
	}
	if tags := crane.run("ls", "--insecure", myRepo); strings.TrimSpace(tags) != "v1" {
		t.Fatalf("tags %q", tags)
	}
	out, err := crane.try("push", "--insecure", src, srv.Host+"/"+acct+"/other-repo:v1")
	if err == nil || !strings.Contains(out, "403") && !strings.Contains(out, "DENIED") {
		t.Fatalf("push to other-repo: %v\n%s", err, out)
	}
	out, err = crane.try("ls", "--insecure", srv.Host+"/"+acct+"/other-repo")
	if err == nil || !strings.Contains(out, "is not authorized to perform: ecr:ListImages on resource: arn:aws:ecr:us-east-1:"+acct+":repository/other-repo") {
		t.Fatalf("ls other-repo: %v\n%s", err, out)
	}

	// Without a policy there is no token; without credentials the registry asks to log in.
	nobody.fail("AccessDeniedException", "ecr", "get-login-password")
	anon := newClient(t, "crane")
	if out, err := anon.try("ls", "--insecure", myRepo); err == nil || !strings.Contains(out, "401") && !strings.Contains(out, "UNAUTHORIZED") {
		t.Fatalf("anonymous ls: %v\n%s", err, out)
	}

	// The trail names the refusals (read while the server runs).
	cmd := exec.Command(cofferBin, "audit", "--data", srv.Data, "--decision", "deny", "--principal", "arn:aws:iam::"+acct+":user/dev")
	trail, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("coffer audit: %v\n%s", err, trail)
	}
	for _, want := range []string{`"eventName":"ListImages"`, `"repository":"other-repo"`, `"errorCode":"AccessDenied"`} {
		if !strings.Contains(string(trail), want) {
			t.Errorf("coffer audit output lacks %s:\n%s", want, trail)
		}
	}
}

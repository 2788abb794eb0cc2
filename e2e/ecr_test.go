package e2e

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// ECR and the registry on one listener: the aws CLI creates a repository and fetches the
// registry password, crane pushes to the repositoryUri with it, and ECR lists the image.
func TestECRAndRegistryWithAWSCLIAndCrane(t *testing.T) {
	crane := newClient(t, "crane")
	srv := startCofferAuthorized(t, "")
	root := newAWSCLI(t, srv)

	repo := root.run("ecr", "create-repository", "--repository-name", "team/app")
	uri := str(repo, "repository", "repositoryUri")
	acct := str(repo, "repository", "registryId")
	if uri != srv.Host+"/"+acct+"/team/app" {
		t.Fatalf("repositoryUri %s, want %s/%s/team/app", uri, srv.Host, acct)
	}
	if arn := str(repo, "repository", "repositoryArn"); arn != "arn:aws:ecr:us-east-1:"+acct+":repository/team/app" {
		t.Errorf("repositoryArn %s", arn)
	}
	password := root.runText("ecr", "get-login-password")
	if len(password) < 100 {
		t.Fatalf("get-login-password printed %q", password)
	}
	crane.run("auth", "login", srv.Host, "-u", "AWS", "-p", password)

	img := randomImage(t, 70, 1, 2000)
	src := filepath.Join(crane.dir, "src")
	writeLayout(t, src, img, "v1")
	crane.run("push", "--insecure", src, uri+":v1")

	images := root.run("ecr", "describe-images", "--repository-name", "team/app")
	if str(images, "imageDetails", 0, "imageDigest") != digestOf(t, img) || str(images, "imageDetails", 0, "imageTags", 0) != "v1" {
		t.Fatalf("describe-images printed %v", images)
	}
	root.fail("RepositoryAlreadyExistsException", "ecr", "create-repository", "--repository-name", "team/app")
}

// runText runs `aws args... --output text` and returns its output without the final newline.
func (a *awsCLI) runText(args ...string) string {
	a.t.Helper()
	full := append(append([]string{}, args...), "--endpoint-url", a.env.EndpointURL)
	cmd := a.command(full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		a.t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

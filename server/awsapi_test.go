package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// readCredentials parses the [default] profile of an AWS shared-credentials file.
func readCredentials(t *testing.T, path string) aws.Credentials {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c aws.Credentials
	profile := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			profile = strings.Trim(line, "[]")
		case profile == "default":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("credentials line %q", line)
			}
			switch strings.TrimSpace(k) {
			case "aws_access_key_id":
				c.AccessKeyID = strings.TrimSpace(v)
			case "aws_secret_access_key":
				c.SecretAccessKey = strings.TrimSpace(v)
			default:
				t.Fatalf("unexpected key %q", k)
			}
		}
	}
	if !strings.HasPrefix(c.AccessKeyID, "AKIA") || len(c.AccessKeyID) != 20 || len(c.SecretAccessKey) != 40 {
		t.Fatalf("credentials file holds %q / %d-char secret", c.AccessKeyID, len(c.SecretAccessKey))
	}
	return c
}

// exports parses the `export NAME=value` lines the server printed.
func exports(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			k, v, _ := strings.Cut(rest, "=")
			m[k] = v
		}
	}
	return m
}

func awsConfig(url, region string, c aws.Credentials) aws.Config {
	return aws.Config{Region: region, BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: c}}
}

func callerARN(t *testing.T, cfg aws.Config) string {
	t.Helper()
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	return *out.Arn
}

// The first start creates the management account and writes its root key; the AWS APIs and the
// registry answer on the same listener; later starts reuse the key and print the same lines.
func TestFirstStartAndRestart(t *testing.T) {
	dir := t.TempDir()
	var stdout bytes.Buffer
	s := start(t, Config{DataDir: dir, Stdout: &stdout})
	l := Layout(dir)

	st, err := os.Stat(l.Credentials())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", st.Mode().Perm())
	}
	creds := readCredentials(t, l.Credentials())
	abs, _ := filepath.Abs(l.Credentials())
	env := exports(stdout.String())
	if env["AWS_SHARED_CREDENTIALS_FILE"] != abs || env["AWS_ENDPOINT_URL"] != s.URL() || env["AWS_REGION"] != "us-east-1" || env["AWS_DEFAULT_REGION"] != "us-east-1" || len(env) != 4 {
		t.Fatalf("printed:\n%s", stdout.String())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".credentials-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}

	cfg := awsConfig(s.URL(), "us-east-1", creds)
	arn := callerARN(t, cfg)
	if !strings.HasPrefix(arn, "arn:aws:iam::") || !strings.HasSuffix(arn, ":root") {
		t.Fatalf("root caller ARN %s", arn)
	}
	account := strings.TrimSuffix(strings.TrimPrefix(arn, "arn:aws:iam::"), ":root")
	if _, err := sdkiam.NewFromConfig(cfg).CreateUser(context.Background(), &sdkiam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	org, err := organizations.NewFromConfig(cfg).DescribeOrganization(context.Background(), &organizations.DescribeOrganizationInput{})
	if err != nil || *org.Organization.MasterAccountId != account {
		t.Fatalf("DescribeOrganization: %v %v", org, err)
	}
	resp, err := http.Get(s.URL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ = %s beside the AWS APIs", resp.Status)
	}
	if err := s.stopped(t); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(l.Credentials())

	// Second start: nothing new is made, the same key still signs, alice is still there.
	stdout.Reset()
	s = start(t, Config{DataDir: dir, Stdout: &stdout})
	after, _ := os.ReadFile(l.Credentials())
	if !bytes.Equal(before, after) {
		t.Error("the second start rewrote the credentials file")
	}
	env = exports(stdout.String())
	if env["AWS_SHARED_CREDENTIALS_FILE"] != abs || env["AWS_ENDPOINT_URL"] != s.URL() || len(env) != 4 {
		t.Fatalf("second start printed:\n%s", stdout.String())
	}
	cfg = awsConfig(s.URL(), "us-east-1", creds)
	if callerARN(t, cfg) != arn {
		t.Error("the root key changed across restarts")
	}
	if _, err := sdkiam.NewFromConfig(cfg).GetUser(context.Background(), &sdkiam.GetUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	s.stopped(t)

	// The credentials file is gone: the server says so and serves all the same.
	if err := os.Remove(l.Credentials()); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	s = start(t, Config{DataDir: dir, Stdout: &stdout})
	out := stdout.String()
	env = exports(out)
	if _, ok := env["AWS_SHARED_CREDENTIALS_FILE"]; ok || env["AWS_ENDPOINT_URL"] != s.URL() ||
		!strings.Contains(out, abs+" is missing") || !strings.Contains(out, "cannot be shown again") {
		t.Fatalf("with the credentials file gone, printed:\n%s", out)
	}
	if !strings.Contains(s.logs.String(), "credentials file written on first start is missing") {
		t.Errorf("no warning in the log:\n%s", s.logs)
	}
	if callerARN(t, awsConfig(s.URL(), "us-east-1", creds)) != arn {
		t.Error("the root key stopped working")
	}
	if _, err := os.Stat(l.Credentials()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a credentials file appeared again: %v", err)
	}
}

// SigV4 scopes may name the configured region or us-east-1 (global services), nothing else.
func TestSigningRegions(t *testing.T) {
	dir := t.TempDir()
	var stdout bytes.Buffer
	s := start(t, Config{DataDir: dir, Region: "eu-west-1", Stdout: &stdout})
	if env := exports(stdout.String()); env["AWS_REGION"] != "eu-west-1" || env["AWS_DEFAULT_REGION"] != "eu-west-1" {
		t.Fatalf("printed:\n%s", stdout.String())
	}
	creds := readCredentials(t, Layout(dir).Credentials())
	callerARN(t, awsConfig(s.URL(), "eu-west-1", creds))
	callerARN(t, awsConfig(s.URL(), "us-east-1", creds))
	_, err := sts.NewFromConfig(awsConfig(s.URL(), "ap-south-1", creds)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" ||
		ae.ErrorMessage() != "Credential should be scoped to a valid region, not 'ap-south-1'." {
		t.Fatalf("a request signed for ap-south-1 got %v, want SignatureDoesNotMatch naming the region", err)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/data/credentials":     "/data/credentials",
		"http://127.0.0.1:5000": "http://127.0.0.1:5000",
		"/my data/credentials":  "'/my data/credentials'",
		"/it's":                 `'/it'\''s'`,
		"http://[::1]:5000":     "'http://[::1]:5000'",
		"":                      "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// ECR answers on the same listener, naming the listener's host in its URIs, and its
// registry passwords are signed with DATA/registry-token.key.
func TestECROnTheSameListener(t *testing.T) {
	dir := t.TempDir()
	s := start(t, Config{DataDir: dir})
	cfg := awsConfig(s.URL(), "us-east-1", readCredentials(t, Layout(dir).Credentials()))
	client := ecr.NewFromConfig(cfg)
	ctx := context.Background()
	repo, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")})
	if err != nil {
		t.Fatal(err)
	}
	if uri := *repo.Repository.RepositoryUri; !strings.HasPrefix(uri, s.Addr().String()+"/") || !strings.HasSuffix(uri, "/team/app") {
		t.Errorf("repositoryUri %s does not name the listener %s", uri, s.Addr())
	}
	tok, err := client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	if ep := *tok.AuthorizationData[0].ProxyEndpoint; ep != s.URL() {
		t.Errorf("proxyEndpoint %s, want %s", ep, s.URL())
	}
	if st, err := os.Stat(Layout(dir).RegistryTokenKey()); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("registry token key: %v %v", st, err)
	}
	resp, err := http.Get(s.URL() + "/v2/" + *repo.Repository.RegistryId + "/team/app/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// 404 NAME_UNKNOWN would mean the two APIs see different stores; 401 is the registry
	// asking for a token, once it requires one.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the registry does not know the repository ECR created: %s", resp.Status)
	}
}

// When the first start cannot save the root key, Open fails and says what to do, and leaves
// no temporary file with the secret behind.
func TestFirstStartCannotSaveRootKey(t *testing.T) {
	dir := t.TempDir()
	l := Layout(dir)
	// A non-empty directory where the file should go: the rename over it fails.
	if err := os.MkdirAll(filepath.Join(l.Credentials(), "in-the-way"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: dir, Region: "us-east-1"})
	if err == nil || !strings.Contains(err.Error(), "could not save it") || !strings.Contains(err.Error(), "cannot be shown again") ||
		!strings.Contains(err.Error(), l.IAMDB()) {
		t.Fatalf("Open = %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".credentials-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// An unsigned AWS API call is refused in the protocol of its service; the registry's /v2/
// beside it is not an AWS API call.
func TestUnsignedCallIsRefused(t *testing.T) {
	s := start(t, Config{})
	resp, err := http.PostForm(s.URL()+"/", map[string][]string{"Action": {"ListUsers"}, "Version": {"2010-05-08"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "<Code>MissingAuthenticationToken</Code>") {
		t.Errorf("unsigned ListUsers = %s %s", resp.Status, body)
	}
}

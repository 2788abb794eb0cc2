package ecrapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/auth/registrytoken"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/blob/fs"
	"github.com/coffer-registry/coffer/ecrapi"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/policy"
	"github.com/coffer-registry/coffer/registry"
	"github.com/coffer-registry/coffer/store/sqlite"
)

const region = "us-east-1"

// coffer is a running endpoint with the ECR API and the registry over real stores, the real
// SigV4 authenticator, the real authorizer and real registry tokens, on loopback.
type coffer struct {
	t      testing.TB
	iam    *iamsql.Service
	meta   *sqlite.Store
	tokens *registrytoken.Tokens
	url    string
	host   string // host:port of the registry
	acct   string // the bootstrap account
	root   aws.Credentials
}

func validatePolicy(doc string, kind iam.PolicyKind) error {
	_, err := policy.Parse([]byte(doc), policy.Kind(kind))
	return err
}

func start(t testing.TB) *coffer {
	t.Helper()
	return startWith(t, ecrapi.Quotas{})
}

func startWith(t testing.TB, quotas ecrapi.Quotas) *coffer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	ids, err := iamsql.Open(ctx, iamsql.Config{DBPath: filepath.Join(dir, "iam.db"),
		KeyPath: filepath.Join(dir, "iam.key"), ValidatePolicy: validatePolicy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ids.Close() })
	boot, err := ids.Bootstrap(ctx, iamsql.BootstrapInput{})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := sqlite.OpenOptions(filepath.Join(dir, "meta.db"), sqlite.Options{PullFlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	blobs, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	tokens, err := registrytoken.New(registrytoken.Config{Key: key, Store: ids})
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.NewAPIAuthenticator(auth.APIConfig{Store: ids})
	t.Cleanup(func() { authn.Close() })
	authorizer := authz.New(authz.Config{Identities: ids, Region: region})

	reg := registry.New(registry.Config{Blobs: blobs, Store: meta, Region: region})
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{Authenticate: authn.Authenticate, NotFound: reg})
	// Operations are registered before serving; the listener exists already and names the host.
	srv := httptest.NewUnstartedServer(e)
	host := srv.Listener.Addr().String()
	ecrapi.Register(e, ecrapi.Deps{Store: meta, Blobs: blobs, Authorizer: authorizer, Tokens: tokens,
		Region: region, RegistryHost: host, RegistryScheme: "http", Quotas: quotas})
	srv.Start()
	t.Cleanup(srv.Close)
	return &coffer{t: t, iam: ids, meta: meta, tokens: tokens, url: srv.URL, host: host, acct: boot.Account.ID,
		root: aws.Credentials{AccessKeyID: boot.RootKey.ID, SecretAccessKey: boot.RootKey.Secret}}
}

func (c *coffer) ecr(creds aws.Credentials) *ecr.Client {
	return ecr.NewFromConfig(aws.Config{Region: region, BaseEndpoint: aws.String(c.url), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: creds}})
}

// account creates a member account and returns its id.
func (c *coffer) account(name string) string {
	c.t.Helper()
	a, err := c.iam.CreateAccount(context.Background(), iamsql.CreateAccountInput{Name: name, Email: name + "@example.com"})
	if err != nil {
		c.t.Fatal(err)
	}
	return a.ID
}

// user creates an IAM user with an inline policy (if doc is not empty) and an access key.
func (c *coffer) user(account, name, doc string) aws.Credentials {
	c.t.Helper()
	ctx := context.Background()
	if _, err := c.iam.CreateUser(ctx, iamsql.CreateUserInput{Account: account, Name: name}); err != nil {
		c.t.Fatal(err)
	}
	if doc != "" {
		if err := c.iam.PutInlinePolicy(ctx, iam.EntityRef{Account: account, Kind: iam.KindUser, Name: name}, "inline", doc); err != nil {
			c.t.Fatal(err)
		}
	}
	key, err := c.iam.CreateAccessKey(ctx, account, name)
	if err != nil {
		c.t.Fatal(err)
	}
	return aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}
}

func allowDoc(action, resource, condition string) string {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"`
	if condition != "" {
		doc += `,"Condition":` + condition
	}
	return doc + `}]}`
}

func (c *coffer) repoARN(account, name string) string {
	return "arn:aws:ecr:" + region + ":" + account + ":repository/" + name
}

// wantError fails unless err is the AWS error code whose message contains messagePart.
func wantError(t testing.TB, err error, code, messagePart string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), messagePart) {
		t.Fatalf("want %s containing %q, got %s: %s", code, messagePart, ae.ErrorCode(), ae.ErrorMessage())
	}
}

func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// needTool finds an external client, skipping the test when it is absent, unless CI is set.
func needTool(t *testing.T, name string) string {
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

// clientEnv gives an external AWS client these credentials and nothing of the machine's own.
func clientEnv(t *testing.T, creds aws.Credentials) []string {
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env, "AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_DEFAULT_REGION="+region, "AWS_REGION="+region,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
}

func (c *coffer) awsCLI(t *testing.T, creds aws.Credentials, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(needTool(t, "aws"), append([]string{"--endpoint-url", c.url, "--output", "json"}, args...)...)
	cmd.Env = clientEnv(t, creds)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func (c *coffer) python(t *testing.T, creds aws.Credentials, script string) (string, error) {
	t.Helper()
	py := needTool(t, "python3")
	if err := exec.Command(py, "-c", "import boto3").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("boto3 is required in CI: %v", err)
		}
		t.Skip("boto3 not installed")
	}
	cmd := exec.Command(py, "-c", script)
	cmd.Env = append(clientEnv(t, creds), "COFFER_URL="+c.url)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

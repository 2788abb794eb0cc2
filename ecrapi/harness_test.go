package ecrapi_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http/httptest"
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
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/internal/awstest"
	"github.com/coffer-registry/coffer/internal/iamtest"
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

func start(t testing.TB) *coffer {
	t.Helper()
	return startWith(t, ecrapi.Quotas{})
}

func startWith(t testing.TB, quotas ecrapi.Quotas) *coffer {
	t.Helper()
	dir := t.TempDir()
	ids, boot := iamtest.Open(t, nil, iamsql.BootstrapInput{})
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
	return iamtest.User(c.t, c.iam, account, name, doc)
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

func (c *coffer) awsCLI(t *testing.T, creds aws.Credentials, args ...string) (string, string, error) {
	t.Helper()
	return awstest.CLI(t, c.url, creds, region, args...)
}

func (c *coffer) python(t *testing.T, creds aws.Credentials, script string) (string, error) {
	t.Helper()
	py := awstest.NeedBoto3(t)
	cmd := exec.Command(py, "-c", script)
	cmd.Env = append(awstest.Env(t, creds, region), "COFFER_URL="+c.url)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

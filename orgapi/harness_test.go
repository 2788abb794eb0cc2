package orgapi_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/smithy-go"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/internal/iamtest"
	"github.com/coffer-registry/coffer/orgapi"
)

const region = "us-east-1"

// coffer is a running AWS endpoint with Organizations over a real identity store, the real
// SigV4 authenticator and the real authorizer, on loopback.
type coffer struct {
	t     *testing.T
	store *iamsql.Service
	url   string
	mgmt  string
	org   string
	root  aws.Credentials
}

func start(t *testing.T) *coffer {
	t.Helper()
	store, boot := iamtest.Open(t, nil, iamsql.BootstrapInput{Email: "owner@example.com"})
	authn := auth.NewAPIAuthenticator(auth.APIConfig{Store: store})
	t.Cleanup(func() { authn.Close() })
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{Authenticate: authn.Authenticate})
	orgapi.Register(e, orgapi.Deps{Identities: store, Authorizer: authz.New(authz.Config{Identities: store, Region: region})})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &coffer{t: t, store: store, url: srv.URL, mgmt: boot.Account.ID, org: boot.Organization.ID,
		root: aws.Credentials{AccessKeyID: boot.RootKey.ID, SecretAccessKey: boot.RootKey.Secret}}
}

func (c *coffer) orgs(creds aws.Credentials) *organizations.Client {
	return organizations.NewFromConfig(aws.Config{Region: region, BaseEndpoint: aws.String(c.url), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: creds}})
}

// user creates an IAM user with an inline policy (if doc is not empty) and an access key.
func (c *coffer) user(account, name, doc string) aws.Credentials {
	c.t.Helper()
	return iamtest.User(c.t, c.store, account, name, doc)
}

// rootOf gives a member account's root user an access key.
func (c *coffer) rootOf(account string) aws.Credentials {
	c.t.Helper()
	key, err := c.store.CreateAccessKey(context.Background(), account, "")
	if err != nil {
		c.t.Fatal(err)
	}
	return aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}
}

func wantError(t *testing.T, err error, code, messagePart string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), messagePart) {
		t.Fatalf("want %s containing %q, got %s: %s", code, messagePart, ae.ErrorCode(), ae.ErrorMessage())
	}
}

package stsapi_test

import (
	"context"
	"encoding/base32"
	"errors"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/internal/awstest"
	"github.com/coffer-registry/coffer/internal/iamtest"
	"github.com/coffer-registry/coffer/orgapi"
	"github.com/coffer-registry/coffer/stsapi"
)

const region = "us-east-1"

// coffer is a running AWS endpoint with STS and Organizations over a real identity store,
// the real SigV4 authenticator and the real authorizer, on loopback.
type coffer struct {
	t     *testing.T
	store *iamsql.Service
	url   string
	mgmt  string // management account id
	root  aws.Credentials
}

func start(t testing.TB) *coffer {
	t.Helper()
	store, boot := iamtest.Open(t, nil, iamsql.BootstrapInput{})
	authn := auth.NewAPIAuthenticator(auth.APIConfig{Store: store})
	t.Cleanup(func() { authn.Close() })
	authorizer := newAuthorizer(store)
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{Authenticate: authn.Authenticate})
	stsapi.Register(e, stsapi.Deps{Identities: store, Authorizer: authorizer})
	orgapi.Register(e, orgapi.Deps{Identities: store, Authorizer: authorizer})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	c := &coffer{store: store, url: srv.URL, mgmt: boot.Account.ID,
		root: aws.Credentials{AccessKeyID: boot.RootKey.ID, SecretAccessKey: boot.RootKey.Secret}}
	if tt, ok := t.(*testing.T); ok {
		c.t = tt
	}
	return c
}

func (c *coffer) config(creds aws.Credentials) aws.Config {
	return aws.Config{Region: region, BaseEndpoint: aws.String(c.url), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: creds}}
}

func (c *coffer) sts(creds aws.Credentials) *sts.Client {
	return sts.NewFromConfig(c.config(creds))
}

func (c *coffer) orgs(creds aws.Credentials) *organizations.Client {
	return organizations.NewFromConfig(c.config(creds))
}

func sessionCreds(cr *ststypes.Credentials) aws.Credentials {
	return aws.Credentials{AccessKeyID: *cr.AccessKeyId, SecretAccessKey: *cr.SecretAccessKey, SessionToken: *cr.SessionToken}
}

// user creates an IAM user in account with an inline policy (if doc is not empty) and an
// access key, and returns its credentials.
func (c *coffer) user(account, name, doc string) aws.Credentials {
	c.t.Helper()
	return iamtest.User(c.t, c.store, account, name, doc)
}

// role creates a role with a trust policy and, if doc is not empty, an inline policy.
func (c *coffer) role(account, name, trust, doc string) *iam.Role {
	c.t.Helper()
	ctx := context.Background()
	r, err := c.store.CreateRole(ctx, iamsql.CreateRoleInput{Account: account, Name: name, AssumeRolePolicy: trust})
	if err != nil {
		c.t.Fatal(err)
	}
	if doc != "" {
		if err := c.store.PutInlinePolicy(ctx, iam.EntityRef{Account: account, Kind: iam.KindRole, Name: name}, "inline", doc); err != nil {
			c.t.Fatal(err)
		}
	}
	return r
}

// mfaDevice creates and enables a virtual MFA device for a user with two consecutive codes of
// now, and returns its serial and seed. The next code the device accepts is that of the step
// after now.
func (c *coffer) mfaDevice(account, userName string) (string, []byte) {
	c.t.Helper()
	ctx := context.Background()
	dev, err := c.store.CreateVirtualMFADevice(ctx, account, userName+"-mfa", "/", nil)
	if err != nil {
		c.t.Fatal(err)
	}
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(dev.Base32Seed)
	if err != nil {
		c.t.Fatal(err)
	}
	step := iam.TOTPStepAt(time.Now())
	if err := c.store.EnableMFADevice(ctx, account, userName, dev.SerialNumber,
		iam.HOTP(seed, step-1, iam.TOTPDigits), iam.HOTP(seed, step, iam.TOTPDigits)); err != nil {
		c.t.Fatal(err)
	}
	return dev.SerialNumber, seed
}

// nextCode is a code the device accepts once right after mfaDevice enabled it.
func nextCode(seed []byte) string {
	return iam.TOTPCode(seed, time.Now().Add(iam.TOTPStep))
}

// apiError returns the AWS error code and message of err, failing the test if err is nil or
// not an API error.
func apiError(t *testing.T, err error) (code, message string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an AWS API error, got %v", err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}

func wantError(t *testing.T, err error, code, messagePart string) {
	t.Helper()
	got, msg := apiError(t, err)
	if got != code || !strings.Contains(msg, messagePart) {
		t.Fatalf("want %s containing %q, got %s: %s", code, messagePart, got, msg)
	}
}

func trustDoc(principal string, extra string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal +
		`"},"Action":"sts:AssumeRole"` + extra + `}]}`
}

func allowDoc(action, resource, condition string) string {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"`
	if condition != "" {
		doc += `,"Condition":` + condition
	}
	return doc + `}]}`
}

// awsCLI runs the aws CLI against the server with creds.
func (c *coffer) awsCLI(t *testing.T, creds aws.Credentials, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return awstest.CLI(t, c.url, creds, region, args...)
}

// python runs a boto3 script with the server's URL in COFFER_URL.
func (c *coffer) python(t *testing.T, creds aws.Credentials, script string, extraEnv ...string) (string, error) {
	t.Helper()
	py := awstest.NeedBoto3(t)
	cmd := exec.Command(py, "-c", script)
	cmd.Env = append(append(awstest.Env(t, creds, region), "COFFER_URL="+c.url), extraEnv...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func newAuthorizer(store *iamsql.Service) authz.Authorizer {
	return authz.New(authz.Config{Identities: store, Region: region})
}

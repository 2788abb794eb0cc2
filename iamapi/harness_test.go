package iamapi_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/iamapi"
	"github.com/coffer-registry/coffer/internal/iamtest"
	"github.com/coffer-registry/coffer/stsapi"
)

// world is a running IAM endpoint over loopback: a real SQLite identity store, the real SigV4
// authenticator, the IAM handlers, and an account bootstrapped with its root key.
type world struct {
	store   *iamsql.Service
	srv     *httptest.Server
	acct    string
	rootKey *iam.NewAccessKey
	root    *sdk.Client
	offset  atomic.Int64 // clock offset, for MFA codes of later steps
}

func (w *world) now() time.Time { return time.Now().Add(time.Duration(w.offset.Load())) }

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{}
	s, res := iamtest.Open(t, w.now, iamsql.BootstrapInput{})
	w.store, w.acct, w.rootKey = s, res.Account.ID, res.RootKey
	authn := auth.NewAPIAuthenticator(auth.APIConfig{Store: s, Now: w.now})
	t.Cleanup(func() { authn.Close() })
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{Authenticate: authn.Authenticate, Client: awsproto.ClientInfo{Now: w.now}})
	authorizer := authz.New(authz.Config{Identities: s, Region: "us-east-1", Now: w.now})
	iamapi.Register(e, iamapi.Deps{Store: s, Authorizer: authorizer, Region: "us-east-1", Now: w.now})
	// STS beside IAM, as the server wires it, for the MFA-protected flows.
	stsapi.Register(e, stsapi.Deps{Identities: s, Authorizer: authorizer})
	w.srv = httptest.NewServer(e)
	t.Cleanup(w.srv.Close)
	w.root = w.client(res.RootKey.ID, res.RootKey.Secret)
	return w
}

func (w *world) config(id, secret, token string) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(w.srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, token)}
}

func (w *world) client(id, secret string) *sdk.Client {
	return sdk.NewFromConfig(w.config(id, secret, ""))
}

// userClient creates a user with an access key, through the API, and returns its client.
func (w *world) userClient(t testing.TB, name string) *sdk.Client {
	t.Helper()
	ctx := context.Background()
	if _, err := w.root.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	k, err := w.root.CreateAccessKey(ctx, &sdk.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return w.client(*k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey)
}

func wantCode(t testing.TB, err error, code string) smithy.APIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("got %v, want %s", err, code)
	}
	return ae
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

func decodeDocument(t testing.TB, s *string) string {
	t.Helper()
	if s == nil {
		t.Fatal("no document")
	}
	doc, err := url.PathUnescape(*s)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func tags(kv ...string) []iamtypes.Tag {
	var out []iamtypes.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, iamtypes.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

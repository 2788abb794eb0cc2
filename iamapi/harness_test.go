package iamapi_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"net/http/httptest"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/iamapi"
	"github.com/coffer-registry/coffer/policy"
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
	ctx := context.Background()
	dir := t.TempDir()
	w := &world{}
	s, err := iamsql.Open(ctx, iamsql.Config{DBPath: filepath.Join(dir, "iam.db"), KeyPath: filepath.Join(dir, "iam.key"),
		ValidatePolicy: func(doc string, kind iam.PolicyKind) error {
			_, err := policy.Parse([]byte(doc), policy.Kind(kind))
			return err
		}, Now: w.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	res, err := s.Bootstrap(ctx, iamsql.BootstrapInput{})
	if err != nil {
		t.Fatal(err)
	}
	w.store, w.acct, w.rootKey = s, res.Account.ID, res.RootKey
	authn := auth.NewAPIAuthenticator(auth.APIConfig{Store: s, Now: w.now})
	t.Cleanup(func() { authn.Close() })
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{Authenticate: authn.Authenticate})
	iamapi.Register(e, iamapi.Deps{Store: s, Authorizer: newAuthorizer(s, w.now), Region: "us-east-1", Now: w.now})
	w.srv = httptest.NewServer(e)
	t.Cleanup(w.srv.Close)
	w.root = w.client(res.RootKey.ID, res.RootKey.Secret)
	return w
}

func (w *world) config(id, secret string) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(w.srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")}
}

func (w *world) client(id, secret string) *sdk.Client {
	return sdk.NewFromConfig(w.config(id, secret))
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

// storeAuthorizer decides Checks with the policy engine over the caller's policies from the
// store, the way the authz package does: root may do anything in its own account; everyone
// else needs an identity-side Allow and no Deny. It stands in for authz's implementation
// until that is committed.
type storeAuthorizer struct {
	store *iamsql.Service
	now   func() time.Time
}

func newAuthorizer(s *iamsql.Service, now func() time.Time) authz.Authorizer {
	return &storeAuthorizer{store: s, now: now}
}

func (z *storeAuthorizer) Authorize(ctx context.Context, c authz.Check) error {
	caller := auth.CallerFrom(ctx)
	if caller == nil || caller.Principal == nil {
		return &authz.AccessDeniedError{Message: "anonymous"}
	}
	p := caller.Principal
	account := c.ResourceAccount
	if account == "" {
		account = p.AccountID
	}
	if p.Type == iam.PrincipalRoot && account == p.AccountID {
		return nil
	}
	docs, err := z.store.PoliciesFor(ctx, p)
	if err != nil {
		return err
	}
	set := &policy.PolicySet{Resource: c.ResourcePolicy}
	for _, d := range docs.Identity {
		pol, err := policy.Parse([]byte(d.Document), policy.KindManaged)
		if err != nil {
			return err
		}
		set.Identity = append(set.Identity, pol)
	}
	if docs.Boundary != nil {
		pol, err := policy.Parse([]byte(docs.Boundary.Document), policy.KindBoundary)
		if err != nil {
			return err
		}
		set.Boundary = pol
	}
	for _, d := range docs.Session {
		pol, err := policy.Parse([]byte(d.Document), policy.KindSession)
		if err != nil {
			return err
		}
		set.Session = append(set.Session, pol)
	}
	pc := policy.NewContext()
	pc.MustSet("aws:PrincipalArn", policy.TypeString, p.PrincipalARN())
	pc.MustSet("aws:PrincipalAccount", policy.TypeString, p.AccountID)
	pc.MustSet("aws:PrincipalType", policy.TypeString, p.Type)
	pc.MustSet("aws:userid", policy.TypeString, p.UserID)
	pc.MustSet("aws:CurrentTime", policy.TypeDate, z.now().UTC().Format(time.RFC3339))
	if p.UserName != "" {
		pc.MustSet("aws:username", policy.TypeString, p.UserName)
	}
	for _, tag := range p.Tags {
		pc.MustSet("aws:PrincipalTag/"+tag.Key, policy.TypeString, tag.Value)
	}
	if p.Temporary {
		pc.MustSet("aws:MultiFactorAuthPresent", policy.TypeBool, boolText(p.MFAPresent()))
	}
	for _, k := range c.Keys {
		if err := pc.Set(k.Name, k.Type, k.Values...); err != nil {
			return err
		}
	}
	req := &policy.Request{Principal: auth.EnginePrincipal(p), Action: c.Action, Resource: c.Resource,
		ResourceAccount: account, Context: pc}
	if d := policy.Evaluate(req, set); !d.Allowed() {
		return &authz.AccessDeniedError{Message: policy.DeniedMessage(req, d), Decision: d}
	}
	return nil
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

var _ = strings.TrimSpace

func tags(kv ...string) []iamtypes.Tag {
	var out []iamtypes.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, iamtypes.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

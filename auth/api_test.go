package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/internal/iamtest"
	"github.com/coffer-registry/coffer/policy"
)

// clock is the IAM store's clock: real time shifted by an offset, so that sessions can be
// issued in the past while requests are signed now.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// countingStore is the real IAM store with its calls counted.
type countingStore struct {
	*iamsql.Service
	lookups, uses atomic.Int64
}

func (s *countingStore) LookupCredential(ctx context.Context, id string) (*iam.Credential, error) {
	s.lookups.Add(1)
	return s.Service.LookupCredential(ctx, id)
}

func (s *countingStore) RecordAccessKeyUse(ctx context.Context, id, service, region string) error {
	s.uses.Add(1)
	return s.Service.RecordAccessKeyUse(ctx, id, service, region)
}

// world is a real IAM store behind a real awsproto endpoint on loopback, with the
// authenticator under test in front of two test operations.
type world struct {
	store   *countingStore
	clock   *clock
	auth    *auth.APIAuthenticator
	srv     *httptest.Server
	acct    string
	rootKey *iam.NewAccessKey

	mu      sync.Mutex
	callers []*auth.Caller
}

type callerIdentity struct {
	Arn, UserId, Account string
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{clock: &clock{}}
	s, res := iamtest.Open(t, w.clock.Now, iamsql.BootstrapInput{})
	w.store = &countingStore{Service: s}
	w.acct, w.rootKey = res.Account.ID, res.RootKey
	w.auth = auth.NewAPIAuthenticator(auth.APIConfig{Store: w.store, Regions: []string{"eu-west-1", "us-east-1"}})
	t.Cleanup(func() { w.auth.Close() })

	e := awsproto.NewEndpoint(awsproto.EndpointConfig{Authenticate: w.auth.Authenticate})
	awsproto.Handle(e, awsproto.STS, "GetCallerIdentity", func(ctx context.Context, _ *struct{}) (*callerIdentity, error) {
		c := auth.CallerFrom(ctx)
		w.mu.Lock()
		w.callers = append(w.callers, c)
		w.mu.Unlock()
		return &callerIdentity{Arn: c.Principal.ARN, UserId: c.Principal.UserID, Account: c.Principal.AccountID}, nil
	})
	awsproto.Handle(e, awsproto.ECR, "DescribeRegistry", func(ctx context.Context, _ *struct{}) (*struct {
		RegistryID string `json:"registryId"`
	}, error) {
		return &struct {
			RegistryID string `json:"registryId"`
		}{auth.CallerFrom(ctx).Principal.AccountID}, nil
	})
	w.srv = httptest.NewServer(e)
	t.Cleanup(w.srv.Close)
	return w
}

func (w *world) lastCaller() *auth.Caller {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.callers[len(w.callers)-1]
}

func (w *world) config(id, secret, token, region string) aws.Config {
	return aws.Config{Region: region, BaseEndpoint: aws.String(w.srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, token)}
}

func (w *world) whoAmI(id, secret, token string) (*sts.GetCallerIdentityOutput, error) {
	return sts.NewFromConfig(w.config(id, secret, token, "eu-west-1")).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
}

func wantAPIError(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}

func TestRootAndUserKeys(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	out, err := w.whoAmI(w.rootKey.ID, w.rootKey.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	if *out.Arn != "arn:aws:iam::"+w.acct+":root" || *out.Account != w.acct || *out.UserId != w.acct {
		t.Fatalf("root: %s %s %s", *out.Arn, *out.Account, *out.UserId)
	}
	c := w.lastCaller()
	if c.Method != auth.SigV4 || c.Region != "eu-west-1" || c.Generation == 0 ||
		c.Engine != (policy.Principal{Type: policy.PrincipalRoot, ARN: "arn:aws:iam::" + w.acct + ":root", Account: w.acct}) {
		t.Fatalf("root caller: %+v", c)
	}

	u, err := w.store.CreateUser(ctx, iamsql.CreateUserInput{Account: w.acct, Name: "alice", Path: "/team/"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := w.store.CreateAccessKey(ctx, w.acct, "alice")
	if err != nil {
		t.Fatal(err)
	}
	out, err = w.whoAmI(key.ID, key.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	if *out.Arn != u.ARN || *out.UserId != u.ID {
		t.Fatalf("user: %s %s", *out.Arn, *out.UserId)
	}
	if e := w.lastCaller().Engine; e != (policy.Principal{Type: policy.PrincipalUser, ARN: u.ARN, Account: w.acct}) {
		t.Fatalf("user engine principal: %+v", e)
	}

	// A key made inactive stops working at the next request: the write moved the generation.
	if err := w.store.UpdateAccessKey(ctx, w.acct, "alice", key.ID, iam.StatusInactive); err != nil {
		t.Fatal(err)
	}
	_, err = w.whoAmI(key.ID, key.Secret, "")
	wantAPIError(t, err, "InvalidClientTokenId")
	if err := w.store.UpdateAccessKey(ctx, w.acct, "alice", key.ID, iam.StatusActive); err != nil {
		t.Fatal(err)
	}
	if _, err := w.whoAmI(key.ID, key.Secret, ""); err != nil {
		t.Fatalf("reactivated: %v", err)
	}
	if err := w.store.DeleteAccessKey(ctx, w.acct, "alice", key.ID); err != nil {
		t.Fatal(err)
	}
	_, err = w.whoAmI(key.ID, key.Secret, "")
	wantAPIError(t, err, "InvalidClientTokenId")
}

func TestRejectedCredentials(t *testing.T) {
	w := newWorld(t)
	_, err := w.whoAmI("AKIAUNKNOWNKEY000000", w.rootKey.Secret, "")
	wantAPIError(t, err, "InvalidClientTokenId")
	_, err = w.whoAmI(w.rootKey.ID, strings.Repeat("x", 40), "")
	wantAPIError(t, err, "SignatureDoesNotMatch")
	_, err = w.whoAmI(w.rootKey.ID, w.rootKey.Secret, "a-token-with-a-long-term-key")
	wantAPIError(t, err, "InvalidClientTokenId")
	_, err = sts.NewFromConfig(w.config(w.rootKey.ID, w.rootKey.Secret, "", "ap-south-1")).
		GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "SignatureDoesNotMatch")

	// JSON services name the same failures differently.
	_, err = ecr.NewFromConfig(w.config("AKIAUNKNOWNKEY000000", w.rootKey.Secret, "", "eu-west-1")).
		DescribeRegistry(context.Background(), &ecr.DescribeRegistryInput{})
	wantAPIError(t, err, "UnrecognizedClientException")
}

func TestUnsignedRequest(t *testing.T) {
	w := newWorld(t)
	resp, err := http.PostForm(w.srv.URL, url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	body.Write(buf[:n])
	if resp.StatusCode != 403 || !strings.Contains(body.String(), "<Code>MissingAuthenticationToken</Code>") {
		t.Fatalf("%d %s", resp.StatusCode, body.String())
	}
}

// A request signed for another service than the one it calls is refused.
func TestCredentialScopeNamesTheService(t *testing.T) {
	w := newWorld(t)
	body := "{}"
	r, err := http.NewRequest("POST", w.srv.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DescribeRegistry")
	sign := func(service string) *http.Response {
		t.Helper()
		r.Header.Del("Authorization")
		r.Body = io.NopCloser(strings.NewReader(body))
		creds := aws.Credentials{AccessKeyID: w.rootKey.ID, SecretAccessKey: w.rootKey.Secret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, sha256Hex(body), service, "eu-west-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := sign("sts")
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
		t.Fatalf("signed for sts: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	resp = sign("ecr")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("signed for ecr: %d", resp.StatusCode)
	}
}

func TestSessions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	role, err := w.store.CreateRole(ctx, iamsql.CreateRoleInput{Account: w.acct, Name: "deployer",
		AssumeRolePolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + w.acct + `:root"},"Action":"sts:AssumeRole"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := w.store.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: role.ARN, SessionName: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := w.whoAmI(sess.AccessKeyID, sess.SecretAccessKey, sess.SessionToken)
	if err != nil {
		t.Fatal(err)
	}
	sessionARN := "arn:aws:sts::" + w.acct + ":assumed-role/deployer/ci"
	if *out.Arn != sessionARN || *out.UserId != role.ID+":ci" {
		t.Fatalf("session: %s %s", *out.Arn, *out.UserId)
	}
	if e := w.lastCaller().Engine; e != (policy.Principal{Type: policy.PrincipalAssumedRole, ARN: sessionARN, Account: w.acct, RoleARN: role.ARN}) {
		t.Fatalf("session engine principal: %+v", e)
	}
	_, err = w.whoAmI(sess.AccessKeyID, sess.SecretAccessKey, sess.SessionToken+"x")
	wantAPIError(t, err, "InvalidClientTokenId")
	_, err = w.whoAmI(sess.AccessKeyID, sess.SecretAccessKey, "")
	wantAPIError(t, err, "InvalidClientTokenId")

	// A session issued 20 minutes ago for 15 minutes has expired.
	w.clock.offset.Store(int64(-20 * time.Minute))
	old, err := w.store.GetSessionToken(ctx, iam.SessionTokenInput{Account: w.acct, DurationSeconds: 900})
	if err != nil {
		t.Fatal(err)
	}
	w.clock.offset.Store(0)
	_, err = w.whoAmI(old.AccessKeyID, old.SecretAccessKey, old.SessionToken)
	wantAPIError(t, err, "ExpiredToken")

	// Ending a session works at once.
	if _, err := w.whoAmI(sess.AccessKeyID, sess.SecretAccessKey, sess.SessionToken); err != nil {
		t.Fatal(err)
	}
	if err := w.store.ExpireSession(ctx, sess.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	_, err = w.whoAmI(sess.AccessKeyID, sess.SecretAccessKey, sess.SessionToken)
	wantAPIError(t, err, "ExpiredToken")
}

// Once a key is resolved, requests read nothing from the store until it changes, and the
// last use is written once per interval, after the response.
func TestHotPathReadsNoStore(t *testing.T) {
	w := newWorld(t)
	for range 5 {
		if _, err := w.whoAmI(w.rootKey.ID, w.rootKey.Secret, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.store.lookups.Load(); n != 1 {
		t.Fatalf("%d credential lookups for 5 requests", n)
	}
	if _, err := w.store.CreateUser(context.Background(), iamsql.CreateUserInput{Account: w.acct, Name: "bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.whoAmI(w.rootKey.ID, w.rootKey.Secret, ""); err != nil {
		t.Fatal(err)
	}
	if n := w.store.lookups.Load(); n != 2 {
		t.Fatalf("%d credential lookups after a write, want 2", n)
	}
	w.auth.Close()
	if n := w.store.uses.Load(); n != 1 {
		t.Fatalf("%d key-use writes for 6 requests within a minute", n)
	}
	_, _, use, err := w.store.AccessKeyLastUsed(context.Background(), w.rootKey.ID)
	if err != nil {
		t.Fatal(err)
	}
	if use.Service != "sts" || use.Region != "eu-west-1" || time.Since(use.At) > time.Minute {
		t.Fatalf("last use: %+v", use)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

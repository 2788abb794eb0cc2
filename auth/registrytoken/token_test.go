package registrytoken_test

import (
	"context"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/auth/registrytoken"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/policy"
)

// clock is real time shifted by an offset that tests move forward.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time        { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Add(d time.Duration)   { c.offset.Add(int64(d)) }
func (c *clock) Set(d time.Duration)   { c.offset.Store(int64(d)) }
func (c *clock) Offset() time.Duration { return time.Duration(c.offset.Load()) }

// countingStore is the real IAM store with its credential lookups counted.
type countingStore struct {
	*iamsql.Service
	lookups atomic.Int64
}

func (s *countingStore) LookupCredential(ctx context.Context, id string) (*iam.Credential, error) {
	s.lookups.Add(1)
	return s.Service.LookupCredential(ctx, id)
}

type world struct {
	store  *countingStore
	clock  *clock
	tokens *registrytoken.Tokens
	acct   string
	root   *iam.NewAccessKey
	key    []byte
}

func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	w := &world{clock: &clock{}}
	s, err := iamsql.Open(ctx, iamsql.Config{DBPath: filepath.Join(dir, "iam.db"), KeyPath: filepath.Join(dir, "iam.key"),
		ValidatePolicy: iam.ValidatePolicyDocument, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	res, err := s.Bootstrap(ctx, iamsql.BootstrapInput{})
	if err != nil {
		t.Fatal(err)
	}
	w.store = &countingStore{Service: s}
	w.acct, w.root = res.Account.ID, res.RootKey
	w.key, err = iam.LoadOrCreateKey(filepath.Join(dir, registrytoken.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	w.tokens, err = registrytoken.New(registrytoken.Config{Key: w.key, Store: w.store, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// callerOf is the caller that signs with access key id, as the API authenticator builds it.
func (w *world) callerOf(t testing.TB, id string) *auth.Caller {
	t.Helper()
	cred, err := w.store.Service.LookupCredential(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return auth.NewCaller(auth.SigV4, cred.Principal, cred.Generation)
}

func (w *world) user(t testing.TB, name string) *iam.NewAccessKey {
	t.Helper()
	ctx := context.Background()
	if _, err := w.store.CreateUser(ctx, iamsql.CreateUserInput{Account: w.acct, Name: name}); err != nil {
		t.Fatal(err)
	}
	k, err := w.store.CreateAccessKey(ctx, w.acct, name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestIssueAndVerify(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	k := w.user(t, "alice")
	issuedAt := w.clock.Now()
	token, expires, err := w.tokens.Issue(ctx, w.callerOf(t, k.ID))
	if err != nil {
		t.Fatal(err)
	}
	if d := expires.Sub(issuedAt); d < registrytoken.Validity-2*time.Second || d > registrytoken.Validity+time.Second {
		t.Fatalf("validity %v, want 12h", d)
	}
	if strings.ContainsAny(token, ":+/= ") {
		t.Fatalf("token %q has characters that do not survive Basic auth and URLs", token)
	}
	c, err := w.tokens.Verify(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if c.Method != auth.RegistryToken || c.Principal.ARN != "arn:aws:iam::"+w.acct+":user/alice" ||
		c.Engine.Type != policy.PrincipalUser || c.Engine.Account != w.acct {
		t.Fatalf("caller %+v", c)
	}
	claims, err := w.tokens.Parse(token)
	if err != nil || claims.AccessKeyID != k.ID || claims.Account != w.acct || !claims.Expires().Equal(expires) {
		t.Fatalf("claims %+v, %v", claims, err)
	}

	// The root user gets tokens too.
	rt, _, err := w.tokens.Issue(ctx, w.callerOf(t, w.root.ID))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := w.tokens.Verify(ctx, rt); err != nil || c.Engine.Type != policy.PrincipalRoot {
		t.Fatalf("root: %+v %v", c, err)
	}

	// The password docker receives is base64("AWS:" + token).
	raw, err := base64.StdEncoding.DecodeString(registrytoken.AuthorizationToken(token))
	if err != nil || string(raw) != "AWS:"+token {
		t.Fatalf("authorization token decodes to %q, %v", raw, err)
	}

	// Anonymous callers have nothing to stand for.
	if _, _, err := w.tokens.Issue(ctx, auth.NewCaller(auth.Anonymous, nil, 0)); !errors.Is(err, registrytoken.ErrNoCredential) {
		t.Fatalf("anonymous issue: %v", err)
	}
}

func TestTamperedAndForgedTokens(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	k := w.user(t, "alice")
	token, _, err := w.tokens.Issue(ctx, w.callerOf(t, k.ID))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	// Rename the identity, keep the MAC.
	other := strings.Replace(string(payload), "user/alice", "user/admin", 1)
	renamed := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(other)) + "." + parts[2]
	// Push the expiry out by a year.
	later := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"e":`, `"e":1`, 1))) + "." + parts[2]

	// A token sealed with another key is a forgery, however well formed.
	otherKey := make([]byte, 32)
	copy(otherKey, "not the key in the data directory")
	forger, err := registrytoken.New(registrytoken.Config{Key: otherKey, Store: w.store, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	forged, _, err := forger.Issue(ctx, w.callerOf(t, k.ID))
	if err != nil {
		t.Fatal(err)
	}

	mac, _ := base64.RawURLEncoding.DecodeString(parts[2])
	mac[7] ^= 1
	flipped := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac)
	cases := map[string]struct {
		token string
		want  error
	}{
		"renamed identity":  {renamed, registrytoken.ErrBadSignature},
		"extended expiry":   {later, registrytoken.ErrBadSignature},
		"flipped mac bit":   {flipped, registrytoken.ErrBadSignature},
		"forged":            {forged, registrytoken.ErrBadSignature},
		"empty":             {"", registrytoken.ErrMalformed},
		"no mac":            {parts[0] + "." + parts[1], registrytoken.ErrMalformed},
		"other version":     {"c0." + parts[1] + "." + parts[2], registrytoken.ErrMalformed},
		"moto's fixed form": {w.acct + "-auth-token", registrytoken.ErrMalformed},
		"mac not base64":    {parts[0] + "." + parts[1] + ".!!", registrytoken.ErrMalformed},
	}
	for name, tc := range cases {
		if _, err := w.tokens.Verify(ctx, tc.token); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
	if _, err := w.tokens.Verify(ctx, token); err != nil {
		t.Fatalf("the genuine token: %v", err)
	}
}

func TestExpiryAndRevocation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	k := w.user(t, "alice")
	token, _, err := w.tokens.Issue(ctx, w.callerOf(t, k.ID))
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Add(registrytoken.Validity - time.Minute)
	if _, err := w.tokens.Verify(ctx, token); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	w.clock.Add(2 * time.Minute)
	if _, err := w.tokens.Verify(ctx, token); !errors.Is(err, registrytoken.ErrExpired) {
		t.Fatalf("after expiry: %v", err)
	}
	w.clock.Set(0)

	// An inactive key's tokens stop working, and work again when it is reactivated.
	if err := w.store.UpdateAccessKey(ctx, w.acct, "alice", k.ID, iam.StatusInactive); err != nil {
		t.Fatal(err)
	}
	if _, err := w.tokens.Verify(ctx, token); !errors.Is(err, registrytoken.ErrRevoked) {
		t.Fatalf("inactive key: %v", err)
	}
	if err := w.store.UpdateAccessKey(ctx, w.acct, "alice", k.ID, iam.StatusActive); err != nil {
		t.Fatal(err)
	}
	if _, err := w.tokens.Verify(ctx, token); err != nil {
		t.Fatalf("reactivated key: %v", err)
	}
	// A deleted user's tokens stop working.
	if err := w.store.DeleteAccessKey(ctx, w.acct, "alice", k.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.store.DeleteUser(ctx, w.acct, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.tokens.Verify(ctx, token); !errors.Is(err, registrytoken.ErrRevoked) {
		t.Fatalf("deleted user: %v", err)
	}
}

func TestSessionTokenEndsWithItsSession(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + w.acct + `:root"},"Action":"sts:AssumeRole"}]}`
	role, err := w.store.CreateRole(ctx, iamsql.CreateRoleInput{Account: w.acct, Name: "deploy", AssumeRolePolicy: trust})
	if err != nil {
		t.Fatal(err)
	}
	rootCaller := w.callerOf(t, w.root.ID)
	sess, err := w.store.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: role.ARN, SessionName: "ci", DurationSeconds: 900, Caller: rootCaller.Principal})
	if err != nil {
		t.Fatal(err)
	}
	token, expires, err := w.tokens.Issue(ctx, w.callerOf(t, sess.AccessKeyID))
	if err != nil {
		t.Fatal(err)
	}
	if d := expires.Sub(sess.Expiration); d > time.Second || d < -time.Second {
		t.Fatalf("session token expires %v, session %v", expires, sess.Expiration)
	}
	c, err := w.tokens.Verify(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if c.Engine.Type != policy.PrincipalAssumedRole || c.Engine.RoleARN != role.ARN {
		t.Fatalf("session caller %+v", c.Engine)
	}
	w.clock.Add(16 * time.Minute)
	if _, err := w.tokens.Verify(ctx, token); !errors.Is(err, registrytoken.ErrExpired) {
		t.Fatalf("after the session ended: %v", err)
	}
	w.clock.Set(0)

	// A session ended early (revoked) takes its token with it.
	sess2, err := w.store.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: role.ARN, SessionName: "ci2", Caller: rootCaller.Principal})
	if err != nil {
		t.Fatal(err)
	}
	token2, _, err := w.tokens.Issue(ctx, w.callerOf(t, sess2.AccessKeyID))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.ExpireSession(ctx, sess2.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.tokens.Verify(ctx, token2); !errors.Is(err, registrytoken.ErrRevoked) {
		t.Fatalf("expired session: %v", err)
	}
}

func TestVerifyReadsNoStoreWhileIAMIsUnchanged(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	k := w.user(t, "alice")
	token, _, err := w.tokens.Issue(ctx, w.callerOf(t, k.ID))
	if err != nil {
		t.Fatal(err)
	}
	before := w.store.lookups.Load()
	for range 100 {
		if _, err := w.tokens.Verify(ctx, token); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.store.lookups.Load() - before; n != 0 {
		t.Fatalf("%d store lookups for 100 verifications of a cached credential", n)
	}
	// An IAM write moves the generation: the next verification reads the credential once.
	w.user(t, "bob")
	for range 10 {
		if _, err := w.tokens.Verify(ctx, token); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.store.lookups.Load() - before; n != 1 {
		t.Fatalf("%d store lookups after one IAM write, want 1", n)
	}
}

func TestKeyMustBeLongEnough(t *testing.T) {
	w := newWorld(t)
	if _, err := registrytoken.New(registrytoken.Config{Key: make([]byte, 16), Store: w.store}); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}

func BenchmarkVerify(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	k := w.user(b, "alice")
	token, _, err := w.tokens.Issue(ctx, w.callerOf(b, k.ID))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := w.tokens.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

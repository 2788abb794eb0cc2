// Package registrytoken issues and verifies the registry passwords of ecr:GetAuthorizationToken:
// HMAC-sealed tokens naming the caller's credential, valid 12 hours and never past their session.
package registrytoken

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/iam"
)

// Validity is how long a token is good for (ECR: 12 hours), unless its session ends first.
const Validity = 12 * time.Hour

// Username is the Basic user name that goes with a token ("docker login -u AWS").
const Username = "AWS"

// KeyFile is the name of the token key's file in the data directory.
const KeyFile = "registry-token.key"

// version prefixes every token; a token of another version is malformed.
const version = "c1"

// Errors of Verify and Parse. Each means "authenticate again"; none reveals why a token that
// looks genuine was refused beyond what the client can see for itself.
var (
	ErrMalformed    = errors.New("registrytoken: malformed token")
	ErrBadSignature = errors.New("registrytoken: token signature does not match")
	ErrExpired      = errors.New("registrytoken: token expired")
	// ErrRevoked: the credential the token was issued for is gone, inactive, expired or now
	// belongs to another identity (a deleted user, a revoked or ended role session).
	ErrRevoked = errors.New("registrytoken: the credential behind the token is no longer valid")
	// ErrNoCredential: Issue was called for a caller that signed with no access key.
	ErrNoCredential = errors.New("registrytoken: caller has no credential to issue a token for")
)

// Claims is what a token carries. The MAC covers all of it; nothing in it is secret.
type Claims struct {
	AccessKeyID string `json:"k"` // the long-term key or session id the caller signed with
	Account     string `json:"a"`
	ARN         string `json:"p"` // user, root or assumed-role session ARN
	IssuedAt    int64  `json:"i"` // unix seconds
	ExpiresAt   int64  `json:"e"` // unix seconds
	MFAAuthTime int64  `json:"m,omitempty"`
}

// Expires is the token's expiry as a time.
func (c Claims) Expires() time.Time { return time.Unix(c.ExpiresAt, 0).UTC() }

// Config configures Tokens.
type Config struct {
	// Key is the HMAC-SHA256 key, at least 32 random bytes (iam.LoadOrCreateKey of
	// DATA/registry-token.key). Anyone holding it can mint tokens for any identity.
	Key []byte
	// Store resolves the credential named by a token to the current principal.
	Store    auth.CredentialStore
	Validity time.Duration    // default Validity
	Now      func() time.Time // default time.Now
}

// Tokens issues and verifies registry tokens. It is safe for concurrent use.
//
// A token names the access key id its caller signed GetAuthorizationToken with. Verify checks
// the MAC and the expiry in memory, then resolves that credential through a cache kept per
// IAM store generation, so a verified request reads no disk while IAM is unchanged; after a
// change, the next request of each credential re-reads it once. A token therefore stops
// working as soon as its user, key or session is deleted or deactivated, and its permissions
// are always the principal's current ones (policies are evaluated per request).
//
// Session tokens: AWS documents 12 hours for every token; Coffer caps a token issued to a
// role session (or a GetSessionToken session) at the session's expiry, so no token outlives
// the credentials that obtained it; expiresAt in GetAuthorizationToken says so to clients.
type Tokens struct {
	key      []byte
	store    auth.CredentialStore
	validity time.Duration
	now      func() time.Time

	// Both caches are read without locks (every registry request reads them, from every
	// core); mu serializes the writes to creds.
	mu     sync.Mutex
	creds  sync.Map     // access key id -> *resolved: the credential at a generation
	nCreds int          // entries in creds (guarded by mu)
	parsed sync.Map     // token -> Claims, for tokens whose MAC was checked
	nParse atomic.Int64 // entries in parsed (approximate)
}

type resolved struct {
	cred   *iam.Credential
	caller *auth.Caller
}

// maxCached bounds both caches; each starts over when full.
const maxCached = 1 << 15

// New returns Tokens for cfg; the key must be at least 32 bytes.
func New(cfg Config) (*Tokens, error) {
	if len(cfg.Key) < 32 {
		return nil, fmt.Errorf("registrytoken: key has %d bytes, want at least 32", len(cfg.Key))
	}
	if cfg.Store == nil {
		return nil, errors.New("registrytoken: no credential store")
	}
	if cfg.Validity <= 0 {
		cfg.Validity = Validity
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Tokens{key: append([]byte(nil), cfg.Key...), store: cfg.Store, validity: cfg.Validity,
		now: cfg.Now}, nil
}

// Issue returns a token standing for caller, and when it expires: Validity from now, or the
// end of the caller's session when that comes first.
func (t *Tokens) Issue(ctx context.Context, caller *auth.Caller) (string, time.Time, error) {
	if caller == nil || caller.Principal == nil || caller.Principal.AccessKeyID == "" {
		return "", time.Time{}, ErrNoCredential
	}
	p := caller.Principal
	r, err := t.resolve(ctx, p.AccessKeyID)
	if err != nil {
		return "", time.Time{}, err
	}
	now := t.now()
	expires := now.Add(t.validity)
	if exp := r.cred.Expiration; !exp.IsZero() && exp.Before(expires) {
		expires = exp
	}
	if !expires.After(now) {
		return "", time.Time{}, ErrRevoked
	}
	c := Claims{AccessKeyID: p.AccessKeyID, Account: p.AccountID, ARN: p.ARN,
		IssuedAt: now.Unix(), ExpiresAt: expires.Unix()}
	if !p.MFAAuthTime.IsZero() {
		c.MFAAuthTime = p.MFAAuthTime.Unix()
	}
	return t.seal(c), time.Unix(c.ExpiresAt, 0).UTC(), nil
}

// seal encodes c as "c1.<payload>.<mac>", both base64url without padding.
func (t *Tokens) seal(c Claims) string {
	payload, _ := json.Marshal(c) // Claims always marshals
	body := version + "." + base64.RawURLEncoding.EncodeToString(payload)
	return body + "." + base64.RawURLEncoding.EncodeToString(t.mac(body))
}

func (t *Tokens) mac(body string) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Parse checks the token's MAC and expiry, without looking at the credential store.
func (t *Tokens) Parse(token string) (Claims, error) { return t.parse(token, t.now()) }

// parse is Parse at now (one clock reading serves a whole Verify).
func (t *Tokens) parse(token string, now time.Time) (Claims, error) {
	if v, ok := t.parsed.Load(token); ok {
		return unexpired(v.(Claims), now)
	}
	c, err := t.open(token)
	if err != nil {
		return Claims{}, err
	}
	if t.nParse.Add(1) > maxCached {
		t.parsed.Clear()
		t.nParse.Store(1)
	}
	t.parsed.Store(token, c)
	return unexpired(c, now)
}

func (t *Tokens) open(token string) (Claims, error) {
	rest, ok := strings.CutPrefix(token, version+".")
	if !ok {
		return Claims{}, ErrMalformed
	}
	payload64, mac64, ok := strings.Cut(rest, ".")
	if !ok {
		return Claims{}, ErrMalformed
	}
	mac, err := base64.RawURLEncoding.DecodeString(mac64)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	if !hmac.Equal(mac, t.mac(token[:len(version)+1+len(payload64)])) {
		return Claims{}, ErrBadSignature
	}
	payload, err := base64.RawURLEncoding.DecodeString(payload64)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil || c.AccessKeyID == "" || c.ExpiresAt == 0 {
		return Claims{}, ErrMalformed
	}
	return c, nil
}

func unexpired(c Claims, now time.Time) (Claims, error) {
	if now.Unix() >= c.ExpiresAt {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// Verify returns the caller a token stands for, as the IAM store knows it now. Its errors
// are ErrMalformed, ErrBadSignature, ErrExpired, ErrRevoked, or a failure of the store.
func (t *Tokens) Verify(ctx context.Context, token string) (*auth.Caller, error) {
	now := t.now()
	c, err := t.parse(token, now)
	if err != nil {
		return nil, err
	}
	r, err := t.resolve(ctx, c.AccessKeyID)
	if err != nil {
		return nil, err
	}
	if !r.cred.Active || r.cred.Expired(now) || r.cred.Principal.ARN != c.ARN || r.cred.Principal.AccountID != c.Account {
		return nil, ErrRevoked
	}
	return r.caller, nil
}

// resolve returns the credential behind id at the store's current generation.
func (t *Tokens) resolve(ctx context.Context, id string) (*resolved, error) {
	gen := t.store.Generation()
	if v, ok := t.creds.Load(id); ok {
		if r := v.(*resolved); r.cred.Generation == gen {
			return r, nil
		}
	}
	cred, err := t.store.LookupCredential(ctx, id)
	if err != nil {
		if iam.ErrorCode(err) == iam.CodeNoSuchEntity {
			return nil, ErrRevoked
		}
		return nil, err
	}
	if cred.Principal == nil {
		return nil, ErrRevoked
	}
	r := &resolved{cred: cred, caller: auth.NewCaller(auth.RegistryToken, cred.Principal, cred.Generation)}
	t.mu.Lock()
	v, known := t.creds.Load(id)
	if !known && t.nCreds >= maxCached {
		t.creds.Clear()
		t.nCreds, known = 0, false
	}
	if !known || v.(*resolved).cred.Generation <= cred.Generation {
		t.creds.Store(id, r)
		if !known {
			t.nCreds++
		}
	}
	t.mu.Unlock()
	return r, nil
}

// AuthorizationToken is GetAuthorizationToken's authorizationToken for token: base64 of
// "AWS:<token>".
func AuthorizationToken(token string) string {
	return base64.StdEncoding.EncodeToString([]byte(Username + ":" + token))
}

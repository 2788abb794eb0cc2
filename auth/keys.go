package auth

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/coffer-registry/coffer/auth/sigv4"
	"github.com/coffer-registry/coffer/iam"
)

// maxCachedKeys bounds the credential cache; it starts over when full.
const maxCachedKeys = 1 << 16

// keyCache is the SigV4 verifier's view of the IAM store: access key id → secret and caller,
// kept in memory while the store's generation is unchanged, so that a verified request reads
// no disk.
type keyCache struct {
	store CredentialStore
	mu    sync.RWMutex
	keys  map[string]*resolvedKey
}

func newKeyCache(store CredentialStore) *keyCache {
	return &keyCache{store: store, keys: make(map[string]*resolvedKey)}
}

// resolvedKey is one credential with everything built from it once: the verifier's secret
// and the caller. It is immutable except for the caller of another region and the time of
// the last recorded use.
type resolvedKey struct {
	cred       *iam.Credential
	generation uint64
	secret     sigv4.Secret
	base       *Caller                // Region ""
	regional   atomic.Pointer[Caller] // the caller of the region last signed for
	lastUse    *atomic.Int64          // unix nanoseconds of the last use recorded; shared across generations
}

// Lookup implements sigv4.Credentials.
func (c *keyCache) Lookup(ctx context.Context, id string) (sigv4.Secret, error) {
	gen := c.store.Generation()
	c.mu.RLock()
	k := c.keys[id]
	c.mu.RUnlock()
	if k == nil || k.generation != gen {
		var err error
		if k, err = c.resolve(ctx, id, k); err != nil {
			return sigv4.Secret{}, err
		}
	}
	if !k.cred.Active {
		return sigv4.Secret{}, sigv4.ErrInactiveAccessKey
	}
	return k.secret, nil
}

func (c *keyCache) resolve(ctx context.Context, id string, old *resolvedKey) (*resolvedKey, error) {
	cred, err := c.store.LookupCredential(ctx, id)
	if err != nil {
		if iam.ErrorCode(err) == iam.CodeNoSuchEntity {
			return nil, fmt.Errorf("%w: %s", sigv4.ErrUnknownAccessKey, id)
		}
		return nil, err
	}
	if cred.Principal == nil {
		return nil, fmt.Errorf("auth: credential %s has no principal", id)
	}
	k := &resolvedKey{cred: cred, generation: cred.Generation, base: NewCaller(SigV4, cred.Principal, cred.Generation)}
	k.secret = sigv4.Secret{SecretAccessKey: cred.SecretAccessKey, Expires: cred.Expiration,
		CheckSessionToken: cred.TokenMatches, Principal: k}
	if old != nil {
		k.lastUse = old.lastUse
	} else {
		k.lastUse = new(atomic.Int64)
	}
	c.mu.Lock()
	if len(c.keys) >= maxCachedKeys {
		c.keys = make(map[string]*resolvedKey)
	}
	if cur := c.keys[id]; cur == nil || cur.generation <= k.generation {
		c.keys[id] = k
	}
	c.mu.Unlock()
	return k, nil
}

// callerFor returns the caller with Region set, building it once per region change.
func (k *resolvedKey) callerFor(region string) *Caller {
	if c := k.regional.Load(); c != nil && c.Region == region {
		return c
	}
	c := *k.base
	c.Region = region
	k.regional.Store(&c)
	return &c
}

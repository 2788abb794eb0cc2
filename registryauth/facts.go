package registryauth

import (
	"fmt"
	"maps"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/coffer-registry/coffer/auth/registrytoken"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/policy"
)

// maxCachedPolicies bounds the compiled-policy cache; it starts over when full.
const maxCachedPolicies = 1 << 14

// compiledPolicies holds repository and registry policies compiled once per distinct text.
// A request finds its policy by its owner first (the repository ARN or the account),
// where the text the owner had last is compared with the request's (a pointer comparison
// while the store serves the same string); a changed text is looked up by text, so a
// policy shared by many owners is compiled once.
//
// Reads take no lock: every authorized request reads the cache, from every core.
type compiledPolicies struct {
	byText  sync.Map // policyText → *policy.Policy
	nText   atomic.Int64
	byOwner sync.Map // policyOwner → ownedPolicy
	nOwner  atomic.Int64
}

type policyText struct {
	kind policy.Kind // policy.KindRepository or policy.KindRegistry
	text string
}

type policyOwner struct {
	kind  policy.Kind
	owner string
}

// ownedPolicy is the text an owner had when it was last seen, compiled.
type ownedPolicy struct {
	text string
	p    *policy.Policy
}

// get returns text compiled as kind (nil for ""), from the cache when it was seen before;
// owner names the repository or registry in errors.
func (c *compiledPolicies) get(kind policy.Kind, owner, text string) (*policy.Policy, error) {
	if text == "" {
		return nil, nil
	}
	o := policyOwner{kind, owner}
	if v, ok := c.byOwner.Load(o); ok {
		if e := v.(*ownedPolicy); e.text == text {
			return e.p, nil
		}
	}
	p, err := c.byTextOrCompile(kind, owner, text)
	if err != nil {
		return nil, err
	}
	if c.nOwner.Add(1) > maxCachedPolicies {
		c.byOwner.Clear()
		c.nOwner.Store(1)
	}
	c.byOwner.Store(o, &ownedPolicy{text, p})
	return p, nil
}

func (c *compiledPolicies) byTextOrCompile(kind policy.Kind, owner, text string) (*policy.Policy, error) {
	k := policyText{kind, text}
	if v, ok := c.byText.Load(k); ok {
		return v.(*policy.Policy), nil
	}
	name := "repository policy"
	if kind == policy.KindRegistry {
		name = "registry policy"
	}
	p, err := policy.Parse([]byte(text), kind)
	if err != nil {
		// A stored policy that does not compile decides nothing: fail closed.
		return nil, fmt.Errorf("registryauth: %s of %s: %w", name, owner, err)
	}
	p.Name = name
	if c.nText.Add(1) > maxCachedPolicies {
		c.byText.Clear()
		c.nText.Store(1)
	}
	c.byText.Store(k, p)
	return p, nil
}

// maxCachedHeaders bounds the decoded-header cache; it starts over when full.
const maxCachedHeaders = 1 << 12

// maxCachedHeaderLen leaves unusually long Authorization headers out of the cache.
const maxCachedHeaderLen = 8 << 10

// decodedHeaders holds the token of each Basic AWS:<token> Authorization header seen, so
// that a client repeating its header is not base64-decoded per request. It only saves the
// decoding: the token is verified on every request all the same. Reads take no lock (every
// request reads it, from every core).
type decodedHeaders struct {
	byValue sync.Map // header → token
	n       atomic.Int64
}

// token returns the token of r's Basic credentials; basic is false when r has none, user
// is their user name.
func (c *decodedHeaders) token(r *http.Request) (user, token string, basic bool) {
	var header string
	if v := r.Header["Authorization"]; len(v) > 0 { // r.Header.Get without canonicalizing a canonical key
		header = v[0]
	}
	if v, ok := c.byValue.Load(header); ok {
		return registrytoken.Username, v.(string), true
	}
	user, token, basic = r.BasicAuth()
	if !basic || user != registrytoken.Username || len(header) > maxCachedHeaderLen {
		return user, token, basic
	}
	if c.n.Add(1) > maxCachedHeaders {
		c.byValue.Clear()
		c.n.Store(1)
	}
	c.byValue.Store(header, token)
	return user, token, basic
}

// maxCachedTagKeys bounds the tag-key cache; it starts over when full.
const maxCachedTagKeys = 1 << 14

// repositoryKey names a repository in the caches without building a string per request.
type repositoryKey struct{ account, name string }

// tagKeyEntry is a repository's tags as last seen and the condition keys built from them.
type tagKeyEntry struct {
	tags map[string]string
	keys []authz.Key
}

// cachedTagKeys holds each repository's tag condition keys, built once per distinct set of
// tags: a request whose tags differ from the cached ones (a tag changed) builds them anew,
// so every request is decided with the tags it read. The keys are shared read-only.
type cachedTagKeys struct {
	byRepo sync.Map // repositoryKey → *tagKeyEntry; read without a lock
	n      atomic.Int64
}

// get returns the condition keys of tags, the tags of repository account/name.
func (c *cachedTagKeys) get(account, name string, tags map[string]string) []authz.Key {
	if len(tags) == 0 {
		return nil
	}
	k := repositoryKey{account, name}
	if v, ok := c.byRepo.Load(k); ok {
		if e := v.(*tagKeyEntry); maps.Equal(e.tags, tags) {
			return e.keys
		}
	}
	e := &tagKeyEntry{tags: maps.Clone(tags), keys: tagKeys(tags)}
	if c.n.Add(1) > maxCachedTagKeys {
		c.byRepo.Clear()
		c.n.Store(1)
	}
	c.byRepo.Store(k, e)
	return e.keys
}

// tagKeys are the condition keys of a repository's tags, in a stable order.
func tagKeys(tags map[string]string) []authz.Key {
	if len(tags) == 0 {
		return nil
	}
	names := make([]string, 0, len(tags))
	for k := range tags {
		names = append(names, k)
	}
	sort.Strings(names)
	keys := make([]authz.Key, 0, 2*len(names))
	for _, k := range names {
		v := []string{tags[k]}
		keys = append(keys,
			authz.Key{Name: "aws:ResourceTag/" + k, Type: policy.TypeString, Values: v},
			authz.Key{Name: "ecr:ResourceTag/" + k, Type: policy.TypeString, Values: v})
	}
	return keys
}

package registryauth

import (
	"fmt"
	"maps"
	"net/http"
	"sort"
	"sync"

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
type compiledPolicies struct {
	mu      sync.RWMutex
	byText  map[policyText]*policy.Policy
	byOwner map[policyOwner]ownedPolicy
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
	c.mu.RLock()
	e, ok := c.byOwner[o]
	c.mu.RUnlock()
	if ok && e.text == text {
		return e.p, nil
	}
	p, err := c.byTextOrCompile(kind, owner, text)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.byOwner == nil || len(c.byOwner) >= maxCachedPolicies {
		c.byOwner = make(map[policyOwner]ownedPolicy)
	}
	c.byOwner[o] = ownedPolicy{text, p}
	c.mu.Unlock()
	return p, nil
}

func (c *compiledPolicies) byTextOrCompile(kind policy.Kind, owner, text string) (*policy.Policy, error) {
	k := policyText{kind, text}
	c.mu.RLock()
	p := c.byText[k]
	c.mu.RUnlock()
	if p != nil {
		return p, nil
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
	c.mu.Lock()
	if c.byText == nil || len(c.byText) >= maxCachedPolicies {
		c.byText = make(map[policyText]*policy.Policy)
	}
	c.byText[k] = p
	c.mu.Unlock()
	return p, nil
}

// maxCachedHeaders bounds the decoded-header cache; it starts over when full.
const maxCachedHeaders = 1 << 12

// maxCachedHeaderLen leaves unusually long Authorization headers out of the cache.
const maxCachedHeaderLen = 8 << 10

// decodedHeaders holds the token of each Basic AWS:<token> Authorization header seen, so
// that a client repeating its header is not base64-decoded per request. It only saves the
// decoding: the token is verified on every request all the same.
type decodedHeaders struct {
	mu      sync.RWMutex
	byValue map[string]string
}

// token returns the token of r's Basic credentials; basic is false when r has none, user
// is their user name.
func (c *decodedHeaders) token(r *http.Request) (user, token string, basic bool) {
	header := r.Header.Get("Authorization")
	c.mu.RLock()
	token, ok := c.byValue[header]
	c.mu.RUnlock()
	if ok {
		return registrytoken.Username, token, true
	}
	user, token, basic = r.BasicAuth()
	if !basic || user != registrytoken.Username || len(header) > maxCachedHeaderLen {
		return user, token, basic
	}
	c.mu.Lock()
	if c.byValue == nil || len(c.byValue) >= maxCachedHeaders {
		c.byValue = make(map[string]string)
	}
	c.byValue[header] = token
	c.mu.Unlock()
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
	mu     sync.RWMutex
	byRepo map[repositoryKey]tagKeyEntry
}

// get returns the condition keys of tags, the tags of repository account/name.
func (c *cachedTagKeys) get(account, name string, tags map[string]string) []authz.Key {
	if len(tags) == 0 {
		return nil
	}
	k := repositoryKey{account, name}
	c.mu.RLock()
	e, ok := c.byRepo[k]
	c.mu.RUnlock()
	if ok && maps.Equal(e.tags, tags) {
		return e.keys
	}
	e = tagKeyEntry{tags: maps.Clone(tags), keys: tagKeys(tags)}
	c.mu.Lock()
	if c.byRepo == nil || len(c.byRepo) >= maxCachedTagKeys {
		c.byRepo = make(map[repositoryKey]tagKeyEntry)
	}
	c.byRepo[k] = e
	c.mu.Unlock()
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

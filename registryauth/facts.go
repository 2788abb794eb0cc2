package registryauth

import (
	"fmt"
	"sort"
	"sync"

	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/policy"
)

// maxCachedPolicies bounds the compiled-policy cache; it starts over when full.
const maxCachedPolicies = 1 << 14

// compiledPolicies holds repository policies compiled once per distinct text.
type compiledPolicies struct {
	mu     sync.RWMutex
	byText map[string]*policy.Policy
}

// get returns text compiled (nil for ""), from the cache when it was seen before.
func (c *compiledPolicies) get(key, text string) (*policy.Policy, error) {
	if text == "" {
		return nil, nil
	}
	c.mu.RLock()
	p := c.byText[text]
	c.mu.RUnlock()
	if p != nil {
		return p, nil
	}
	p, err := policy.Parse([]byte(text), policy.KindRepository)
	if err != nil {
		// A stored policy that does not compile decides nothing: fail closed.
		return nil, fmt.Errorf("registryauth: repository policy of %s: %w", key, err)
	}
	p.Name = "repository policy"
	c.mu.Lock()
	if c.byText == nil || len(c.byText) >= maxCachedPolicies {
		c.byText = make(map[string]*policy.Policy)
	}
	c.byText[text] = p
	c.mu.Unlock()
	return p, nil
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

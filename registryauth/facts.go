package registryauth

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/policy"
	"github.com/coffer-registry/coffer/store"
)

// Repositories is where a repository's access facts live (the metadata store).
type Repositories interface {
	// RepositoryPolicyAndTags returns the repository's policy text ("" when it has none) and
	// its tags. A missing repository is store.ErrRepositoryNotFound (or no policy, no tags).
	RepositoryPolicyAndTags(ctx context.Context, account, name string) (policyText string, tags map[string]string, err error)
}

// facts is what authorization needs about one repository, compiled once.
type facts struct {
	text   string
	policy *policy.Policy // nil: no repository policy
	keys   []authz.Key    // aws:ResourceTag/K and ecr:ResourceTag/K
	loaded time.Time
}

var noFacts = &facts{}

// factsCache keeps each repository's compiled policy and tag keys for maxAge, so that a
// request asks the store at most once per repository and interval.
type factsCache struct {
	repos  Repositories
	maxAge time.Duration
	now    func() time.Time
	mu     sync.RWMutex
	byRepo map[string]*facts
}

// maxCachedRepositories bounds the cache; it starts over when full.
const maxCachedRepositories = 1 << 16

func newFactsCache(repos Repositories, maxAge time.Duration, now func() time.Time) *factsCache {
	return &factsCache{repos: repos, maxAge: maxAge, now: now, byRepo: make(map[string]*facts)}
}

func (c *factsCache) get(ctx context.Context, account, name string) (*facts, error) {
	if c.repos == nil {
		return noFacts, nil
	}
	key := account + "/" + name
	now := c.now()
	c.mu.RLock()
	f := c.byRepo[key]
	c.mu.RUnlock()
	if f != nil && now.Sub(f.loaded) < c.maxAge {
		return f, nil
	}
	text, tags, err := c.repos.RepositoryPolicyAndTags(ctx, account, name)
	if errors.Is(err, store.ErrRepositoryNotFound) {
		text, tags, err = "", nil, nil
	}
	if err != nil {
		return nil, err
	}
	fresh := &facts{text: text, loaded: now, keys: tagKeys(tags)}
	if f != nil && f.text == text {
		fresh.policy = f.policy // unchanged text: keep the compiled policy
	} else if text != "" {
		p, err := policy.Parse([]byte(text), policy.KindRepository)
		if err != nil {
			// A stored policy that does not compile decides nothing: fail closed.
			return nil, fmt.Errorf("registryauth: repository policy of %s: %w", key, err)
		}
		p.Name = "repository policy of " + key
		fresh.policy = p
	}
	c.mu.Lock()
	if len(c.byRepo) >= maxCachedRepositories {
		c.byRepo = make(map[string]*facts)
	}
	c.byRepo[key] = fresh
	c.mu.Unlock()
	return fresh, nil
}

func (c *factsCache) invalidate(account, name string) {
	c.mu.Lock()
	delete(c.byRepo, account+"/"+name)
	c.mu.Unlock()
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

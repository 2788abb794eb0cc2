package authz

import (
	"sync"
	"sync/atomic"

	"github.com/coffer-registry/coffer/policy"
)

// Decision cache.
//
// Evaluate reads the request context only in the conditions and the resource variables of
// the statements that may apply to the action (policy.Policy.ReadsContext). When no policy
// of the set has such a statement for the Check's action, the decision depends on the
// principal, the action, the resource, the resource's account and the policies alone: not
// on the time, the source address, TLS, the user agent, MFA age, tags or any other key. Such
// a decision is kept in the principal's entry, keyed by everything else it depends on:
//
//   - the principal and its identity-side policies: the entry itself, which belongs to one
//     generation of the IAM store (any IAM write starts a new generation with new entries);
//   - the action, the resource ARN and the resource's account, as the Check gives them;
//   - the resource and registry policies, by their compiled objects (a changed policy text
//     compiles to another object, so it is another key).
//
// A Check whose context could differ (some policy reads it for the action) is evaluated on
// every request and never cached, and so is a Check whose keys could fail to parse (the
// failure must still be reported), or a caller whose engine principal is not the entry's.

// maxDecisionsPerPrincipal bounds one principal's decision cache; it starts over when full.
const maxDecisionsPerPrincipal = 256

// maxCachedDecisions bounds the decisions cached by all principals of one generation;
// beyond it decisions are evaluated without being cached until the next generation.
const maxCachedDecisions = 1 << 16

type decisionKey struct {
	action, resource, resourceAccount string
	resourcePolicy, registryPolicy    *policy.Policy
}

// decisionCache is read without locks: an immutable map replaced on every insertion
// (insertions are rare: once per key and generation).
type decisionCache struct {
	m  atomic.Pointer[map[decisionKey]Result]
	mu sync.Mutex // serializes insertions
}

func (c *decisionCache) get(k decisionKey) (Result, bool) {
	m := c.m.Load()
	if m == nil {
		return Result{}, false
	}
	r, ok := (*m)[k]
	return r, ok
}

// put adds k to the cache while the generation's budget allows.
func (c *decisionCache) put(k decisionKey, r Result, budget *atomic.Int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	n := 0
	if old != nil {
		if _, ok := (*old)[k]; ok {
			return
		}
		n = len(*old)
	}
	if n >= maxDecisionsPerPrincipal {
		budget.Add(-int64(n))
		old, n = nil, 0
	}
	if budget.Add(1) > maxCachedDecisions {
		budget.Add(-1)
		return
	}
	m := make(map[decisionKey]Result, n+1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[k] = r
	c.m.Store(&m)
}

// readsContext reports whether some policy of set reads the request context for action.
func readsContext(set *policy.PolicySet, action string) bool {
	if set.Resource.ReadsContext(action) || set.Registry.ReadsContext(action) || set.Boundary.ReadsContext(action) {
		return true
	}
	for _, ps := range [][]*policy.Policy{set.Identity, set.Session} {
		for _, p := range ps {
			if p.ReadsContext(action) {
				return true
			}
		}
	}
	for _, levels := range [][][]*policy.Policy{set.SCP, set.RCP} {
		for _, level := range levels {
			for _, p := range level {
				if p.ReadsContext(action) {
					return true
				}
			}
		}
	}
	return false
}

// keysCannotFail reports whether every key is of a type whose values always parse, so that
// a cached decision hides no error building the context would have reported.
func keysCannotFail(keys []Key) bool {
	for _, k := range keys {
		if k.Type != policy.TypeString && k.Type != policy.TypeStringList {
			return false
		}
	}
	return true
}

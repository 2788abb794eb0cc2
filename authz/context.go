package authz

import (
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/policy"
)

// principalEntry is everything about one principal that does not change between its
// requests: the compiled policies, and the condition keys that describe it, which each
// request's context is a layer on.
type principalEntry struct {
	engine policy.Principal
	set    policy.PolicySet // Identity, Boundary and Session; Resource comes with each Check
	static *policy.Context  // aws:PrincipalArn, aws:userid, aws:PrincipalTag/K, ...
	mfa    bool             // MFA was used to get the credentials, at unix second mfaAt
	mfaAt  int64
	layers sync.Pool // *requestContext on static, reused by the principal's requests
	// decisions holds the principal's decisions that no request fact can change; only an
	// entry kept in its generation's cache (shared) keeps decisions.
	decisions decisionCache
	shared    bool
}

// requestContext is a request's context, a layer on the principal's keys, with the
// source address's text kept for the next request from the same address.
type requestContext struct {
	*policy.Context
	sourceIP     netip.Addr
	sourceIPText string
}

// requestFacts is what a request context is built from, besides the principal.
type requestFacts struct {
	at              time.Time // aws:CurrentTime, aws:EpochTime
	sourceIP        netip.Addr
	secure          bool
	userAgent       string
	region          string
	resourceAccount string
	keys            []Key
}

// context builds the request context for f on the principal's keys; give it back with
// release once the decision is made.
func (e *principalEntry) context(f *requestFacts) (*requestContext, error) {
	c, ok := e.layers.Get().(*requestContext)
	if ok {
		c.Reset()
	} else {
		c = &requestContext{Context: e.static.Layer()}
	}
	second := f.at.Unix()
	clock := clockAt(second)
	c.MustSet("aws:CurrentTime", policy.TypeDate, clock.currentTime)
	c.MustSet("aws:EpochTime", policy.TypeNumeric, clock.epochTime)
	c.MustSet("aws:SecureTransport", policy.TypeBool, strconv.FormatBool(f.secure))
	if f.sourceIP.IsValid() {
		if ip := f.sourceIP.Unmap(); ip != c.sourceIP {
			c.sourceIP, c.sourceIPText = ip, ip.String()
		}
		c.MustSet("aws:SourceIp", policy.TypeIP, c.sourceIPText)
	}
	if f.userAgent != "" {
		c.MustSet("aws:UserAgent", policy.TypeString, f.userAgent)
	}
	if f.region != "" {
		c.MustSet("aws:RequestedRegion", policy.TypeString, f.region)
	}
	if f.resourceAccount != "" {
		c.MustSet("aws:ResourceAccount", policy.TypeString, f.resourceAccount)
	}
	if e.mfa {
		c.MustSet("aws:MultiFactorAuthAge", policy.TypeNumeric, strconv.FormatInt(max(second-e.mfaAt, 0), 10))
	}
	for _, k := range f.keys {
		if err := c.Set(k.Name, k.Type, k.Values...); err != nil {
			e.release(c)
			return nil, err
		}
	}
	return c, nil
}

// release takes back a context from context; nothing may use it afterwards.
func (e *principalEntry) release(c *requestContext) { e.layers.Put(c) }

// clock is aws:CurrentTime and aws:EpochTime for one second, formatted once for every
// request within it.
type clock struct {
	second                 int64
	currentTime, epochTime string
}

var lastClock atomic.Pointer[clock]

func clockAt(second int64) *clock {
	if c := lastClock.Load(); c != nil && c.second == second {
		return c
	}
	c := &clock{second: second, currentTime: time.Unix(second, 0).UTC().Format(time.RFC3339),
		epochTime: strconv.FormatInt(second, 10)}
	lastClock.Store(c)
	return c
}

// staticContext is the context of a principal's keys.
func staticContext(keys []Key) (*policy.Context, error) {
	c := policy.NewContext()
	for _, k := range keys {
		if err := c.Set(k.Name, k.Type, k.Values...); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// principalKeys are the condition keys that describe a signed caller, following AWS's
// conventions (see ../shared/reference/policy-cases.md, "Context conventions").
func principalKeys(p *iam.Principal, org *iam.Organization) []Key {
	str := func(name, value string) Key { return Key{Name: name, Type: policy.TypeString, Values: []string{value}} }
	keys := []Key{
		str("aws:PrincipalArn", p.PrincipalARN()),
		str("aws:PrincipalAccount", p.AccountID),
		str("aws:PrincipalType", p.Type),
		str("aws:userid", p.UserID),
		{Name: "aws:PrincipalIsAWSService", Type: policy.TypeBool, Values: []string{"false"}},
		{Name: "aws:ViaAWSService", Type: policy.TypeBool, Values: []string{"false"}},
	}
	if p.Type == iam.PrincipalUser {
		keys = append(keys, str("aws:username", p.UserName))
	}
	for _, t := range p.Tags {
		keys = append(keys, str("aws:PrincipalTag/"+t.Key, t.Value))
	}
	if p.OrgID != "" {
		keys = append(keys, str("aws:PrincipalOrgID", p.OrgID))
		if org != nil && org.ID == p.OrgID && org.RootID != "" {
			// Accounts sit directly under the organization's root.
			keys = append(keys, Key{Name: "aws:PrincipalOrgPaths", Type: policy.TypeStringList,
				Values: []string{org.ID + "/" + org.RootID + "/"}})
		}
	}
	if p.Temporary {
		// Present for temporary credentials only; absent for long-term keys.
		keys = append(keys, Key{Name: "aws:MultiFactorAuthPresent", Type: policy.TypeBool,
			Values: []string{strconv.FormatBool(p.MFAPresent())}})
		if !p.TokenIssueTime.IsZero() {
			keys = append(keys, Key{Name: "aws:TokenIssueTime", Type: policy.TypeDate,
				Values: []string{p.TokenIssueTime.UTC().Format(time.RFC3339)}})
		}
	}
	if p.SourceIdentity != "" {
		keys = append(keys, str("aws:SourceIdentity", p.SourceIdentity))
	}
	return keys
}

// anonymousContext describes an unsigned caller.
var anonymousContext = policy.NewContext().
	MustSet("aws:PrincipalType", policy.TypeString, "Anonymous").
	MustSet("aws:userid", policy.TypeString, "anonymous")

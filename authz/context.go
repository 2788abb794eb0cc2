package authz

import (
	"hash/maphash"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/policy"
)

// principalEntry is everything about one principal that does not change between its
// requests: the compiled policies, the condition keys that describe it, and the request
// contexts built recently.
type principalEntry struct {
	engine policy.Principal
	set    policy.PolicySet // Identity, Boundary and Session; Resource comes with each Check
	static []Key            // aws:PrincipalArn, aws:userid, aws:PrincipalTag/K, ...
	mfa    bool             // MFA was used to get the credentials, at unix second mfaAt
	mfaAt  int64

	// contexts holds built request contexts, each reused while the request facts are
	// equal; aws:CurrentTime has a resolution of one second, so a busy client reuses one
	// context for all its requests within a second.
	contexts [contextSlots]atomic.Pointer[builtContext]
}

const contextSlots = 16

// requestFacts is what a request context is built from, besides the principal.
type requestFacts struct {
	second          int64 // aws:CurrentTime, aws:EpochTime
	sourceIP        netip.Addr
	secure          bool
	userAgent       string
	region          string
	resourceAccount string
	keys            []Key
}

type builtContext struct {
	facts requestFacts
	ctx   *policy.Context
}

var slotSeed = maphash.MakeSeed()

func (f *requestFacts) slot() int {
	h := maphash.String(slotSeed, f.resourceAccount) ^ maphash.String(slotSeed, f.userAgent)*31
	ip := f.sourceIP.As16()
	h ^= maphash.Bytes(slotSeed, ip[:]) * 17
	for _, k := range f.keys {
		h = h*31 ^ maphash.String(slotSeed, k.Name)
		for _, v := range k.Values {
			h = h*31 ^ maphash.String(slotSeed, v)
		}
	}
	return int(h % contextSlots)
}

func (f *requestFacts) equal(g *requestFacts) bool {
	return f.second == g.second && f.sourceIP == g.sourceIP && f.secure == g.secure && f.userAgent == g.userAgent &&
		f.region == g.region && f.resourceAccount == g.resourceAccount &&
		slices.EqualFunc(f.keys, g.keys, func(a, b Key) bool {
			return a.Name == b.Name && a.Type == b.Type && slices.Equal(a.Values, b.Values)
		})
}

// context returns the request context for f, built at most once per slot and second.
func (e *principalEntry) context(f *requestFacts) (*policy.Context, error) {
	slot := &e.contexts[f.slot()]
	if b := slot.Load(); b != nil && b.facts.equal(f) {
		return b.ctx, nil
	}
	c, err := e.build(f)
	if err != nil {
		return nil, err
	}
	own := *f
	own.keys = make([]Key, len(f.keys))
	for i, k := range f.keys {
		own.keys[i] = Key{Name: k.Name, Type: k.Type, Values: slices.Clone(k.Values)}
	}
	slot.Store(&builtContext{facts: own, ctx: c})
	return c, nil
}

func (e *principalEntry) build(f *requestFacts) (*policy.Context, error) {
	c := policy.NewContext()
	for _, k := range e.static {
		if err := c.Set(k.Name, k.Type, k.Values...); err != nil {
			return nil, err
		}
	}
	now := time.Unix(f.second, 0).UTC()
	c.MustSet("aws:CurrentTime", policy.TypeDate, now.Format(time.RFC3339))
	c.MustSet("aws:EpochTime", policy.TypeNumeric, strconv.FormatInt(f.second, 10))
	c.MustSet("aws:SecureTransport", policy.TypeBool, strconv.FormatBool(f.secure))
	if f.sourceIP.IsValid() {
		c.MustSet("aws:SourceIp", policy.TypeIP, f.sourceIP.Unmap().String())
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
		c.MustSet("aws:MultiFactorAuthAge", policy.TypeNumeric, strconv.FormatInt(max(f.second-e.mfaAt, 0), 10))
	}
	for _, k := range f.keys {
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

// anonymousKeys describe an unsigned caller.
func anonymousKeys() []Key {
	return []Key{
		{Name: "aws:PrincipalType", Type: policy.TypeString, Values: []string{"Anonymous"}},
		{Name: "aws:userid", Type: policy.TypeString, Values: []string{"anonymous"}},
	}
}

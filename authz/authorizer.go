package authz

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/policy"
)

// Identities is the part of the IAM store authorization reads (iamsql.Service implements it).
type Identities interface {
	// PoliciesFor returns every identity-side document that applies to a principal.
	PoliciesFor(ctx context.Context, p *iam.Principal) (*iam.PolicySet, error)
	// DescribeOrganization gives the organization's id and root, for aws:PrincipalOrgPaths.
	DescribeOrganization(ctx context.Context) (*iam.Organization, error)
	// Generation moves forward on every write that may change a principal's policies.
	Generation() uint64
}

// Config configures a PolicyAuthorizer.
type Config struct {
	Identities Identities
	// Region is Coffer's region: aws:RequestedRegion when the request named none.
	Region string
	// Now is the clock for aws:CurrentTime when the context carries no request time; nil: time.Now.
	Now func() time.Time
	// OnDecision, if set, is told every decision Authorize makes (the audit trail).
	OnDecision func(ctx context.Context, c Check, r Result)
}

// Result is a decision with what the audit trail and the simulator report about it.
type Result struct {
	Decision  policy.Decision
	Principal policy.Principal
	// Message is AWS's AccessDenied sentence for a denied request, "" when allowed.
	Message string
}

// PolicyAuthorizer is the Authorizer of live traffic: the caller's identity policies,
// boundary and session policies from the IAM store, compiled once per store generation,
// with the Check's resource policy and a request context built from the caller and the
// connection, decided by the policy engine. It is safe for concurrent use.
type PolicyAuthorizer struct {
	ids        Identities
	region     string
	now        func() time.Time
	onDecision func(ctx context.Context, c Check, r Result)
	compiled   compileCache
	cache      atomic.Pointer[generationCache]
}

var _ Authorizer = (*PolicyAuthorizer)(nil)

// New returns an authorizer over cfg.Identities.
func New(cfg Config) *PolicyAuthorizer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &PolicyAuthorizer{ids: cfg.Identities, region: cfg.Region, now: cfg.Now, onDecision: cfg.OnDecision}
}

// Authorize answers c for the caller in ctx (anonymous when there is none). A denial is an
// *AccessDeniedError whose code follows the protocol of the request being served.
func (a *PolicyAuthorizer) Authorize(ctx context.Context, c Check) error {
	r, err := a.Decide(ctx, c)
	if err != nil {
		return err
	}
	if a.onDecision != nil {
		a.onDecision(ctx, c, r)
	}
	if r.Decision.Allowed() {
		return nil
	}
	return &AccessDeniedError{Message: r.Message, Decision: r.Decision, Code: deniedCode(ctx, c.Action)}
}

// deniedCode is AccessDenied for the query APIs and AccessDeniedException for the JSON APIs
// and the registry; without a request in ctx the action's service decides.
func deniedCode(ctx context.Context, action string) string {
	if call, ok := awsproto.CallFrom(ctx); ok && call.Protocol != awsproto.ProtocolUnknown {
		if call.Protocol == awsproto.ProtocolQuery {
			return CodeAccessDenied
		}
		return CodeAccessDeniedException
	}
	service, _, _ := strings.Cut(action, ":")
	if strings.EqualFold(service, "iam") || strings.EqualFold(service, "sts") {
		return CodeAccessDenied
	}
	return CodeAccessDeniedException
}

// Decide evaluates c for the caller in ctx without turning a denial into an error; the error
// is a failure to decide (the store could not be read, a stored policy does not compile, a
// Check key is malformed).
func (a *PolicyAuthorizer) Decide(ctx context.Context, c Check) (Result, error) {
	if c.Action == "" {
		return Result{}, errors.New("authz: a Check needs an Action")
	}
	var (
		p      *iam.Principal
		engine = policy.Principal{Type: policy.PrincipalAnonymous}
		region string
	)
	if caller := auth.CallerFrom(ctx); caller != nil && caller.Principal != nil {
		p, engine, region = caller.Principal, caller.Engine, caller.Region
	}
	if p != nil && strings.EqualFold(c.Action, "sts:GetCallerIdentity") {
		// Every signed caller may ask who it is; no policy can deny it.
		return Result{Decision: policy.Decision{Outcome: policy.Allowed, Statement: -1}, Principal: engine}, nil
	}
	e, gc, err := a.entryFor(ctx, p, engine)
	if err != nil {
		return Result{}, err
	}
	// A decision that no per-request fact can change is made once per principal, Check
	// and generation of the IAM store (decisions.go).
	var key decisionKey
	cacheable := e.shared && engine == e.engine && keysCannotFail(c.Keys)
	if cacheable {
		key = decisionKey{action: c.Action, resource: c.Resource, resourceAccount: c.ResourceAccount,
			resourcePolicy: c.ResourcePolicy, registryPolicy: c.RegistryPolicy}
		if r, ok := e.decisions.get(key); ok {
			return r, nil
		}
	}
	if region == "" {
		region = a.region
	}
	rc, _ := awsproto.RequestContextFrom(ctx)
	at := rc.ReceivedAt
	if at.IsZero() {
		at = a.now()
	}
	resourceAccount := c.ResourceAccount
	if resourceAccount == "" && p != nil {
		resourceAccount = p.AccountID
	}
	facts := requestFacts{at: at, sourceIP: rc.SourceIP, secure: rc.SecureTransport, userAgent: rc.UserAgent,
		region: region, resourceAccount: resourceAccount, keys: c.Keys}
	pctx, err := e.context(&facts)
	if err != nil {
		return Result{}, err
	}
	req := policy.Request{Principal: engine, Action: c.Action, Resource: c.Resource,
		ResourceAccount: c.ResourceAccount, Context: pctx.Context}
	set := e.set
	set.Resource, set.Registry = c.ResourcePolicy, c.RegistryPolicy
	d := policy.Evaluate(&req, &set)
	r := Result{Decision: d, Principal: engine}
	if !d.Allowed() {
		r.Message = policy.DeniedMessage(&req, d)
	}
	e.release(pctx)
	if cacheable && !readsContext(&set, c.Action) {
		e.decisions.put(key, r, &gc.decisions)
	}
	return r, nil
}

// maxCachedPrincipals bounds one generation's cache of principals.
const maxCachedPrincipals = 1 << 16

// generationCache holds what was built from one generation of the IAM store; a write to
// the store starts a new one.
type generationCache struct {
	gen        uint64
	principals sync.Map // *iam.Principal (nil: anonymous) → *principalEntry
	size       atomic.Int64
	decisions  atomic.Int64 // decisions cached by all principals of the generation
	orgOnce    sync.Once
	org        *iam.Organization
}

// entryFor returns the compiled policies and context of a principal, cached by the
// principal's pointer (the authenticator keeps one per credential and generation).
func (a *PolicyAuthorizer) entryFor(ctx context.Context, p *iam.Principal, engine policy.Principal) (*principalEntry, *generationCache, error) {
	gen := a.ids.Generation()
	gc := a.cache.Load()
	if gc == nil || gc.gen != gen {
		fresh := &generationCache{gen: gen}
		if gc == nil || gc.gen < gen {
			a.cache.CompareAndSwap(gc, fresh)
		}
		// Whoever won, this request uses a cache of its own generation.
		if gc = a.cache.Load(); gc.gen != gen {
			gc = fresh
		}
	}
	if v, ok := gc.principals.Load(p); ok {
		return v.(*principalEntry), gc, nil
	}
	e, err := a.buildEntry(ctx, gc, p, engine)
	if err != nil {
		return nil, nil, err
	}
	if gc.size.Add(1) <= maxCachedPrincipals {
		e.shared = true
		if v, loaded := gc.principals.LoadOrStore(p, e); loaded {
			return v.(*principalEntry), gc, nil
		}
	}
	return e, gc, nil
}

func (a *PolicyAuthorizer) buildEntry(ctx context.Context, gc *generationCache, p *iam.Principal, engine policy.Principal) (*principalEntry, error) {
	e := &principalEntry{engine: engine}
	if p == nil {
		e.static = anonymousContext
		return e, nil
	}
	docs, err := a.ids.PoliciesFor(ctx, p)
	if err != nil {
		return nil, err
	}
	if e.set, err = a.compiled.policySet(docs); err != nil {
		return nil, err
	}
	if e.static, err = staticContext(principalKeys(p, a.organization(ctx, gc))); err != nil {
		return nil, fmt.Errorf("authz: condition keys of %s: %w", p.PrincipalARN(), err)
	}
	if !p.MFAAuthTime.IsZero() {
		e.mfaAt = p.MFAAuthTime.Unix()
		e.mfa = true
	}
	return e, nil
}

// organization is read once per generation; without one (or when it cannot be read) no
// aws:PrincipalOrgPaths is set.
func (a *PolicyAuthorizer) organization(ctx context.Context, gc *generationCache) *iam.Organization {
	gc.orgOnce.Do(func() {
		if org, err := a.ids.DescribeOrganization(context.WithoutCancel(ctx)); err == nil {
			gc.org = org
		}
	})
	return gc.org
}

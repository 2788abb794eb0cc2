package policy

import (
	"math/bits"
	"slices"
	"strings"
)

// Request is one authorization question.
type Request struct {
	Principal       Principal
	Action          string // "service:Action", any case
	Resource        string // resource ARN, or "*" for actions without a resource type
	ResourceAccount string // account owning the resource ("" = the principal's account)
	Context         *Context
}

// PolicySet is every policy that bears on a request.
type PolicySet struct {
	Identity []*Policy // the principal's identity policies (user + groups, or role)
	Boundary *Policy   // permissions boundary, if one is set
	Session  []*Policy // session policies passed when the session was created
	Resource *Policy   // resource-based policy (repository policy, trust policy, ...)
	// Registry is a second resource-based policy of the resource's account that applies
	// beside Resource: ECR's registry policy, which its V2 scope enforces on every ECR
	// request. The two are one resource side: an applicable Deny in either denies, and the
	// strongest grant of either counts.
	Registry *Policy
	// SCP holds the service control policies of the principal's account, one slice per
	// level of the organization path (root, OUs..., account). Each level needs an Allow.
	// SCPs apply to IAM principals of member accounts; leave SCP empty for the management
	// account, service-linked roles, anonymous callers and service principals.
	SCP [][]*Policy
	// RCP holds the resource control policies of the resource's account, one slice per
	// level like SCP. They bind every caller except AWS service principals.
	RCP [][]*Policy
}

// Outcome is the final answer.
type Outcome uint8

const (
	ImplicitDeny Outcome = iota
	Allowed
	ExplicitDeny
)

// String gives the simulator's EvalDecision spelling.
func (o Outcome) String() string {
	switch o {
	case Allowed:
		return "allowed"
	case ExplicitDeny:
		return "explicitDeny"
	}
	return "implicitDeny"
}

// Source is the policy type that decided.
type Source uint8

const (
	SourceNone Source = iota
	SourceIdentity
	SourceResource
	SourceBoundary
	SourceSession
	SourceSCP
	SourceTrust
	SourceRCP
)

var sourcePhrases = [...]string{"", "identity-based", "resource-based", "permissions boundary", "session", "service control", "role trust", "resource control"}

// Phrase names the policy type as AccessDenied messages do.
func (s Source) Phrase() string { return sourcePhrases[s] }

// Decision is the outcome with its reason. For ExplicitDeny, Source/Policy/Statement are
// the denying statement; for Allowed, the statement that granted; for ImplicitDeny,
// Source is the policy type that had no applicable Allow (Policy is nil).
type Decision struct {
	Outcome   Outcome
	Source    Source
	Policy    *Policy
	Statement int // index into Policy.Statements(), -1 when none
}

// Allowed reports whether the request is allowed.
func (d Decision) Allowed() bool { return d.Outcome == Allowed }

// Sid is the deciding statement's Sid ("" when none).
func (d Decision) Sid() string {
	if d.Policy == nil || d.Statement < 0 {
		return ""
	}
	return d.Policy.stmts[d.Statement].Sid
}

// hit records an applicable statement.
type hit struct {
	p *Policy
	i int
}

func (h hit) found() bool { return h.p != nil }

// scan finds the first applicable Deny and the first applicable Allow in p.
func scan(p *Policy, r *evalReq) (deny, allow hit) {
	if p.index.ok {
		for m := p.index.candidates(r.serviceHash); m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m)
			if p.filters[i].nameMask&r.nameBit == 0 {
				continue
			}
			st := &p.stmts[i]
			if st.Effect == Allow && allow.found() {
				continue
			}
			if !st.applies(r) {
				continue
			}
			if st.Effect == Deny {
				return hit{p, i}, allow
			}
			allow = hit{p, i}
		}
		return deny, allow
	}
	for i, f := range p.filters {
		if (f.serviceHash != 0 && f.serviceHash != r.serviceHash) || f.nameMask&r.nameBit == 0 {
			continue
		}
		st := &p.stmts[i]
		if st.Effect == Allow && allow.found() {
			continue
		}
		if !st.applies(r) {
			continue
		}
		if st.Effect == Deny {
			return hit{p, i}, allow
		}
		allow = hit{p, i}
	}
	return deny, allow
}

// evalReq carries the request with the pieces computed once per evaluation.
type evalReq struct {
	*Request
	service     string
	serviceHash uint64
	nameBit     uint64
	hasBoundary bool
}

func newEvalReq(req *Request, set *PolicySet) evalReq {
	r := evalReq{Request: req, hasBoundary: set.Boundary != nil, nameBit: 1}
	if c := strings.IndexByte(req.Action, ':'); c >= 0 {
		r.service = req.Action[:c]
		if c+1 < len(req.Action) {
			r.nameBit = charBit(req.Action[c+1])
		}
	}
	r.serviceHash = foldHash(r.service)
	return r
}

// applies reports whether the statement matches the request, ignoring its principal.
func (st *Statement) applies(r *evalReq) bool {
	if st.service != "" && (st.serviceHash != r.serviceHash || st.nameMask&r.nameBit == 0 || !strings.EqualFold(st.service, r.service)) {
		return false
	}
	if st.matchAction(r) == st.notAction {
		return false
	}
	if st.hasResource && st.matchResource(r.Resource, r.Context) == st.notResource {
		return false
	}
	for i := range st.conds {
		if !st.conds[i].eval(r.Context) {
			return false
		}
	}
	return true
}

func (st *Statement) matchAction(r *evalReq) bool {
	if st.actionIndex.ok && isASCII(r.service) {
		return st.actionIndex.match(st.actions, r)
	}
	for i := range st.actions {
		if st.actions[i].matches(r.Action) {
			return true
		}
	}
	return false
}

func (a *actionPattern) matches(action string) bool {
	if a.all {
		return true
	}
	m, _ := a.pat.match(action, nil, true)
	return m
}

// match is matchAction over the patterns of the request's service and those that name
// no one service.
func (ix *actionIndex) match(actions []actionPattern, r *evalReq) bool {
	if at, found := slices.BinarySearch(ix.hashes, r.serviceHash); found {
		for _, i := range ix.groups[at] {
			if actions[i].matches(r.Action) {
				return true
			}
		}
	}
	for _, i := range ix.other {
		if actions[i].matches(r.Action) {
			return true
		}
	}
	return false
}

// matchResource reports whether any Resource pattern matches; a pattern whose variable
// has no value matches nothing.
func (st *Statement) matchResource(resource string, ctx *Context) bool {
	for i := range st.resources {
		rp := &st.resources[i]
		if rp.all {
			return true
		}
		if m, _ := rp.pat.match(resource, ctx); m {
			return true
		}
	}
	return false
}

// principalGrant is how a resource-policy statement names the caller (grantNone if not).
func (st *Statement) principalGrant(r *evalReq) grant {
	if st.principal == nil {
		return grantNone
	}
	if !st.notPrincipal {
		return st.principal.best(&r.Principal)
	}
	// NotPrincipal applies to everyone it does not spare. A Deny with NotPrincipal always
	// applies to principals with a permissions boundary (IAM User Guide, NotPrincipal).
	if !st.principal.spares(&r.Principal) || (st.Effect == Deny && r.hasBoundary) {
		return grantDirect
	}
	return grantNone
}

// scanResource is scan for resource-based policies: the principal must match too, and
// the strongest grant among applicable Allows is kept.
func scanResource(p *Policy, r *evalReq) (deny, allow hit, best grant) {
	for i := range p.stmts {
		st := &p.stmts[i]
		if st.Effect == Allow && best == grantDirect {
			continue
		}
		g := st.principalGrant(r)
		if g == grantNone || !st.applies(r) {
			continue
		}
		if st.Effect == Deny {
			return hit{p, i}, allow, best
		}
		if g > best {
			best, allow = g, hit{p, i}
		}
	}
	return deny, allow, best
}

func decided(o Outcome, s Source, h hit) Decision {
	if h.p == nil {
		return Decision{Outcome: o, Source: s, Statement: -1}
	}
	return Decision{Outcome: o, Source: s, Policy: h.p, Statement: h.i}
}

// Evaluate decides a request with AWS's evaluation logic: an applicable Deny anywhere
// wins; otherwise the identity side (identity policies, boundary, session policies, SCPs)
// and the resource side combine by account and by how the resource policy names the caller.
// It does not allocate.
//
// Choices where AWS's documentation is silent: a plain (non-set) operator on a multivalued
// key matches when any value matches (negated: when none does); a policy variable's value is
// compared literally, its '*' and '?' are not wildcards.
func Evaluate(req *Request, set *PolicySet) Decision {
	r := newEvalReq(req, set)
	// Explicit denies, in the order AWS's flow chart visits policy types.
	scpAllowed := true
	for _, level := range set.SCP {
		levelAllowed := false
		for _, p := range level {
			d, a := scan(p, &r)
			if d.found() {
				return decided(ExplicitDeny, SourceSCP, d)
			}
			if a.found() {
				levelAllowed = true
			}
		}
		scpAllowed = scpAllowed && levelAllowed
	}
	rcpAllowed := true
	if req.Principal.Type != PrincipalService {
		for _, level := range set.RCP {
			levelAllowed := false
			for _, p := range level {
				d, a := scan(p, &r)
				if d.found() {
					return decided(ExplicitDeny, SourceRCP, d)
				}
				levelAllowed = levelAllowed || a.found()
			}
			rcpAllowed = rcpAllowed && levelAllowed
		}
	}
	var resAllow hit
	resGrant := grantNone
	resSource := SourceResource
	if set.Resource != nil {
		if set.Resource.kind == KindTrust {
			resSource = SourceTrust
		}
		var d hit
		d, resAllow, resGrant = scanResource(set.Resource, &r)
		if d.found() {
			return decided(ExplicitDeny, resSource, d)
		}
	}
	if set.Registry != nil {
		d, a, g := scanResource(set.Registry, &r)
		if d.found() {
			return decided(ExplicitDeny, SourceResource, d)
		}
		if g > resGrant {
			resAllow, resGrant = a, g
		}
	}
	var idAllow hit
	for _, p := range set.Identity {
		d, a := scan(p, &r)
		if d.found() {
			return decided(ExplicitDeny, SourceIdentity, d)
		}
		if !idAllow.found() {
			idAllow = a
		}
	}
	var bAllow hit
	if set.Boundary != nil {
		d, a := scan(set.Boundary, &r)
		if d.found() {
			return decided(ExplicitDeny, SourceBoundary, d)
		}
		bAllow = a
	}
	var sAllow hit
	for _, p := range set.Session {
		d, a := scan(p, &r)
		if d.found() {
			return decided(ExplicitDeny, SourceSession, d)
		}
		if !sAllow.found() {
			sAllow = a
		}
	}

	if !rcpAllowed {
		return decided(ImplicitDeny, SourceRCP, hit{})
	}
	p := &req.Principal
	if p.Type == PrincipalAnonymous || p.Type == PrincipalService || p.Type == PrincipalWebIdentity {
		// No identity side: only the resource policy can allow.
		if resGrant != grantNone {
			return decided(Allowed, resSource, resAllow)
		}
		return decided(ImplicitDeny, resSource, hit{})
	}
	if len(set.SCP) > 0 && !scpAllowed {
		return decided(ImplicitDeny, SourceSCP, hit{})
	}
	resourceAccount := req.ResourceAccount
	if resourceAccount == "" {
		resourceAccount = p.Account
	}
	crossAccount := resourceAccount != p.Account

	// The identity side: identity policies, then boundary, then session policies. A
	// federated-user session has no permissions without a session policy.
	identityOK := idAllow.found() || p.Type == PrincipalRoot
	boundaryOK := set.Boundary == nil || bAllow.found()
	sessionOK := sAllow.found() || (len(set.Session) == 0 && p.Type != PrincipalFederatedUser)

	if crossAccount {
		// Both accounts must allow; the resource policy may name the caller in any form.
		switch {
		case !identityOK:
			return decided(ImplicitDeny, SourceIdentity, hit{})
		case !boundaryOK:
			return decided(ImplicitDeny, SourceBoundary, hit{})
		case !sessionOK:
			return decided(ImplicitDeny, SourceSession, hit{})
		case resGrant == grantNone:
			return decided(ImplicitDeny, resSource, hit{})
		}
		return decided(Allowed, SourceIdentity, idAllow)
	}
	if resGrant == grantNone && set.Resource != nil && set.Resource.kind == KindTrust {
		// A role trust policy must allow the caller even in the role's own account.
		return decided(ImplicitDeny, SourceTrust, hit{})
	}

	// Same account: a resource policy that names the caller can stand in for the
	// identity side, to a degree that depends on how it names it.
	switch resGrant {
	case grantDirect:
		return decided(Allowed, resSource, resAllow)
	case grantRole:
		if !boundaryOK {
			return decided(ImplicitDeny, SourceBoundary, hit{})
		}
		if !sessionOK {
			return decided(ImplicitDeny, SourceSession, hit{})
		}
		return decided(Allowed, resSource, resAllow)
	}
	if !identityOK {
		return decided(ImplicitDeny, SourceIdentity, hit{})
	}
	if !boundaryOK {
		return decided(ImplicitDeny, SourceBoundary, hit{})
	}
	if !sessionOK {
		return decided(ImplicitDeny, SourceSession, hit{})
	}
	return decided(Allowed, SourceIdentity, idAllow)
}

// ReadsContext reports whether the request context can change what p decides about a
// request for action: whether some statement that may apply to action (its Action or
// NotAction admits action) has a Condition or a policy variable in its Resource or
// NotResource, the only places where evaluation reads the context. When ReadsContext is
// false for every policy of a set, Evaluate decides a request for action from the
// principal, the action, the resource and the resource's account alone: the same request
// with any other context gets the same Decision. A nil p reads nothing.
func (p *Policy) ReadsContext(action string) bool {
	if p == nil {
		return false
	}
	r := newEvalReq(&Request{Action: action}, &PolicySet{})
	for i := range p.stmts {
		st := &p.stmts[i]
		if !st.readsContext() {
			continue
		}
		// The action tests of applies, which depend on the action alone.
		if st.service != "" && (st.serviceHash != r.serviceHash || st.nameMask&r.nameBit == 0 || !strings.EqualFold(st.service, r.service)) {
			continue
		}
		if st.matchAction(&r) == st.notAction {
			continue
		}
		return true
	}
	return false
}

// readsContext reports whether applies may read the request context for st: it has
// conditions, or a Resource (NotResource) pattern with a policy variable.
func (st *Statement) readsContext() bool {
	if len(st.conds) > 0 {
		return true
	}
	if !st.hasResource {
		return false
	}
	for i := range st.resources {
		if !st.resources[i].all && st.resources[i].pat.hasVars() {
			return true
		}
	}
	return false
}

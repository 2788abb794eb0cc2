// Package auth establishes who is calling: a SigV4-signed AWS API request, a registry token
// (from ecr:GetAuthorizationToken), or nobody (anonymous). It never decides permissions.
package auth

import (
	"context"
	"sync/atomic"

	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/policy"
)

// Method says how a caller proved who it is.
type Method uint8

const (
	Anonymous     Method = iota // no credentials at all
	SigV4                       // an AWS API request signed with an access key
	RegistryToken               // a registry request with a token from GetAuthorizationToken
)

// Caller is the authenticated principal of one request. It is immutable once built.
type Caller struct {
	Method Method
	// Principal is the identity from the IAM store; nil for Anonymous.
	Principal *iam.Principal
	// Engine is the policy engine's view of the principal (type, ARN, account, role ARN).
	Engine policy.Principal
	// Generation is the IAM store generation the principal was resolved at (for caches).
	Generation uint64
	// Region is the region the request was signed for (aws:RequestedRegion); "" when the
	// request carried no SigV4 credential scope.
	Region string
}

// NewCaller builds the caller for an IAM principal (nil: Anonymous) resolved at generation.
func NewCaller(m Method, p *iam.Principal, generation uint64) *Caller {
	if p == nil {
		return &Caller{Method: Anonymous, Engine: policy.Principal{Type: policy.PrincipalAnonymous}}
	}
	return &Caller{Method: m, Principal: p, Engine: EnginePrincipal(p), Generation: generation}
}

// EnginePrincipal is the policy engine's view of an IAM principal: its type, its ARN (the
// session ARN for a role session), its account and, for sessions, the role's ARN.
func EnginePrincipal(p *iam.Principal) policy.Principal {
	out := policy.Principal{ARN: p.ARN, Account: p.AccountID}
	switch p.Type {
	case iam.PrincipalRoot:
		out.Type = policy.PrincipalRoot
		if out.ARN == "" {
			out.ARN = iam.RootARN(p.AccountID)
		}
	case iam.PrincipalAssumedRole:
		out.Type = policy.PrincipalAssumedRole
		out.RoleARN = p.RoleARN
	case iam.PrincipalUser:
		out.Type = policy.PrincipalUser
	default:
		// An unknown kind of principal gets no identity side at all (fail closed).
		out.Type = policy.PrincipalAnonymous
	}
	return out
}

type callerKey struct{}

// WithCaller returns a context carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller carried by ctx, or nil when the request is unauthenticated.
// A CallerSlot that has not been set yet carries the caller of the context it was added to.
func CallerFrom(ctx context.Context) *Caller {
	switch v := ctx.Value(callerKey{}).(type) {
	case *Caller:
		return v
	case *CallerSlot:
		if c := v.c.Load(); c != nil {
			return c
		}
		return CallerFrom(v.parent)
	}
	return nil
}

// CallerSlot is a place in a request's context for a caller that is established after the
// context was made: a middleware that gives each request a context of its own anyway (the
// registry's audit trail) adds a slot, and the authentication that runs inside it fills the
// slot instead of making another context, and a copy of the request to carry it. A slot is
// filled once; CallerFrom reads it like a caller added with WithCaller at that point.
type CallerSlot struct {
	c      atomic.Pointer[Caller]
	parent context.Context
}

// WithCallerSlot returns a context carrying the empty slot s; s must not be added twice.
func WithCallerSlot(ctx context.Context, s *CallerSlot) context.Context {
	s.parent = ctx
	return context.WithValue(ctx, callerKey{}, s)
}

// CallerSlotFrom returns the slot CallerFrom reads in ctx, or nil when the innermost caller
// of ctx was added with WithCaller or ctx has no slot.
func CallerSlotFrom(ctx context.Context) *CallerSlot {
	s, _ := ctx.Value(callerKey{}).(*CallerSlot)
	return s
}

// Set fills the slot with c. It reports false, leaving the slot as it was, when c is nil or
// the slot holds a caller already.
func (s *CallerSlot) Set(c *Caller) bool {
	return c != nil && s.c.CompareAndSwap(nil, c)
}

// Caller is the caller Set put in the slot, nil before.
func (s *CallerSlot) Caller() *Caller { return s.c.Load() }

// Package registryauth connects the registry's hooks to Coffer's identities and policies: Basic
// AWS:<token> authentication, and every registry Access decided as its ECR action on the repository.
package registryauth

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/coffer-registry/coffer/audit"
	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/auth/registrytoken"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/policy"
	"github.com/coffer-registry/coffer/registry"
)

// Messages of the 401 answers.
const (
	msgNoCredentials = "authentication required: log in with user AWS and a token from ecr:GetAuthorizationToken " +
		"(aws ecr get-login-password | docker login -u AWS --password-stdin HOST)"
	msgExpired   = "Your authorization token has expired. Reauthenticate and try again."
	msgInvalid   = "Your authorization token is invalid. Reauthenticate and try again."
	msgUser      = "the user name must be AWS, with a token from ecr:GetAuthorizationToken as the password"
	msgScheme    = "unsupported authorization scheme: use Basic with user AWS and a token from ecr:GetAuthorizationToken"
	msgAnonymous = "authentication required: anonymous access is not granted to this repository"
	msgUndecided = "the request could not be authorized; try again"
	msgNoAuth    = "authentication is unavailable; try again"
)

// Config configures Hooks.
type Config struct {
	Tokens     *registrytoken.Tokens
	Authorizer authz.Authorizer
	// Client derives the request context (source IP, TLS, user agent) for authorization's
	// condition keys when the request does not carry one already.
	Client awsproto.ClientInfo
	Logger *slog.Logger
}

// Hooks are the registry's Authenticate and Authorize functions. Safe for concurrent use.
type Hooks struct {
	tokens *registrytoken.Tokens
	authz  authz.Authorizer
	// policies holds repository policies compiled once per text: a changed policy is a new
	// text, so nothing needs invalidating and every request sees the policy of its moment.
	policies compiledPolicies
	// tagKeys holds each repository's aws:ResourceTag/K and ecr:ResourceTag/K keys, rebuilt
	// whenever the tags a request read differ from the cached ones.
	tagKeys cachedTagKeys
	// headers holds the token of each Basic Authorization header seen (decoding only).
	headers decodedHeaders
	client  awsproto.ClientInfo
	log     *slog.Logger
}

// New returns the hooks for cfg. Tokens and Authorizer are required.
func New(cfg Config) *Hooks {
	if cfg.Tokens == nil || cfg.Authorizer == nil {
		panic("registryauth: Config.Tokens and Config.Authorizer are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Hooks{tokens: cfg.Tokens, authz: cfg.Authorizer, client: cfg.Client, log: cfg.Logger}
}

// Config returns cfg with the registry's Authenticate and Authorize set to h, and Routed
// to NoteOperation.
func (h *Hooks) Config(cfg registry.Config) registry.Config {
	cfg.Authenticate = h.Authenticate
	cfg.Authorize = h.Authorize
	cfg.Routed = NoteOperation
	return cfg
}

// Authenticate is registry.Config.Authenticate. Basic AWS:<token> becomes the token's
// caller; no Authorization header makes an anonymous caller, which only a repository policy
// granting "*" lets through (the ping and the catalog always ask it to log in). Anything
// else is 401 with the Basic challenge.
//
// Under the audit middleware, which gives the request a context with a caller slot
// (auth.CallerSlot) and the request context, the caller goes into the slot and r goes on as
// it is; otherwise r goes on with a context that carries the caller.
func (h *Hooks) Authenticate(r *http.Request) (*http.Request, error) {
	ctx := r.Context()
	_, hasRC := awsproto.RequestContextFrom(ctx)
	if !hasRC {
		ctx = awsproto.WithRequestContext(ctx, h.client.NewRequestContext(r))
	}
	var caller *auth.Caller
	user, token, basic := h.headers.token(r)
	switch {
	case !basic && r.Header.Get("Authorization") != "":
		return nil, registry.Unauthorized(msgScheme)
	case !basic:
		if isPingOrCatalog(r.URL.Path) {
			return nil, registry.Unauthorized(msgNoCredentials)
		}
		caller = auth.NewCaller(auth.Anonymous, nil, 0)
	case user != registrytoken.Username:
		return nil, registry.Unauthorized(msgUser)
	default:
		c, err := h.tokens.Verify(ctx, token)
		switch {
		case errors.Is(err, registrytoken.ErrExpired):
			return nil, registry.Unauthorized(msgExpired)
		case errors.Is(err, registrytoken.ErrMalformed), errors.Is(err, registrytoken.ErrBadSignature),
			errors.Is(err, registrytoken.ErrRevoked):
			return nil, registry.Unauthorized(msgInvalid)
		case err != nil:
			h.log.Error("registryauth: verifying a token", "err", err)
			return nil, registry.Unauthorized(msgNoAuth)
		}
		caller = c
	}
	if hasRC {
		if slot := auth.CallerSlotFrom(ctx); slot != nil && slot.Set(caller) {
			return r, nil
		}
	}
	audit.NoteCaller(ctx, caller)
	return r.WithContext(auth.WithCaller(ctx, caller)), nil
}

func isPingOrCatalog(path string) bool {
	return path == "/v2/" || path == "/v2" || path == "/v2/_catalog"
}

// catalogAction is the action the catalog asks per repository to filter its list; a denial
// there leaves a repository out rather than refusing the request.
const catalogAction = "ecr:DescribeRepositories"

// Authorize is registry.Config.Authorize: a's ECR action on the repository ARN, with the
// repository's policy as the resource policy and the account's registry policy beside it
// (both read by the registry with the repository, in the request), its tags as
// aws:ResourceTag/K and
// ecr:ResourceTag/K, and the owner as aws:ResourceAccount. A denial is 403 DENIED with
// AWS's AccessDeniedException sentence (401 for an anonymous caller, who may still log in).
func (h *Hooks) Authorize(r *http.Request, a registry.Access) error {
	ctx := r.Context()
	if !a.Loaded {
		// Every route of the registry reads its repository before asking; an Access without
		// the repository's policy cannot be decided correctly (fail closed).
		h.log.Error("registryauth: access without the repository's policy", "action", a.Action, "resource", a.Resource)
		return registry.Denied(msgUndecided)
	}
	p, err := h.policies.get(policy.KindRepository, a.Resource, a.Policy)
	if err != nil {
		h.log.Error("registryauth: repository policy", "account", a.Account, "repository", a.Repository, "err", err)
		return registry.Denied(msgUndecided)
	}
	rp, err := h.policies.get(policy.KindRegistry, a.Account, a.RegistryPolicy)
	if err != nil {
		h.log.Error("registryauth: registry policy", "account", a.Account, "err", err)
		return registry.Denied(msgUndecided)
	}
	err = h.authz.Authorize(ctx, authz.Check{Action: a.Action, Resource: a.Resource, ResourceAccount: a.Account,
		ResourcePolicy: p, RegistryPolicy: rp, Keys: h.tagKeys.get(a.Account, a.Repository, a.Tags)})
	if err == nil {
		return nil
	}
	var denied *authz.AccessDeniedError
	if !errors.As(err, &denied) {
		h.log.Error("registryauth: authorizing", "action", a.Action, "resource", a.Resource, "err", err)
		return registry.Denied(msgUndecided)
	}
	if a.Action != catalogAction {
		audit.NoteDenied(ctx, a.Action, denied.Message)
	}
	if c := auth.CallerFrom(ctx); c == nil || c.Method == auth.Anonymous {
		return registry.Unauthorized(msgAnonymous)
	}
	return registry.Denied(denied.Message)
}

// Describe adapts the registry's routing to the audit middleware (audit.RegistryConfig),
// for requests the registry did not note (NoteOperation).
func Describe(h *registry.Handler) func(*http.Request) (audit.RegistryCall, bool) {
	return func(r *http.Request) (audit.RegistryCall, bool) {
		op, ok := h.Describe(r)
		if !ok {
			return audit.RegistryCall{}, false
		}
		return registryCall(op), true
	}
}

// NoteOperation is registry.Config.Routed: it hands the operation the registry routed to
// the audit middleware, which then does not route the request a second time.
func NoteOperation(r *http.Request, op registry.Operation) {
	audit.NoteCall(r.Context(), registryCall(op))
}

func registryCall(op registry.Operation) audit.RegistryCall {
	return audit.RegistryCall{Action: op.Action, Operation: op.Name, Account: op.Account,
		Repository: op.Repository, Reference: op.Reference, ReadOnly: op.ReadOnly}
}

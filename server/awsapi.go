package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/auth/registrytoken"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/ecrapi"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/iamapi"
	"github.com/coffer-registry/coffer/orgapi"
	"github.com/coffer-registry/coffer/stsapi"
)

// IAMDB is the identity store: accounts, users, groups, roles, policies, keys, sessions.
func (l Layout) IAMDB() string { return filepath.Join(string(l), "iam.db") }

// IAMKey is the key that encrypts the identity store's secrets at rest.
func (l Layout) IAMKey() string { return filepath.Join(string(l), "iam.key") }

// RegistryTokenKey is the HMAC key of the registry passwords GetAuthorizationToken issues.
func (l Layout) RegistryTokenKey() string { return filepath.Join(string(l), registrytoken.KeyFile) }

// sessionSweepInterval is the pause between removals of expired temporary credentials.
const sessionSweepInterval = 10 * time.Minute

// globalRegion is where SDKs sign the global services (IAM, Organizations) and, by default, STS.
const globalRegion = "us-east-1"

// awsAPI is the identity store and what stands on it: SigV4 authentication, the policy
// authorizer, the registry tokens and the AWS APIs (ECR, IAM, STS, Organizations) served
// beside the registry.
type awsAPI struct {
	Store         *iamsql.Service
	Authenticator *auth.APIAuthenticator
	Authorizer    *authz.PolicyAuthorizer
	Tokens        *registrytoken.Tokens   // registry passwords: issued by ECR, verified on /v2/
	Boot          *iamsql.BootstrapResult // what the first-start bootstrap found or made
	hooks         awsAPIHooks
	endpoint      *awsproto.Endpoint // set by Handler
}

// awsAPIHooks are the optional observers of the AWS APIs (the audit trail).
type awsAPIHooks struct {
	OnDecision func(ctx context.Context, c authz.Check, r authz.Result) // every authorization
	Observe    func(ctx context.Context, o awsproto.Outcome)            // every AWS API call
}

// openAWSAPI opens (creating when missing) the identity store of data directory l, runs the
// bootstrap that makes the management account on first start, and builds the authenticator
// and the authorizer.
func openAWSAPI(ctx context.Context, cfg Config, l Layout, hooks awsAPIHooks) (*awsAPI, error) {
	store, err := iamsql.Open(ctx, iamsql.Config{
		DBPath:         l.IAMDB(),
		KeyPath:        l.IAMKey(),
		ValidatePolicy: iam.ValidatePolicyDocument,
	})
	if err != nil {
		return nil, fmt.Errorf("server: identity store: %w", err)
	}
	boot, err := store.Bootstrap(ctx, iamsql.BootstrapInput{})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("server: first-start bootstrap: %w", err)
	}
	tokens, err := openTokens(l, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &awsAPI{
		Tokens: tokens,
		Store:  store,
		Authenticator: auth.NewAPIAuthenticator(auth.APIConfig{
			Store:   store,
			Regions: signingRegions(cfg.Region),
			Logger:  cfg.Logger,
		}),
		Authorizer: authz.New(authz.Config{
			Identities: store,
			Region:     cfg.Region,
			OnDecision: hooks.OnDecision,
		}),
		Boot:  boot,
		hooks: hooks,
	}, nil
}

// openTokens loads (creating on first start) the registry-token key and builds the tokens.
func openTokens(l Layout, store *iamsql.Service) (*registrytoken.Tokens, error) {
	key, err := iam.LoadOrCreateKey(l.RegistryTokenKey())
	if err != nil {
		return nil, fmt.Errorf("server: registry token key: %w", err)
	}
	tokens, err := registrytoken.New(registrytoken.Config{Key: key, Store: store})
	if err != nil {
		return nil, fmt.Errorf("server: registry tokens: %w", err)
	}
	return tokens, nil
}

// signingRegions are the regions a SigV4 credential scope may name: Coffer's own, and the
// one where SDKs sign the global services.
func signingRegions(region string) []string {
	if region == globalRegion {
		return []string{region}
	}
	return []string{region, globalRegion}
}

// Handler is the one handler of the listener: the AWS API calls (IAM, STS, Organizations,
// and ECR once RegisterECR ran) are answered here; every other request, the registry's /v2/
// included, goes to next.
func (a *awsAPI) Handler(cfg Config, next http.Handler) http.Handler {
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{
		Authenticate: a.Authenticator.Authenticate,
		Client:       awsproto.ClientInfo{Proxies: cfg.TrustedProxies},
		NotFound:     next,
		Observe:      a.hooks.Observe,
		Logger:       cfg.Logger,
	})
	iamapi.Register(e, iamapi.Deps{Store: a.Store, Authorizer: a.Authorizer, Region: cfg.Region})
	stsapi.Register(e, stsapi.Deps{Identities: a.Store, Authorizer: a.Authorizer})
	orgapi.Register(e, orgapi.Deps{Identities: a.Store, Authorizer: a.Authorizer})
	a.endpoint = e
	return e
}

// RegisterECR adds the ECR API to the endpoint Handler built. It runs once the listener is
// bound, before serving, since ECR's answers (repositoryUri, proxyEndpoint) name the
// registry's host:port and scheme.
func (a *awsAPI) RegisterECR(cfg Config, data *Data, host, scheme string) {
	ecrapi.Register(a.endpoint, ecrapi.Deps{
		Store:          data.Meta,
		Blobs:          data.Blobs,
		Authorizer:     a.Authorizer,
		Tokens:         a.Tokens,
		Region:         cfg.Region,
		RegistryHost:   host,
		RegistryScheme: scheme,
		ECRHostNames:   cfg.ECRHostNames,
		Logger:         cfg.Logger,
	})
}

// SessionSweeper is the worker that removes expired temporary credentials, at start and then
// every sessionSweepInterval.
func (a *awsAPI) SessionSweeper(log *slog.Logger) Worker {
	return Worker{Name: "expired-sessions", Run: func(ctx context.Context) error {
		t := time.NewTicker(sessionSweepInterval)
		defer t.Stop()
		for {
			n, err := a.Store.DeleteExpiredSessions(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("removing expired sessions", "err", err)
			case n > 0:
				log.Info("removed expired sessions", "count", n)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
			}
		}
	}}
}

// Close stops the authenticator (its pending key-use writes go to the store first), then
// closes the identity store. Call it after the HTTP server has stopped.
func (a *awsAPI) Close() error {
	return errors.Join(a.Authenticator.Close(), a.Store.Close())
}

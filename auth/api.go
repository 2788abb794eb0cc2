package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/coffer-registry/coffer/auth/sigv4"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
)

// CredentialStore is the part of the IAM store that request authentication reads
// (iamsql.Service implements it).
type CredentialStore interface {
	// LookupCredential returns the credential behind an access key id; an unknown id is an
	// *iam.Error with code NoSuchEntity.
	LookupCredential(ctx context.Context, accessKeyID string) (*iam.Credential, error)
	// RecordAccessKeyUse notes where a long-term key was last used.
	RecordAccessKeyUse(ctx context.Context, accessKeyID, service, region string) error
	// Generation moves forward on every write that may change a credential or a principal.
	Generation() uint64
}

// APIConfig configures an APIAuthenticator.
type APIConfig struct {
	Store CredentialStore
	// Regions lists the regions a credential scope may name: Coffer's region, and us-east-1
	// where SDKs sign the global services (IAM, Organizations). Empty accepts any region.
	Regions []string
	// KeyUseInterval is how often the last use of one access key is written (default one
	// minute); the writes happen off the request path.
	KeyUseInterval time.Duration
	Now            func() time.Time // nil: time.Now
	Logger         *slog.Logger     // nil: slog.Default()
}

// APIAuthenticator authenticates the AWS API requests (ECR, IAM, STS, Organizations): it
// verifies their SigV4 signature against the IAM store and puts the caller in the context.
// Plug its Authenticate method into awsproto.EndpointConfig.Authenticate; call Close when the
// server stops. It is safe for concurrent use.
type APIAuthenticator struct {
	verifier *sigv4.Verifier
	keys     *keyCache
	uses     *keyUseRecorder
	logger   *slog.Logger
}

// NewAPIAuthenticator returns an authenticator reading credentials from cfg.Store.
func NewAPIAuthenticator(cfg APIConfig) *APIAuthenticator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.KeyUseInterval <= 0 {
		cfg.KeyUseInterval = time.Minute
	}
	keys := newKeyCache(cfg.Store)
	return &APIAuthenticator{
		verifier: sigv4.NewVerifier(keys, sigv4.Options{Regions: cfg.Regions, Now: cfg.Now}),
		keys:     keys,
		uses:     newKeyUseRecorder(cfg.Store, cfg.KeyUseInterval, cfg.Now, cfg.Logger),
		logger:   cfg.Logger,
	}
}

// Authenticate verifies the signature of an AWS API request whose body awsproto has
// already read (call.Body), checks that the credential scope names the service being
// called, and returns ctx carrying the *Caller. Its errors are the SigV4 failures in AWS's
// codes (MissingAuthenticationToken, InvalidClientTokenId, SignatureDoesNotMatch,
// IncompleteSignature, RequestExpired, ExpiredToken), or a store failure.
func (a *APIAuthenticator) Authenticate(ctx context.Context, r *http.Request, call awsproto.Call) (context.Context, error) {
	res, err := a.verifier.Verify(r, call.Body)
	if err != nil {
		var se *sigv4.Error
		switch {
		case errors.Is(err, sigv4.ErrMissingAuthenticationToken):
			return ctx, awsproto.MissingAuthenticationToken()
		case errors.As(err, &se) && se.CanonicalRequest() != "":
			a.logger.Debug("auth: signature does not match", "request_id", call.Request.RequestID,
				"canonical_request", se.CanonicalRequest())
		}
		return ctx, err
	}
	if call.Service == nil {
		return ctx, awsproto.MissingAuthenticationToken()
	}
	if err := res.RequireService(call.Service.Name); err != nil {
		return ctx, err
	}
	k := res.Principal.(*resolvedKey)
	a.uses.note(k, res.Service, res.Region)
	return WithCaller(ctx, k.callerFor(res.Region)), nil
}

// Close writes the access-key uses still waiting and stops the writer.
func (a *APIAuthenticator) Close() error {
	a.uses.close()
	return nil
}

// Package registry serves the OCI Distribution v1.1 API (/v2/...) for ECR-style repositories
// addressed as HOST/ACCOUNT/NAME, with upload sessions, referrers and per-request ECR actions.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/coffer-registry/coffer/blob"
	"github.com/coffer-registry/coffer/store"
)

// DefaultMaxManifestSize is ECR's ImageManifest limit (4 MiB).
const DefaultMaxManifestSize = 4 << 20

// Config is what the registry handler needs. Blobs and Store are required.
type Config struct {
	Blobs  blob.Store
	Store  store.Store
	Region string // region of repository ARNs handed to Authorize; default us-east-1
	// CreateOnPush creates a missing repository on an upload POST or manifest PUT (like
	// ECR's create-on-push); the caller then also needs ecr:CreateRepository. Off: NAME_UNKNOWN.
	CreateOnPush bool
	Logger       *slog.Logger // default slog.Default()

	// Authenticate, when set, runs first for every /v2/ request. It returns the request to
	// continue with (for instance with the caller's identity in its context) or an error:
	// a plain error or Unauthorized(...) answers 401 with a Basic challenge; any other
	// *Error is sent as it is.
	Authenticate func(r *http.Request) (*http.Request, error)
	// Authorize, when set, is called for every Access a request needs, before any work.
	// A plain error answers 403 DENIED with the error's text; an *Error (Unauthorized,
	// Denied, TooManyRequests) is sent as it is. Nil allows everything.
	Authorize func(r *http.Request, a Access) error
	// Realm is the realm of the Basic challenge; default "https://HOST/" of the request.
	Realm string
	// Routed, when set, is told what every request that routes to a registry operation is,
	// once routing has decided it, before authentication (the audit trail's event names it
	// without routing the request again).
	Routed func(r *http.Request, op Operation)

	MaxManifestSize int64 // default DefaultMaxManifestSize
}

// Handler serves /v2/. Create it with New.
type Handler struct {
	blobs        blob.Store
	meta         store.Store
	region       string
	createOnPush bool
	log          *slog.Logger
	authenticate func(r *http.Request) (*http.Request, error)
	authorize    func(r *http.Request, a Access) error
	routed       func(r *http.Request, op Operation)
	realm        string
	maxManifest  int64
	uploads      keyedMutex
	now          func() time.Time
}

// New returns the /v2/ handler. It panics when Blobs or Store is missing (a wiring error).
func New(cfg Config) *Handler {
	if cfg.Blobs == nil || cfg.Store == nil {
		panic("registry: Config.Blobs and Config.Store are required")
	}
	h := &Handler{
		blobs:        cfg.Blobs,
		meta:         cfg.Store,
		region:       cfg.Region,
		createOnPush: cfg.CreateOnPush,
		log:          cfg.Logger,
		authenticate: cfg.Authenticate,
		authorize:    cfg.Authorize,
		routed:       cfg.Routed,
		realm:        cfg.Realm,
		maxManifest:  cfg.MaxManifestSize,
		now:          time.Now,
	}
	if h.region == "" {
		h.region = "us-east-1"
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.maxManifest <= 0 {
		h.maxManifest = DefaultMaxManifestSize
	}
	return h
}

// ServeHTTP walks the one path every request takes: route, authenticate, authorize, handle.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	rt, rerr := parseRoute(r.Method, r.URL.Path)
	if rerr != nil {
		h.fail(w, r, rerr)
		return
	}
	if h.routed != nil {
		h.routed(r, operationOf(r, rt))
	}
	if h.authenticate != nil {
		next, err := h.authenticate(r)
		if err != nil {
			h.fail(w, r, asHookError(err, Unauthorized))
			return
		}
		if next != nil {
			r = next
		}
	}
	if a, ok := h.repositoryAccess(rt); ok {
		if h.authorize != nil {
			var err error
			if a, err = h.loadForAccess(r, &rt, a); err != nil {
				h.fail(w, r, err)
				return
			}
		}
		if err := h.allowed(r, a); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if err := h.handle(w, r, rt); err != nil {
		h.fail(w, r, err)
	}
}

func (h *Handler) handle(w http.ResponseWriter, r *http.Request, rt route) error {
	switch rt.op {
	case opPing:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte("{}"))
		}
		return nil
	case opCatalog:
		return h.catalog(w, r)
	case opManifestGet, opManifestHead:
		return h.getManifest(w, r, rt)
	case opManifestPut:
		return h.putManifest(w, r, rt)
	case opManifestDelete:
		return h.deleteManifest(w, r, rt)
	case opBlobGet, opBlobHead:
		return h.getBlob(w, r, rt)
	case opBlobDelete:
		return h.deleteBlob(w, r, rt)
	case opUploadStart:
		return h.startUpload(w, r, rt)
	case opUploadStatus:
		return h.uploadStatus(w, r, rt)
	case opUploadChunk:
		return h.patchUpload(w, r, rt)
	case opUploadComplete:
		return h.completeUpload(w, r, rt)
	case opUploadCancel:
		return h.cancelUpload(w, r, rt)
	case opTagsList:
		return h.listTags(w, r, rt)
	case opReferrers:
		return h.referrers(w, r, rt)
	}
	return newError(CodeUnsupported, http.StatusNotFound, "unsupported operation")
}

// fail sends err in the spec's JSON form. Errors that are not *Error are faults of the
// registry: they are logged and answered 500 without details.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if r.Context().Err() != nil {
			// The client went away; nobody reads the answer.
			h.log.Info("registry: request abandoned by client", "method", r.Method, "path", r.URL.Path, "err", err)
		} else {
			h.log.Error("registry: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		e = newError(CodeUnknown, http.StatusInternalServerError, "internal server error")
	}
	if e.Status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" && e.Header.Get("WWW-Authenticate") == "" {
		e = e.withHeader("WWW-Authenticate", h.challenge(r))
	}
	writeError(w, e)
}

// challenge is the Basic challenge ECR sends (iam-ecr-semantics.md §2.2).
func (h *Handler) challenge(r *http.Request) string {
	realm := h.realm
	if realm == "" {
		scheme := "https"
		if r.TLS == nil {
			scheme = "http"
		}
		realm = scheme + "://" + r.Host + "/"
	}
	return `Basic realm="` + realm + `",service="ecr.amazonaws.com"`
}

// repository looks up the route's repository. With create (upload POST, manifest PUT) and
// CreateOnPush on, a missing repository is created, once ecr:CreateRepository is allowed.
func (h *Handler) repository(r *http.Request, rt route, create bool) (store.Repository, error) {
	if rt.repo != nil {
		return *rt.repo, nil // read before authorization, in this request
	}
	ctx := r.Context()
	repo, err := h.meta.GetRepository(ctx, rt.account, rt.name)
	if err == nil {
		return repo, nil
	}
	if !errors.Is(err, store.ErrRepositoryNotFound) {
		return store.Repository{}, err
	}
	if !create || !h.createOnPush {
		return store.Repository{}, nameUnknown(rt.account, rt.name)
	}
	if err := h.allowed(r, h.accessTo(rt.account, rt.name, nil, createRepositoryAction)); err != nil {
		return store.Repository{}, err
	}
	repo, err = h.meta.CreateRepository(ctx, rt.account, rt.name)
	if errors.Is(err, store.ErrRepositoryExists) { // created concurrently
		repo, err = h.meta.GetRepository(ctx, rt.account, rt.name)
	}
	if err == nil {
		h.log.Info("registry: repository created on push", "account", rt.account, "name", rt.name)
	}
	return repo, err
}

func nameUnknown(account, name string) *Error {
	return newError(CodeNameUnknown, http.StatusNotFound,
		"The repository with name '%s' does not exist in the registry with id '%s'", name, account).
		withDetail(map[string]string{"name": account + "/" + name})
}

// writeJSON answers status with v as JSON of the given media type.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, mediaType string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return nil
}

// noBody answers status with an empty body.
func noBody(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// detach keeps the request's values but not its cancellation, for the few steps that must
// finish once started (committing metadata after bytes were published).
func detach(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

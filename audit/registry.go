package audit

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/awsproto"
)

// RegistryCall is what the registry's routing says a /v2/ request is.
type RegistryCall struct {
	Action     string // ECR action, e.g. ecr:BatchGetImage; "" for the ping
	Operation  string // the registry operation, e.g. "manifest get"
	Account    string // owner of the repository; "" for ping and catalog
	Repository string // NAME
	Reference  string // tag or digest of a manifest, digest of a blob, upload id
	ReadOnly   bool
}

// RegistryConfig configures the registry's audit middleware.
type RegistryConfig struct {
	Region string
	// Client derives the request context (request id, source IP) when the request does not
	// carry one already; the same context then serves authorization (aws:SourceIp).
	Client awsproto.ClientInfo
	// Describe routes a request without serving it; ok false for paths that are no
	// registry operation (the event then names the method and path). It is asked only for
	// requests whose call the registry did not note while serving them (NoteCall).
	Describe func(r *http.Request) (RegistryCall, bool)
}

// Registry wraps the /v2/ handler so that every request becomes one event: who called
// (as the Authenticate hook noted), what ECR action on which repository, the decision and
// how the request ended.
func (w *Writer) Registry(cfg RegistryConfig, next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		rc, ok := awsproto.RequestContextFrom(ctx)
		if !ok {
			rc = cfg.Client.NewRequestContext(r)
			ctx = awsproto.WithRequestContext(ctx, rc)
		}
		n := &note{}
		// The Authenticate hook fills the note's caller slot: authorization reads the caller
		// from there (auth.CallerFrom) and so does the event, without another request copy.
		ctx = auth.WithCallerSlot(context.WithValue(ctx, noteKey{}, n), &n.slot)
		sw := &statusWriter{ResponseWriter: rw}
		next.ServeHTTP(sw, r.WithContext(ctx))
		w.Record(registryEvent(cfg, r, rc, n, sw, &w.identities))
	})
}

func registryEvent(cfg RegistryConfig, r *http.Request, rc awsproto.RequestContext, n *note, sw *statusWriter, ids *identityCache) *Event {
	caller, denied, deniedAction, call, ok := n.get()
	if !ok && cfg.Describe != nil {
		call, ok = cfg.Describe(r)
	}
	id, method := identityOf(caller)
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	e := &Event{
		UserIdentity:    id,
		EventTime:       rc.ReceivedAt,
		EventSource:     "ecr.amazonaws.com",
		AWSRegion:       cfg.Region,
		SourceIPAddress: addrString(rc),
		UserAgent:       rc.UserAgent,
		RequestID:       rc.RequestID,
		ReadOnly:        r.Method == http.MethodGet || r.Method == http.MethodHead,
		AdditionalEventData: AdditionalData{Decision: Allow, Protocol: "registry", HTTPStatus: status,
			AuthMethod: method, DurationMS: time.Since(rc.ReceivedAt).Milliseconds()},
		RequestParameters:  map[string]any{},
		RecipientAccountID: id.AccountID,
	}
	if e.EventTime.IsZero() {
		e.EventTime = time.Now()
	}
	e.identityJSON = ids.encoded(caller, &e.UserIdentity)
	if r.TLS != nil {
		e.TLSDetails = &TLSDetails{ClientProvidedHostHeader: r.Host}
	}
	if ok {
		e.AdditionalEventData.Action = call.Action
		e.EventName = eventName(call)
		e.ReadOnly = call.ReadOnly
		if call.Account != "" {
			e.RecipientAccountID = call.Account
			e.RequestParameters["registryId"] = call.Account
			e.RequestParameters["repositoryName"] = call.Repository
			e.AdditionalEventData.Repository = call.Repository
			e.Resources = []Resource{{ARN: "arn:aws:ecr:" + cfg.Region + ":" + call.Account + ":repository/" + call.Repository,
				AccountID: call.Account, Type: "AWS::ECR::Repository"}}
		}
		if call.Reference != "" {
			e.RequestParameters["reference"] = call.Reference
		}
	} else {
		e.EventName = "Registry" + r.Method
		e.RequestParameters["path"] = limitString(r.URL.Path, maxValue)
	}
	if status >= 400 {
		e.ErrorCode, e.ErrorMessage = sw.ociError()
		if e.ErrorCode == "" {
			e.ErrorCode = http.StatusText(status)
		}
	}
	// A request is denied when it was answered 401 or 403. A denial noted along the way of a
	// request that went on (a cross-repository mount falling back to an upload, a catalog
	// leaving out a repository) does not make the request denied.
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		e.AdditionalEventData.Decision = Deny
		if denied != "" {
			e.AdditionalEventData.Action = deniedAction
			e.ErrorCode, e.ErrorMessage = "AccessDenied", denied
		}
	}
	return e
}

// eventName is the ECR operation the request counts as, or a name for the registry's own
// operations (the ping).
func eventName(c RegistryCall) string {
	if op, ok := strings.CutPrefix(c.Action, "ecr:"); ok {
		return op
	}
	if c.Operation == "ping" {
		return "RegistryPing"
	}
	name := "Registry"
	for _, w := range strings.Fields(c.Operation) {
		name += strings.ToUpper(w[:1]) + w[1:]
	}
	return name
}

func limitString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

type noteKey struct{}

// note is what the hooks learn about a request while it is served.
type note struct {
	mu sync.Mutex
	// slot is the request's caller as authentication set it (auth.CallerSlot); caller, when
	// noted (NoteCaller), takes its place.
	slot         auth.CallerSlot
	caller       *auth.Caller
	denied       string
	deniedAction string
	call         RegistryCall
	routed       bool // call is set
}

func (n *note) get() (*auth.Caller, string, string, RegistryCall, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	caller := n.caller
	if caller == nil {
		caller = n.slot.Caller()
	}
	return caller, n.denied, n.deniedAction, n.call, n.routed
}

// NoteCall tells the registry's audit middleware what the request is, as the registry
// routed it (the middleware then does not ask RegistryConfig.Describe).
func NoteCall(ctx context.Context, c RegistryCall) {
	if n, ok := ctx.Value(noteKey{}).(*note); ok {
		n.mu.Lock()
		n.call, n.routed = c, true
		n.mu.Unlock()
	}
}

// NoteCaller tells the registry's audit middleware who the request's caller is, when
// authentication did not set the caller slot the middleware adds to the request's context
// (auth.CallerSlotFrom); a noted caller takes the slot's place in the event.
func NoteCaller(ctx context.Context, c *auth.Caller) {
	if n, ok := ctx.Value(noteKey{}).(*note); ok {
		n.mu.Lock()
		n.caller = c
		n.mu.Unlock()
	}
}

// NoteDenied tells the registry's audit middleware that action was denied with message
// (the first denial of a request is kept).
func NoteDenied(ctx context.Context, action, message string) {
	if n, ok := ctx.Value(noteKey{}).(*note); ok {
		n.mu.Lock()
		if n.denied == "" {
			n.denied, n.deniedAction = message, action
		}
		n.mu.Unlock()
	}
}

// statusWriter records the status and keeps the start of an error body (to name the OCI
// error code in the event).
type statusWriter struct {
	http.ResponseWriter
	status  int
	errBody []byte
}

const maxErrBody = 4096

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if s.status >= 400 && len(s.errBody) < maxErrBody {
		s.errBody = append(s.errBody, p[:min(len(p), maxErrBody-len(s.errBody))]...)
	}
	return s.ResponseWriter.Write(p)
}

// ReadFrom keeps the underlying writer's sendfile path for blob downloads.
func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok && s.status < 400 {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{s}, r)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) ociError() (code, message string) {
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(s.errBody, &body) != nil || len(body.Errors) == 0 {
		return "", ""
	}
	return body.Errors[0].Code, body.Errors[0].Message
}

package awsproto

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"time"
)

// Call is what an operation handler may want to know about the request besides its input.
type Call struct {
	Route
	Request RequestContext
}

type callKey struct{}

// CallFrom returns the Call of the request a handler is serving.
func CallFrom(ctx context.Context) (Call, bool) {
	c, ok := ctx.Value(callKey{}).(Call)
	return c, ok
}

// EndpointConfig configures an Endpoint.
type EndpointConfig struct {
	Limits Limits
	Client ClientInfo
	// Authenticate, when set, runs for every AWS API request after classification and before
	// the input is decoded. Its error (e.g. the SigV4 verifier's MissingAuthenticationToken)
	// is answered in the protocol and format of the request's service; the context it returns
	// (e.g. carrying the caller) is the one the handler gets.
	Authenticate func(ctx context.Context, r *http.Request, call Call) (context.Context, error)
	// ErrorMappers convert domain errors that ToError does not know by itself (*Error,
	// AWSErrorer, sigv4-style and SDK errors). Anything left unmapped is answered as
	// InternalFailure.
	ErrorMappers []ErrorMapper
	// NotFound serves requests that are not AWS API calls (the registry's /v2 included);
	// nil answers them 404.
	NotFound http.Handler
	// Observe, when set, is told how every AWS API call ended (for the audit trail and
	// metrics), with the context the handler got (carrying what Authenticate added).
	Observe func(ctx context.Context, o Outcome)
	Logger  *slog.Logger // nil: slog.Default()
}

// Outcome is how one AWS API call ended.
type Outcome struct {
	Call     Call
	Status   int           // HTTP status sent
	Err      *Error        // the error as sent; nil on success
	Cause    error         // the error as returned inside Coffer (may hold internals: log, never send)
	Duration time.Duration // from receipt to the end of the answer
}

// Endpoint serves the AWS APIs (ECR, Organizations, IAM, STS) on one http.Handler: it
// classifies each request, decodes the input of the registered operation, calls its
// handler and encodes the output or the error in the request's protocol. Register
// operations with Handle before serving.
type Endpoint struct {
	cfg EndpointConfig
	ops map[opKey]operation
}

type opKey struct {
	service   *Service
	operation string
}

type operation func(ctx context.Context, rt Route) (any, error)

// NewEndpoint returns an Endpoint with no operations.
func NewEndpoint(cfg EndpointConfig) *Endpoint {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Endpoint{cfg: cfg, ops: map[opKey]operation{}}
}

// Handle registers fn as operation op of svc. The input is decoded into a new In (query
// parameters for IAM and STS, the JSON body for ECR and Organizations), and the *Out fn
// returns is encoded as the answer; use NoOutput for operations that return nothing. Handle
// panics if the operation is registered twice.
func Handle[In, Out any](e *Endpoint, svc *Service, op string, fn func(ctx context.Context, in *In) (*Out, error)) {
	if svc.Protocol == ProtocolQuery && reflect.TypeFor[In]().Kind() != reflect.Struct {
		panic(fmt.Sprintf("awsproto: %s input must be a struct, not %s", svc.Action(op), reflect.TypeFor[In]()))
	}
	key := opKey{svc, op}
	if _, dup := e.ops[key]; dup {
		panic(fmt.Sprintf("awsproto: %s registered twice", svc.Action(op)))
	}
	e.ops[key] = func(ctx context.Context, rt Route) (any, error) {
		in := new(In)
		var err error
		if svc.Protocol == ProtocolQuery {
			err = DecodeQuery(rt.Params, in)
		} else {
			err = DecodeJSON(rt.Body, in)
		}
		if err != nil {
			return nil, err
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			return NoOutput{}, nil
		}
		return out, nil
	}
}

// Operations lists the IAM actions registered, e.g. "iam:CreateUser".
func (e *Endpoint) Operations() []string {
	out := make([]string, 0, len(e.ops))
	for k := range e.ops {
		out = append(out, k.service.Action(k.operation))
	}
	return out
}

func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rc := e.cfg.Client.NewRequestContext(r)
	rt, classifyErr := Classify(r, e.cfg.Limits)
	if rt.Protocol == ProtocolRegistry || rt.Protocol == ProtocolUnknown {
		if e.cfg.NotFound != nil {
			e.cfg.NotFound.ServeHTTP(w, r)
		} else {
			http.NotFound(w, r)
		}
		return
	}
	call := Call{Route: rt, Request: rc}
	ctx := context.WithValue(WithRequestContext(r.Context(), rc), callKey{}, call)
	tw := &trackingWriter{ResponseWriter: w}
	outcome := Outcome{Call: call}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			e.cfg.Logger.Error("awsproto: handler panic", "action", rt.Action(),
				"request_id", rc.RequestID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			outcome.Err, outcome.Cause = InternalFailure(), fmt.Errorf("panic: %v", p)
			if !tw.wrote {
				WriteError(tw, rt, rc.RequestID, outcome.Err)
			}
		}
		if e.cfg.Observe != nil {
			outcome.Status = tw.status
			outcome.Duration = time.Since(start)
			e.cfg.Observe(ctx, outcome)
		}
	}()

	out, err := e.run(&ctx, r, call, classifyErr)
	if err == nil {
		if rt.Protocol == ProtocolJSON {
			err = WriteJSONResponse(tw, rc.RequestID, out)
		} else {
			err = WriteQueryResponse(tw, rt.Service, rt.Operation, rc.RequestID, out)
		}
	}
	if err != nil {
		outcome.Cause = err
		outcome.Err = ToError(err, e.cfg.ErrorMappers...)
		if outcome.Err.HTTPStatus() >= 500 {
			e.cfg.Logger.Error("awsproto: request failed", "action", rt.Action(),
				"request_id", rc.RequestID, "error", err.Error())
		}
		WriteError(tw, rt, rc.RequestID, outcome.Err)
	}
}

// run authenticates, finds the operation and calls it; *ctx becomes the context the
// authenticator returned, so that observers see the caller too.
func (e *Endpoint) run(ctx *context.Context, r *http.Request, call Call, classifyErr *Error) (any, error) {
	if classifyErr != nil {
		return nil, classifyErr
	}
	if e.cfg.Authenticate != nil {
		authCtx, err := e.cfg.Authenticate(*ctx, r, call)
		if err != nil {
			return nil, err
		}
		*ctx = authCtx
	}
	if err := checkVersion(call.Route); err != nil {
		return nil, err
	}
	op, ok := e.ops[opKey{call.Service, call.Operation}]
	if !ok {
		if call.Protocol == ProtocolJSON {
			return nil, UnknownOperation(call.Target)
		}
		return nil, InvalidAction(call.Operation)
	}
	return op(*ctx, call.Route)
}

// checkVersion refuses a query request whose Version names another API version than the
// service it was routed to.
func checkVersion(rt Route) *Error {
	if rt.Protocol != ProtocolQuery {
		return nil
	}
	if v := rt.Params.Get("Version"); v != "" && v != rt.Service.APIVersion {
		return &Error{Code: "InvalidAction", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("Could not find operation %s for version %s", rt.Operation, v)}
	}
	return nil
}

// WriteError sends e in the protocol of rt: JSON for ECR and Organizations, XML for IAM
// and STS (and for requests whose service is unknown).
func WriteError(w http.ResponseWriter, rt Route, requestID string, e *Error) {
	if rt.Protocol == ProtocolJSON {
		WriteJSONError(w, requestID, e)
		return
	}
	WriteQueryError(w, rt.Service, requestID, e)
}

// trackingWriter remembers whether a response was started, so that a panic after the
// headers went out does not try to write a second status.
type trackingWriter struct {
	http.ResponseWriter
	wrote  bool
	status int
}

func (t *trackingWriter) WriteHeader(status int) {
	if !t.wrote {
		t.status = status
	}
	t.wrote = true
	t.ResponseWriter.WriteHeader(status)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	if !t.wrote {
		t.status = http.StatusOK
	}
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

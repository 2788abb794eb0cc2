package awsproto

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Route is what classifying a request on the shared listener found out, once: the protocol,
// the AWS service and operation, and (for AWS requests) the body and query parameters.
type Route struct {
	Protocol  Protocol
	Service   *Service // nil for the registry and for unknown requests
	Operation string   // e.g. "CreateUser"; "" when the request names none
	Target    string   // JSON: the whole X-Amz-Target value
	// ScopeService is the service named in the SigV4 credential scope ("" when unsigned).
	// AWS refuses a signature scoped to another service than the one called; the verifier
	// can compare it with Service.Name.
	ScopeService string
	Params       url.Values // query protocol: URL query merged with the form body
	Body         []byte     // AWS requests: the body as read; r.Body is rewound to the same bytes
}

// Action is the IAM action of the route, e.g. "ecr:BatchGetImage", or "" if unknown.
func (rt Route) Action() string {
	if rt.Service == nil || rt.Operation == "" {
		return ""
	}
	return rt.Service.Action(rt.Operation)
}

// Limits bounds how much of a request body Classify reads.
type Limits struct {
	MaxJSONBody  int64 // default 32 MiB: ECR UploadLayerPart carries layer parts in base64
	MaxQueryBody int64 // default 1 MiB: IAM policy documents are at most 128 KiB
}

func (l Limits) jsonMax() int64 {
	if l.MaxJSONBody > 0 {
		return l.MaxJSONBody
	}
	return 32 << 20
}

func (l Limits) queryMax() int64 {
	if l.MaxQueryBody > 0 {
		return l.MaxQueryBody
	}
	return 1 << 20
}

const (
	headerTarget      = "X-Amz-Target"
	formContentType   = "application/x-www-form-urlencoded"
	jsonContentType   = "application/x-amz-json-1.1"
	registryPathRoot  = "/v2"
	credentialParam   = "X-Amz-Credential"
	credentialKeyword = "Credential="
)

// Classify decides, once per request, which API a request on the shared listener is for:
//
//   - a path /v2 or /v2/... is the OCI registry;
//   - an X-Amz-Target header is AWS JSON 1.1; its prefix names the service (ECR,
//     Organizations) and its suffix the operation;
//   - an Action parameter (form body of a POST, or URL query) is the AWS query protocol; the
//     service is the one named in the SigV4 credential scope when that is iam or sts, else the
//     one whose API version the Version parameter names, else STS for STS's operation names
//     and IAM for everything else, so that unsigned requests still get their errors in the
//     format of the right service.
//
// Anything else is ProtocolUnknown. The error, when not nil, is an *Error to answer in the
// route's protocol (unknown JSON target, a body over the limit, an unreadable form, a signed
// query request without Action).
func Classify(r *http.Request, limits Limits) (Route, *Error) {
	if r.URL.Path == registryPathRoot || strings.HasPrefix(r.URL.Path, registryPathRoot+"/") {
		return Route{Protocol: ProtocolRegistry}, nil
	}
	if target := r.Header.Get(headerTarget); target != "" {
		return classifyJSON(r, target, limits)
	}
	return classifyQuery(r, limits)
}

func classifyJSON(r *http.Request, target string, limits Limits) (Route, *Error) {
	rt := Route{Protocol: ProtocolJSON, Target: target, ScopeService: scopeService(r)}
	prefix, op, ok := strings.Cut(target, ".")
	if ok {
		rt.Service = serviceByTargetPrefix(prefix)
		rt.Operation = op
	}
	body, err := readBody(r, limits.jsonMax())
	rt.Body = body
	if err != nil {
		return rt, err
	}
	if rt.Service == nil || op == "" {
		return rt, UnknownOperation(target)
	}
	return rt, nil
}

func classifyQuery(r *http.Request, limits Limits) (Route, *Error) {
	if r.URL.Path != "/" || (r.Method != http.MethodGet && r.Method != http.MethodPost) {
		return Route{}, nil
	}
	params := r.URL.Query()
	var body []byte
	if r.Method == http.MethodPost && isForm(r.Header.Get("Content-Type")) {
		var err *Error
		body, err = readBody(r, limits.queryMax())
		if err != nil {
			return Route{Protocol: ProtocolQuery, Service: queryService(r, params), Body: body, ScopeService: scopeService(r)}, err
		}
		form, perr := url.ParseQuery(string(body))
		if perr != nil {
			rt := Route{Protocol: ProtocolQuery, Service: queryService(r, params), Body: body, ScopeService: scopeService(r)}
			return rt, &Error{Code: "MalformedQueryString", Status: http.StatusBadRequest,
				Message: "The request body is not a valid form-encoded query string."}
		}
		for k, vs := range form {
			params[k] = vs // the body wins over the URL for the same name
		}
	}
	action := params.Get("Action")
	scoped := scopeService(r)
	if action == "" {
		// Only a request signed for iam or sts is recognisably a query call without Action.
		if s := serviceByName(scoped); s != nil && s.Protocol == ProtocolQuery {
			return Route{Protocol: ProtocolQuery, Service: s, Params: params, Body: body, ScopeService: scoped}, MissingAction()
		}
		return Route{}, nil
	}
	rt := Route{Protocol: ProtocolQuery, Service: queryService(r, params), Operation: action,
		Params: params, Body: body, ScopeService: scoped}
	return rt, nil
}

// queryService picks IAM or STS for a query request (see Classify).
func queryService(r *http.Request, params url.Values) *Service {
	if s := serviceByName(scopeService(r)); s != nil && s.Protocol == ProtocolQuery {
		return s
	}
	switch params.Get("Version") {
	case STS.APIVersion:
		return STS
	case IAM.APIVersion:
		return IAM
	}
	if stsOperations[params.Get("Action")] {
		return STS
	}
	return IAM
}

func isForm(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == formContentType
}

// readBody reads at most limit bytes of the body and puts an identical reader back on r so
// that the signature verifier can hash the same bytes.
func readBody(r *http.Request, limit int64) ([]byte, *Error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	r.Body.Close()
	if int64(len(body)) > limit {
		r.Body = io.NopCloser(bytes.NewReader(nil))
		return nil, RequestTooLarge(limit)
	}
	if err != nil {
		r.Body = io.NopCloser(bytes.NewReader(nil))
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, RequestTooLarge(maxErr.Limit)
		}
		return nil, &Error{Code: "IncompleteBody", Status: http.StatusBadRequest,
			Message: "The request body could not be read completely."}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return body, nil
}

// scopeService returns the service name of the SigV4 credential scope
// ("AKID/20261124/us-east-1/iam/aws4_request") from the Authorization header or the
// X-Amz-Credential query parameter, or "" when there is none. Nothing is verified here.
func scopeService(r *http.Request) string {
	credential := r.URL.Query().Get(credentialParam)
	if auth := r.Header.Get("Authorization"); auth != "" {
		if i := strings.Index(auth, credentialKeyword); i >= 0 {
			credential = auth[i+len(credentialKeyword):]
			if j := strings.IndexAny(credential, ", "); j >= 0 {
				credential = credential[:j]
			}
		}
	}
	parts := strings.Split(credential, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return ""
	}
	return parts[3]
}

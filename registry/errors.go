package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Code is an error code of the OCI Distribution Spec (section "Error Codes").
type Code string

// The OCI error codes, plus UNKNOWN for faults of the registry itself.
const (
	CodeBlobUnknown         Code = "BLOB_UNKNOWN"
	CodeBlobUploadInvalid   Code = "BLOB_UPLOAD_INVALID"
	CodeBlobUploadUnknown   Code = "BLOB_UPLOAD_UNKNOWN"
	CodeDigestInvalid       Code = "DIGEST_INVALID"
	CodeManifestBlobUnknown Code = "MANIFEST_BLOB_UNKNOWN"
	CodeManifestInvalid     Code = "MANIFEST_INVALID"
	CodeManifestUnknown     Code = "MANIFEST_UNKNOWN"
	CodeNameInvalid         Code = "NAME_INVALID"
	CodeNameUnknown         Code = "NAME_UNKNOWN"
	CodeSizeInvalid         Code = "SIZE_INVALID"
	CodeUnauthorized        Code = "UNAUTHORIZED"
	CodeDenied              Code = "DENIED"
	CodeUnsupported         Code = "UNSUPPORTED"
	CodeTooManyRequests     Code = "TOOMANYREQUESTS"
	CodeUnknown             Code = "UNKNOWN"
	// CodeTagInvalid is ECR's answer to a push that would move an immutable tag.
	CodeTagInvalid Code = "TAG_INVALID"
)

// Error is a registry error: an OCI code, the HTTP status it is sent with, a message for
// people and an optional structured detail. It is turned into the spec's JSON form once,
// by the handler, at the edge.
type Error struct {
	Code    Code
	Status  int
	Message string
	Detail  any
	// Header holds extra response headers (a Range on 416, a challenge on 401).
	Header http.Header
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

func newError(code Code, status int, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) withDetail(detail any) *Error {
	e.Detail = detail
	return e
}

func (e *Error) withHeader(key, value string) *Error {
	if e.Header == nil {
		e.Header = http.Header{}
	}
	e.Header.Set(key, value)
	return e
}

// Unauthorized is the error an Authenticate or Authorize hook returns when the caller must
// (re)authenticate: 401 UNAUTHORIZED with a Basic challenge.
func Unauthorized(message string) *Error {
	return &Error{Code: CodeUnauthorized, Status: http.StatusUnauthorized, Message: message}
}

// Denied is the error an Authorize hook returns when the caller is known but not allowed:
// 403 DENIED carrying the hook's message (for IAM, "User: ... is not authorized to perform ...").
func Denied(message string) *Error {
	return &Error{Code: CodeDenied, Status: http.StatusForbidden, Message: message}
}

// TooManyRequests is the error a hook returns to throttle a caller: 429 TOOMANYREQUESTS.
func TooManyRequests(message string) *Error {
	return &Error{Code: CodeTooManyRequests, Status: http.StatusTooManyRequests, Message: message}
}

// asHookError turns whatever a hook returned into a registry error. A hook's *Error passes
// through; any other error becomes the fallback code with the error's text, so a hook that
// fails for its own reasons still denies (fail closed).
func asHookError(err error, fallback func(string) *Error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return fallback(err.Error())
}

type wireError struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

type wireErrors struct {
	Errors []wireError `json:"errors"`
}

// writeError sends e in the spec's form: {"errors":[{"code","message","detail"}]}.
func writeError(w http.ResponseWriter, e *Error) {
	body, err := json.Marshal(wireErrors{Errors: []wireError{{Code: e.Code, Message: e.Message, Detail: e.Detail}}})
	if err != nil { // a Detail that does not marshal: drop it rather than fail
		body, _ = json.Marshal(wireErrors{Errors: []wireError{{Code: e.Code, Message: e.Message}}})
	}
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

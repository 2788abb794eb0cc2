package sigv4

import (
	"fmt"
	"net/http"
	"time"
)

// AWS error codes of the query protocol (IAM, STS): the value of <Code> in an
// <ErrorResponse>. JSON-protocol services (ECR, Organizations) use the names
// returned by Error.JSONCode instead.
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationToken"
	CodeIncompleteSignature        = "IncompleteSignature"
	CodeInvalidClientTokenID       = "InvalidClientTokenId"
	CodeSignatureDoesNotMatch      = "SignatureDoesNotMatch"
	CodeRequestExpired             = "RequestExpired"
	CodeExpiredToken               = "ExpiredToken"
)

// jsonCodes maps each query-protocol code to the name JSON 1.0/1.1 services
// put in "__type" for the same failure.
var jsonCodes = map[string]string{
	CodeMissingAuthenticationToken: "MissingAuthenticationTokenException",
	CodeIncompleteSignature:        "IncompleteSignatureException",
	CodeInvalidClientTokenID:       "UnrecognizedClientException",
	CodeSignatureDoesNotMatch:      "InvalidSignatureException",
	CodeRequestExpired:             "RequestExpired",
	CodeExpiredToken:               "ExpiredTokenException",
}

// Error is an authentication failure as AWS reports it: a code, a message and
// an HTTP status. The API layer chooses the wire form (XML or JSON).
type Error struct {
	code    string
	message string
	status  int
	// canonicalRequest is set on signature mismatches, for server-side logs
	// only; AWS's query services do not echo it to the caller.
	canonicalRequest string
}

// Code is the query-protocol error code, e.g. "SignatureDoesNotMatch".
func (e *Error) Code() string { return e.code }

// JSONCode is the error name JSON-protocol services use, e.g.
// "InvalidSignatureException" for CodeSignatureDoesNotMatch.
func (e *Error) JSONCode() string { return jsonCodes[e.code] }

// Message is the human-readable text AWS sends with the code.
func (e *Error) Message() string { return e.message }

// HTTPStatus is the status code of the error response: 400 for
// IncompleteSignature and RequestExpired (and for a request signed both in the
// header and the query), 403 for the rest, as AWS's query APIs answer.
func (e *Error) HTTPStatus() int { return e.status }

// CanonicalRequest is the canonical request the verifier computed when the
// signature did not match (empty for other errors). Log it; do not send it.
func (e *Error) CanonicalRequest() string { return e.canonicalRequest }

func (e *Error) Error() string { return "sigv4: " + e.code + ": " + e.message }

// Is makes errors.Is(err, ErrSignatureDoesNotMatch) (and the other Err*
// sentinels) true for every *Error carrying that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.message == "" && t.code == e.code
}

// Sentinels for errors.Is: they match any *Error with the same code.
var (
	ErrMissingAuthenticationToken = &Error{code: CodeMissingAuthenticationToken}
	ErrIncompleteSignature        = &Error{code: CodeIncompleteSignature}
	ErrInvalidClientTokenID       = &Error{code: CodeInvalidClientTokenID}
	ErrSignatureDoesNotMatch      = &Error{code: CodeSignatureDoesNotMatch}
	ErrRequestExpired             = &Error{code: CodeRequestExpired}
	ErrExpiredToken               = &Error{code: CodeExpiredToken}
)

const (
	msgMissingToken     = "Request is missing Authentication Token"
	msgInvalidToken     = "The security token included in the request is invalid."
	msgExpiredToken     = "The security token included in the request is expired"
	msgRequestExpired   = "Request has expired."
	msgSignatureInvalid = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

func missingToken() *Error {
	return &Error{code: CodeMissingAuthenticationToken, message: msgMissingToken, status: http.StatusForbidden}
}

func incomplete(message string) *Error {
	return &Error{code: CodeIncompleteSignature, message: message, status: http.StatusBadRequest}
}

func invalidToken() *Error {
	return &Error{code: CodeInvalidClientTokenID, message: msgInvalidToken, status: http.StatusForbidden}
}

func expiredToken() *Error {
	return &Error{code: CodeExpiredToken, message: msgExpiredToken, status: http.StatusForbidden}
}

func requestExpired() *Error {
	return &Error{code: CodeRequestExpired, message: msgRequestExpired, status: http.StatusBadRequest}
}

func mismatch(message string) *Error {
	return &Error{code: CodeSignatureDoesNotMatch, message: message, status: http.StatusForbidden}
}

func signatureMismatch(canonicalRequest string) *Error {
	e := mismatch(msgSignatureInvalid)
	e.canonicalRequest = canonicalRequest
	return e
}

// skewed reports a request date more than the allowed skew away from now,
// in the wording AWS uses for both directions.
func skewed(signedAt, now time.Time, limit time.Duration) *Error {
	if signedAt.Before(now) {
		return mismatch(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
			signedAt.Format(amzDateLayout), now.Add(-limit).Format(amzDateLayout),
			now.Format(amzDateLayout), minutes(limit)))
	}
	return mismatch(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s.)",
		signedAt.Format(amzDateLayout), now.Add(limit).Format(amzDateLayout),
		now.Format(amzDateLayout), minutes(limit)))
}

func minutes(d time.Duration) string {
	return fmt.Sprintf("%d min", int(d/time.Minute))
}

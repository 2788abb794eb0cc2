package awsproto

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"
)

// Fault says who AWS blames for an error: the caller (Sender) or the service (Receiver).
// The query protocol sends it as <Type>; JSON protocols imply it by the status class.
type Fault string

const (
	Sender   Fault = "Sender"
	Receiver Fault = "Receiver"
)

// Error is an AWS API error as it goes on the wire, whatever the protocol.
type Error struct {
	Code    string // e.g. "NoSuchEntity", "RepositoryNotFoundException"
	Message string
	Status  int   // HTTP status; 0 means 400 for Sender faults and 500 for Receiver faults
	Fault   Fault // "" means Sender below 500 and Receiver from 500 up
	// JSONCode, when set, replaces Code in JSON-protocol answers: a few failures have
	// different names there (query "InvalidClientTokenId" is JSON "UnrecognizedClientException").
	JSONCode string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// modelStatus holds the HTTP status of the error codes whose botocore models (IAM, STS)
// declare one other than 400. ECR and Organizations declare none: their client errors are
// 400, their server faults 500.
var modelStatus = map[string]int{
	"ConcurrentModification": 409, "ReportExpired": 410, "ReportNotPresent": 410, "ReportInProgress": 404,
	"DeleteConflict": 409, "DuplicateCertificate": 409, "EntityAlreadyExists": 409,
	"EntityTemporarilyUnmodifiable": 409, "FeatureDisabled": 404, "FeatureEnabled": 409,
	"InvalidAuthenticationCode": 403, "LimitExceeded": 409, "NoSuchEntity": 404, "PolicyEvaluation": 500,
	"ReportGenerationLimitExceeded": 409, "ServiceFailure": 500, "NotSupportedService": 404,
	"IDPRejectedClaim": 403, "OutboundWebIdentityFederationDisabledException": 403,
	"RegionDisabledException": 403, "SessionDurationEscalationException": 403,
	"ServiceException": 500, "ServerException": 500,
}

// HTTPStatus is the status the error is answered with: Status if set, else the one the
// service model gives the code, else 400 for Sender and 500 for Receiver faults.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	if s, ok := modelStatus[e.Code]; ok {
		return s
	}
	switch {
	case e.Fault == Receiver:
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}

// FaultType is Sender or Receiver, derived from the status when Fault is unset.
func (e *Error) FaultType() Fault {
	if e.Fault != "" {
		return e.Fault
	}
	if e.HTTPStatus() >= 500 {
		return Receiver
	}
	return Sender
}

// codeFor returns the code the given protocol puts on the wire.
func (e *Error) codeFor(p Protocol) string {
	if p == ProtocolJSON && e.JSONCode != "" {
		return e.JSONCode
	}
	return e.Code
}

// Errorf builds an Error with a formatted message.
func Errorf(code string, status int, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

// AWSErrorer is implemented by domain errors that know their AWS wire form.
type AWSErrorer interface {
	AWSError() (code, message string, status int)
}

// codedError matches errors that expose code, message and status as methods, as the SigV4
// verifier's errors do; jsonCoded adds the JSON-protocol name when it differs.
type codedError interface {
	Code() string
	Message() string
	HTTPStatus() int
}

type jsonCoded interface{ JSONCode() string }

// ErrorMapper converts a foreign error to its wire form; ok is false for errors it does not know.
type ErrorMapper func(error) (e *Error, ok bool)

// ToError converts any error to its wire form, once, at the edge. It recognises (in order)
// *Error, AWSErrorer, errors with Code/Message/HTTPStatus methods (the SigV4 verifier's),
// the SDK's modelled errors (smithy.APIError), then asks the mappers. A deadline that ran
// out becomes ServiceUnavailable (503, which clients retry). What
// none of them knows becomes InternalFailure with a fixed message, so no internals leak.
func ToError(err error, mappers ...ErrorMapper) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ae AWSErrorer
	if errors.As(err, &ae) {
		code, msg, status := ae.AWSError()
		return &Error{Code: code, Message: msg, Status: status}
	}
	var ce codedError
	if errors.As(err, &ce) && ce.Code() != "" {
		out := &Error{Code: ce.Code(), Message: ce.Message(), Status: ce.HTTPStatus()}
		if jc, ok := ce.(jsonCoded); ok {
			out.JSONCode = jc.JSONCode()
		}
		return out
	}
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() != "" {
		// The SDK's own error types (e.g. *ecrtypes.RepositoryNotFoundException) can be
		// returned as they are.
		out := &Error{Code: api.ErrorCode(), Message: api.ErrorMessage()}
		if api.ErrorFault() == smithy.FaultServer {
			out.Fault = Receiver
		}
		return out
	}
	for _, m := range mappers {
		if m == nil {
			continue
		}
		if out, ok := m(err); ok && out != nil {
			return out
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ServiceUnavailable() // a store or peer too slow right now: worth a retry
	}
	return InternalFailure()
}

// InternalFailure is AWS's answer to an unexpected server-side failure.
func InternalFailure() *Error {
	return &Error{Code: "InternalFailure", Status: http.StatusInternalServerError, Fault: Receiver,
		Message: "The request processing has failed because of an unknown error, exception or failure."}
}

// ServiceUnavailable is AWS's answer when the service cannot take the request now.
func ServiceUnavailable() *Error {
	return &Error{Code: "ServiceUnavailable", Status: http.StatusServiceUnavailable, Fault: Receiver,
		Message: "The request has failed due to a temporary failure of the server."}
}

// InvalidAction is the query protocol's answer to an Action the service does not have.
func InvalidAction(action string) *Error {
	return &Error{Code: "InvalidAction", Status: http.StatusBadRequest,
		Message: fmt.Sprintf("The action %s is not valid for this web service.", action)}
}

// MissingAction answers a query request that names no Action.
func MissingAction() *Error {
	return &Error{Code: "MissingAction", Status: http.StatusBadRequest,
		Message: "The request must contain the parameter Action."}
}

// UnknownOperation is the JSON protocol's answer to an X-Amz-Target the service does not have.
func UnknownOperation(operation string) *Error {
	return &Error{Code: "UnknownOperationException", Status: http.StatusBadRequest,
		Message: fmt.Sprintf("Operation %s is not supported by this service.", operation)}
}

// MissingAuthenticationToken answers a request that carries no SigV4 authentication at all.
func MissingAuthenticationToken() *Error {
	return &Error{Code: "MissingAuthenticationToken", JSONCode: "MissingAuthenticationTokenException",
		Status: http.StatusForbidden, Message: "Request is missing Authentication Token"}
}

// SerializationError answers a JSON body that does not decode into the operation's input.
func SerializationError(detail string) *Error {
	return &Error{Code: "SerializationException", Status: http.StatusBadRequest, Message: detail}
}

// RequestTooLarge answers a body over the configured limit.
func RequestTooLarge(limit int64) *Error {
	return &Error{Code: "RequestEntityTooLarge", Status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("Request body exceeds the maximum of %d bytes.", limit)}
}

// Violation is one failed input constraint; Path is the member path in AWS's lower-camel
// spelling, e.g. "userName" or "tags.1.member.key".
type Violation struct {
	Path       string
	Value      *string // nil for a missing member ("Value null at ...")
	Constraint string  // e.g. "Member must not be null"
}

func (v Violation) String() string {
	value := "null"
	if v.Value != nil {
		value = "'" + *v.Value + "'"
	}
	return fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", value, v.Path, v.Constraint)
}

// ValidationFailed reports input constraint violations the way AWS frontends do: query
// services use code "ValidationError", JSON services "ValidationException"; the message is
// "N validation error(s) detected: ..." with the violations joined by "; ".
func ValidationFailed(p Protocol, violations []Violation) *Error {
	code := "ValidationError"
	if p == ProtocolJSON {
		code = "ValidationException"
	}
	parts := make([]string, len(violations))
	for i, v := range violations {
		parts[i] = v.String()
	}
	noun := "errors"
	if len(violations) == 1 {
		noun = "error"
	}
	return &Error{Code: code, Status: http.StatusBadRequest,
		Message: fmt.Sprintf("%d validation %s detected: %s", len(violations), noun, strings.Join(parts, "; "))}
}

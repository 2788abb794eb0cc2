package iam

import (
	"errors"
	"fmt"
)

// Error codes, as IAM, STS and Organizations put them on the wire.
const (
	CodeEntityAlreadyExists       = "EntityAlreadyExists"
	CodeNoSuchEntity              = "NoSuchEntity"
	CodeLimitExceeded             = "LimitExceeded"
	CodeValidationError           = "ValidationError"
	CodeMalformedPolicyDocument   = "MalformedPolicyDocument"
	CodeDeleteConflict            = "DeleteConflict"
	CodeInvalidInput              = "InvalidInput"
	CodeInvalidAuthenticationCode = "InvalidAuthenticationCode"
	CodeExpiredToken              = "ExpiredTokenException"
	// Organizations.
	CodeAccountNotFound           = "AccountNotFoundException"
	CodeOrganizationsNotInUse     = "AWSOrganizationsNotInUseException"
	CodeEmailAlreadyExists        = "EMAIL_ALREADY_EXISTS" // a CreateAccountStatus FailureReason
	CodeOrganizationsInvalidInput = "InvalidInputException"
)

// httpStatus gives each code the status the AWS models declare for it.
var httpStatus = map[string]int{
	CodeEntityAlreadyExists:       409,
	CodeNoSuchEntity:              404,
	CodeLimitExceeded:             409,
	CodeValidationError:           400,
	CodeMalformedPolicyDocument:   400,
	CodeDeleteConflict:            409,
	CodeInvalidInput:              400,
	CodeInvalidAuthenticationCode: 403,
	CodeExpiredToken:              400,
	CodeAccountNotFound:           400,
	CodeOrganizationsNotInUse:     400,
	CodeEmailAlreadyExists:        400,
	CodeOrganizationsInvalidInput: 400,
}

// Error is a failure the caller caused, with AWS's code and message.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// HTTPStatus is the status AWS answers this error with.
func (e *Error) HTTPStatus() int {
	if s, ok := httpStatus[e.Code]; ok {
		return s
	}
	return 400
}

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, or "".
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// NoSuchEntity reports a missing entity with the given message.
func NoSuchEntity(format string, args ...any) *Error {
	return newError(CodeNoSuchEntity, format, args...)
}

// AlreadyExists reports a duplicate entity with the given message.
func AlreadyExists(format string, args ...any) *Error {
	return newError(CodeEntityAlreadyExists, format, args...)
}

// LimitExceeded reports a quota that a request would break.
func LimitExceeded(format string, args ...any) *Error {
	return newError(CodeLimitExceeded, format, args...)
}

// DeleteConflict reports an entity that still has subordinates.
func DeleteConflict(format string, args ...any) *Error {
	return newError(CodeDeleteConflict, format, args...)
}

// InvalidInput reports an out-of-range or inconsistent parameter.
func InvalidInput(format string, args ...any) *Error {
	return newError(CodeInvalidInput, format, args...)
}

// Malformed reports a policy document that does not parse or validate.
func Malformed(message string) *Error {
	return &Error{Code: CodeMalformedPolicyDocument, Message: message}
}

// ErrNoSuchUser and its siblings carry AWS's wording for missing entities.
func ErrNoSuchUser(name string) *Error {
	return NoSuchEntity("The user with name %s cannot be found.", name)
}

func ErrNoSuchGroup(name string) *Error {
	return NoSuchEntity("The group with name %s cannot be found.", name)
}

func ErrNoSuchRole(name string) *Error {
	return NoSuchEntity("The role with name %s cannot be found.", name)
}

func ErrNoSuchEntityOfKind(kind EntityKind, name string) *Error {
	switch kind {
	case KindGroup:
		return ErrNoSuchGroup(name)
	case KindRole:
		return ErrNoSuchRole(name)
	default:
		return ErrNoSuchUser(name)
	}
}

func ErrNoSuchPolicy(arn string) *Error {
	return NoSuchEntity("Policy %s was not found.", arn)
}

func ErrPolicyNotAttachable(arn string) *Error {
	return NoSuchEntity("Policy %s does not exist or is not attachable.", arn)
}

func ErrNoSuchPolicyVersion(arn, version string) *Error {
	return NoSuchEntity("Policy %s version %s does not exist or is not attachable.", arn, version)
}

func ErrNoSuchInlinePolicy(kind EntityKind, policyName string) *Error {
	return NoSuchEntity("The %s policy with name %s cannot be found.", kind, policyName)
}

func ErrNoSuchAccessKey(id string) *Error {
	return NoSuchEntity("The Access Key with id %s cannot be found.", id)
}

func ErrNoSuchMFADevice(serial string) *Error {
	return NoSuchEntity("VirtualMFADevice with serial number %s doesn't exist.", serial)
}

// ErrNoSuchAccount is Organizations' answer for an unknown account id (its text names no id).
func ErrNoSuchAccount(string) *Error {
	return newError(CodeAccountNotFound, "You specified an account that doesn't exist.")
}

// ErrInvalidAuthenticationCode is the answer to a wrong, stale or reused TOTP code.
func ErrInvalidAuthenticationCode() *Error {
	return newError(CodeInvalidAuthenticationCode, "Authentication code for device is not valid.")
}

// ErrEntityAlreadyExists uses the per-kind wording of Create* duplicates.
func ErrEntityAlreadyExists(kind EntityKind, name string) *Error {
	switch kind {
	case KindGroup:
		return AlreadyExists("Group with name %s already exists.", name)
	case KindRole:
		return AlreadyExists("Role with name %s already exists.", name)
	default:
		return AlreadyExists("User with name %s already exists.", name)
	}
}

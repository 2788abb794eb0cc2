package stsapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/iam"

	"github.com/coffer-registry/coffer/awsproto"
)

// accessDenied is STS's AccessDenied (HTTP 403) with the given sentence.
func accessDenied(format string, args ...any) *awsproto.Error {
	return &awsproto.Error{Code: "AccessDenied", JSONCode: "AccessDeniedException", Status: http.StatusForbidden,
		Message: fmt.Sprintf(format, args...)}
}

// Sentences STS answers MFA failures with.
const (
	mfaInvalidCode = "MultiFactorAuthentication failed with invalid MFA one time pass code."
	mfaUnknown     = "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user."
	mfaIncomplete  = "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
)

// toWire maps the errors of the identity store and of the authorizer to STS's wire form, once,
// at the edge of this API. Errors it does not know go on unchanged (awsproto answers them).
func toWire(err error) error {
	if err == nil {
		return nil
	}
	var denied *authz.AccessDeniedError
	if errors.As(err, &denied) {
		return accessDenied("%s", denied.Message)
	}
	var ie *iam.Error
	if errors.As(err, &ie) {
		code := ie.Code
		if code == iam.CodeExpiredToken {
			code = "ExpiredTokenException"
		}
		return &awsproto.Error{Code: code, Message: ie.Message, Status: ie.HTTPStatus()}
	}
	return err
}

package orgapi

import (
	"crypto/rand"
	"errors"
	"net/http"

	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
)

func accessDenied(message string) *awsproto.Error {
	return &awsproto.Error{Code: "AccessDeniedException", Status: http.StatusBadRequest, Message: message}
}

func invalidInput(message string) *awsproto.Error {
	return &awsproto.Error{Code: "InvalidInputException", Status: http.StatusBadRequest, Message: message}
}

func invalidToken() *awsproto.Error {
	return invalidInput("The NextToken you provided is not valid.")
}

func notInUse() *awsproto.Error {
	return &awsproto.Error{Code: iam.CodeOrganizationsNotInUse, Status: http.StatusBadRequest,
		Message: "Your account is not a member of an organization."}
}

// toWire maps the errors of the identity store and of the authorizer to Organizations' wire
// form, once, at the edge of this API. Errors it does not know go on unchanged.
func toWire(err error) error {
	if err == nil {
		return nil
	}
	var denied *authz.AccessDeniedError
	if errors.As(err, &denied) {
		return accessDenied(denied.Message)
	}
	var ie *iam.Error
	if errors.As(err, &ie) {
		code := ie.Code
		switch code {
		case iam.CodeValidationError, iam.CodeInvalidInput:
			code = iam.CodeOrganizationsInvalidInput
		}
		return &awsproto.Error{Code: code, Message: ie.Message, Status: ie.HTTPStatus()}
	}
	return err
}

// randomLower returns n random lower-case letters and digits.
func randomLower(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

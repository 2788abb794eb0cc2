package sigv4

import (
	"fmt"
	"strings"
)

// Algorithm is the only signing algorithm SigV4 verification accepts.
const Algorithm = "AWS4-HMAC-SHA256"

// Authorization is the parsed value of an "Authorization: AWS4-HMAC-SHA256
// Credential=..., SignedHeaders=..., Signature=..." header.
type Authorization struct {
	Algorithm     string // e.g. "AWS4-HMAC-SHA256"
	Credential    string // "<key id>/<yyyymmdd>/<region>/<service>/aws4_request"
	SignedHeaders string // lower-case header names joined by ';'
	Signature     string // hex HMAC-SHA256
}

// ParseAuthorization parses an Authorization header value. It checks the
// shape only (every parameter present, each one a key=value pair); the
// algorithm, credential scope and signature are checked by Verifier.
func ParseAuthorization(value string) (Authorization, error) {
	a, missing, err := parseAuthorization(value)
	if err != nil {
		return Authorization{}, err
	}
	if missing != "" {
		return Authorization{}, incomplete(missing + "Authorization=" + value)
	}
	return a, nil
}

// parseAuthorization returns the parameters found, and separately the
// "requires ... parameter." sentences for the missing ones, so that the
// caller can add the date requirement to the same message as AWS does.
func parseAuthorization(value string) (a Authorization, missing string, err *Error) {
	rest := strings.TrimLeft(value, " ")
	if !strings.HasPrefix(rest, "AWS4-") {
		return a, "", missingToken()
	}
	if i := strings.IndexByte(rest, ' '); i >= 0 {
		a.Algorithm, rest = rest[:i], rest[i+1:]
	} else {
		a.Algorithm, rest = rest, ""
	}
	for rest != "" {
		// Parameters are separated by commas and/or spaces.
		i := strings.IndexAny(rest, ", ")
		var field string
		if i < 0 {
			field, rest = rest, ""
		} else {
			field, rest = rest[:i], rest[i+1:]
		}
		if field == "" {
			continue
		}
		key, val, ok := strings.Cut(field, "=")
		if !ok {
			return Authorization{}, "", incomplete(fmt.Sprintf(
				"'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", field, value))
		}
		switch key {
		case "Credential":
			a.Credential = val
		case "SignedHeaders":
			a.SignedHeaders = val
		case "Signature":
			a.Signature = val
		}
	}
	if a.Credential == "" {
		missing += "Authorization header requires 'Credential' parameter. "
	}
	if a.Signature == "" {
		missing += "Authorization header requires 'Signature' parameter. "
	}
	if a.SignedHeaders == "" {
		missing += "Authorization header requires 'SignedHeaders' parameter. "
	}
	return a, missing, nil
}

// String renders the header value in the form SDKs send.
func (a Authorization) String() string {
	return a.Algorithm + " Credential=" + a.Credential + ", SignedHeaders=" + a.SignedHeaders + ", Signature=" + a.Signature
}

// Scope is the credential scope: who signed, for which day, region and service.
type Scope struct {
	AccessKeyID string
	Date        string // yyyymmdd
	Region      string
	Service     string
	Terminator  string // always "aws4_request" in a valid scope
}

// ParseCredential splits "<key id>/<date>/<region>/<service>/<terminator>".
func ParseCredential(credential string) (Scope, error) {
	s, err := parseCredential(credential)
	if err != nil {
		return Scope{}, err
	}
	return s, nil
}

func parseCredential(credential string) (Scope, *Error) {
	var parts [5]string
	rest := credential
	for i := range 4 {
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return Scope{}, badCredential(credential)
		}
		parts[i], rest = rest[:j], rest[j+1:]
	}
	if strings.IndexByte(rest, '/') >= 0 {
		return Scope{}, badCredential(credential)
	}
	parts[4] = rest
	return Scope{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3], Terminator: parts[4]}, nil
}

func badCredential(credential string) *Error {
	return incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" +
		credential + "'")
}

package sigv4_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/coffer-registry/coffer/auth/sigv4"
)

// FuzzParseAuthorization: the parser never panics, fails only with AWS's
// codes, and what it accepts survives a render/parse round trip. Seeds live
// in testdata/fuzz/FuzzParseAuthorization.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261124/us-east-1/ecr/aws4_request, " +
		"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=f8398e736d048ba0a5f6595c0a4ee36ddaa636b3877d50569b0a76f3394c272f")
	f.Fuzz(func(t *testing.T, header string) {
		a, err := sigv4.ParseAuthorization(header)
		if err != nil {
			var e *sigv4.Error
			if !errors.As(err, &e) {
				t.Fatalf("not an *Error: %v", err)
			}
			if e.Code() != sigv4.CodeMissingAuthenticationToken && e.Code() != sigv4.CodeIncompleteSignature {
				t.Fatalf("unexpected code %s", e.Code())
			}
			if e.Message() == "" || e.HTTPStatus() == 0 {
				t.Fatalf("empty error %+v", e)
			}
			return
		}
		if !strings.HasPrefix(a.Algorithm, "AWS4-") {
			t.Fatalf("algorithm %q", a.Algorithm)
		}
		for _, v := range []string{a.Credential, a.SignedHeaders, a.Signature} {
			if v == "" || strings.ContainsAny(v, ", ") {
				t.Fatalf("bad field %q in %+v", v, a)
			}
		}
		again, err := sigv4.ParseAuthorization(a.String())
		if err != nil || again != a {
			t.Fatalf("round trip of %q: %+v, %v", a.String(), again, err)
		}
		if s, err := sigv4.ParseCredential(a.Credential); err == nil {
			joined := strings.Join([]string{s.AccessKeyID, s.Date, s.Region, s.Service, s.Terminator}, "/")
			if joined != a.Credential {
				t.Fatalf("credential %q parsed to %+v", a.Credential, s)
			}
		}
	})
}

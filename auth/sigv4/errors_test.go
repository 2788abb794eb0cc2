package sigv4_test

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/coffer-registry/coffer/auth/sigv4"
)

const (
	msgMismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgInvalidToken = "The security token included in the request is invalid."
)

// signedECR returns a DescribeRepositories request signed by the SDK at the given time.
func signedECR(t *testing.T, srv *verifyServer, creds aws.Credentials, region string, at time.Time) (*http.Request, []byte) {
	t.Helper()
	body := []byte(`{"maxResults":10}`)
	r := newRequest(t, "POST", srv.URL, body, ecrHeader("DescribeRepositories"))
	signHeader(t, r, body, creds, "ecr", region, at)
	return r, body
}

func setAuthorization(r *http.Request, edit func(string) string) {
	r.Header.Set("Authorization", edit(r.Header.Get("Authorization")))
}

func TestMissingAuthenticationToken(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	for name, header := range map[string]string{
		"no authorization": "",
		"basic":            "Basic dXNlcjpwYXNz",
		"bearer":           "Bearer abc.def.ghi",
		"sigv2 style":      "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
	} {
		t.Run(name, func(t *testing.T) {
			r := newRequest(t, "POST", srv.URL+"/?Action=ListUsers", []byte("{}"), ecrHeader("ListImages"))
			if header != "" {
				r.Header.Set("Authorization", header)
			}
			e := authError(t, srv.send(t, r).err, sigv4.CodeMissingAuthenticationToken, 403,
				"Request is missing Authentication Token")
			if e.JSONCode() != "MissingAuthenticationTokenException" {
				t.Fatalf("json code %q", e.JSONCode())
			}
		})
	}
}

func TestIncompleteSignature(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	cases := []struct {
		name string
		edit func(r *http.Request)
		want string // message; "{auth}" stands for the Authorization value sent
	}{
		{"no parameters", func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256")
			r.Header.Del("X-Amz-Date")
		}, "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
			"Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either " +
			"a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256"},
		{"no signature", func(r *http.Request) {
			setAuthorization(r, func(v string) string { return v[:strings.Index(v, ", Signature=")] })
		}, "Authorization header requires 'Signature' parameter. Authorization={auth}"},
		{"no date", func(r *http.Request) { r.Header.Del("X-Amz-Date") },
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={auth}"},
		{"pair without equals", func(r *http.Request) {
			setAuthorization(r, func(v string) string { return strings.Replace(v, "Credential=", "Credential= ", 1) })
		}, "'" + userKeyID + "/20261124/us-east-1/ecr/aws4_request' not a valid key=value pair (missing equal-sign) " +
			"in Authorization header: '{auth}'."},
		{"unsupported algorithm", func(r *http.Request) {
			setAuthorization(r, func(v string) string { return strings.Replace(v, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1) })
		}, "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). "},
		{"credential with four elements", func(r *http.Request) {
			setAuthorization(r, func(v string) string { return strings.Replace(v, "/aws4_request", "", 1) })
		}, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" +
			userKeyID + "/20261124/us-east-1/ecr'"},
		{"date not iso-8601 basic", func(r *http.Request) { r.Header.Set("X-Amz-Date", "2026-11-24T16:25:46Z") },
			"Date must be in ISO-8601 'basic format'. Got '2026-11-24T16:25:46Z'. See http://en.wikipedia.org/wiki/ISO_8601"},
		{"streaming payload", func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
		}, "Streaming (aws-chunked) payload signing is not supported: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := signedECR(t, srv, userCreds, "us-east-1", serverNow)
			tc.edit(r)
			want := strings.ReplaceAll(tc.want, "{auth}", r.Header.Get("Authorization"))
			e := authError(t, srv.send(t, r).err, sigv4.CodeIncompleteSignature, 400, want)
			if e.JSONCode() != "IncompleteSignatureException" {
				t.Fatalf("json code %q", e.JSONCode())
			}
		})
	}
}

func TestIncompletePresignedQuery(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	presigned := func(t *testing.T) *http.Request {
		return presign(t, newRequest(t, "GET", srv.URL+"/?Action=GetCallerIdentity&Version=2011-06-15", nil, nil),
			nil, userCreds, "sts", "us-east-1", serverNow, 900)
	}
	r := presigned(t)
	q := r.URL.Query()
	q.Del("X-Amz-Signature")
	q.Del("X-Amz-Date")
	r.URL.RawQuery = q.Encode()
	authError(t, srv.send(t, r).err, sigv4.CodeIncompleteSignature, 400,
		"AWS query-string parameters must include 'X-Amz-Signature'. "+
			"AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters.")

	for _, bad := range []string{"0", "604801", "-5", "ten"} {
		r := presigned(t)
		r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=900", "X-Amz-Expires="+bad, 1)
		authError(t, srv.send(t, r).err, sigv4.CodeIncompleteSignature, 400,
			"X-Amz-Expires must be a whole number of seconds from 1 to 604800, got '"+bad+"'.")
	}
}

func TestSignatureDoesNotMatch(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	cases := []struct {
		name string
		edit func(r *http.Request)
	}{
		{"tampered target header", func(r *http.Request) {
			r.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DeleteRepository")
		}},
		{"tampered content type", func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }},
		{"tampered path", func(r *http.Request) { r.URL.Path = "/other" }},
		{"added query parameter", func(r *http.Request) { r.URL.RawQuery = "force=true" }},
		{"tampered signature", func(r *http.Request) {
			setAuthorization(r, func(v string) string { return v[:len(v)-4] + "0000" })
		}},
		{"signature not hex", func(r *http.Request) {
			setAuthorization(r, func(v string) string { return v[:len(v)-4] + "zzzz" })
		}},
		{"signed header dropped from list", func(r *http.Request) {
			setAuthorization(r, func(v string) string { return strings.Replace(v, ";x-amz-target", "", 1) })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := signedECR(t, srv, userCreds, "us-east-1", serverNow)
			tc.edit(r)
			e := authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 403, msgMismatch)
			if e.JSONCode() != "InvalidSignatureException" || !errors.Is(e, sigv4.ErrSignatureDoesNotMatch) {
				t.Fatalf("json code %q", e.JSONCode())
			}
		})
	}

	t.Run("wrong secret", func(t *testing.T) {
		r, _ := signedECR(t, srv, aws.Credentials{AccessKeyID: userKeyID, SecretAccessKey: "not-the-secret"}, "us-east-1", serverNow)
		e := authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 403, msgMismatch)
		if !strings.HasPrefix(e.CanonicalRequest(), "POST\n/\n\n") {
			t.Fatalf("canonical request for the log: %q", e.CanonicalRequest())
		}
	})

	t.Run("tampered body of the same length", func(t *testing.T) {
		body := []byte(`{"maxResults":10}`)
		r := newRequest(t, "POST", srv.URL, []byte(`{"maxResults":99}`), ecrHeader("DescribeRepositories"))
		signHeader(t, r, body, userCreds, "ecr", "us-east-1", serverNow)
		authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 403, msgMismatch)
	})

	t.Run("body differs from signed content hash", func(t *testing.T) {
		body := []byte(`{"maxResults":10}`)
		r := newRequest(t, "POST", srv.URL, []byte(`{"maxResults":99}`), ecrHeader("DescribeRepositories"))
		r.Header.Set("X-Amz-Content-Sha256", sha256Hex(body))
		signHeader(t, r, body, userCreds, "ecr", "us-east-1", serverNow)
		authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 403,
			"The provided 'x-amz-content-sha256' header does not match what was computed.")
	})

	t.Run("tampered presigned query", func(t *testing.T) {
		r := presign(t, newRequest(t, "GET", srv.URL+"/?Action=GetCallerIdentity&Version=2011-06-15", nil, nil),
			nil, userCreds, "sts", "us-east-1", serverNow, 900)
		r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "Action=GetCallerIdentity", "Action=AssumeRole", 1)
		authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 403, msgMismatch)
	})

	t.Run("presigned expiry extended", func(t *testing.T) {
		r := presign(t, newRequest(t, "GET", srv.URL+"/?Action=GetCallerIdentity", nil, nil),
			nil, userCreds, "sts", "us-east-1", serverNow, 60)
		r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=60", "X-Amz-Expires=3600", 1)
		authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 403, msgMismatch)
	})

	t.Run("both header and query signature", func(t *testing.T) {
		r, _ := signedECR(t, srv, userCreds, "us-east-1", serverNow)
		r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256"
		authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 400,
			"Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.")
	})
}

func TestHostMustBeSigned(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	want := "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."

	r, _ := signedECR(t, srv, userCreds, "us-east-1", serverNow)
	setAuthorization(r, func(v string) string { return strings.Replace(v, "host;", "", 1) })
	authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 403, want)

	r = presign(t, newRequest(t, "GET", srv.URL+"/?Action=GetCallerIdentity", nil, nil),
		nil, userCreds, "sts", "us-east-1", serverNow, 900)
	r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-k8s-aws-id", 1)
	authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 403, want)
}

func TestCredentialScope(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{Regions: []string{"us-east-1", "eu-west-1"}}), nil)

	t.Run("region not served", func(t *testing.T) {
		r, _ := signedECR(t, srv, userCreds, "ap-south-1", serverNow)
		authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 403,
			"Credential should be scoped to a valid region, not 'ap-south-1'.")
	})
	t.Run("bad terminator and date", func(t *testing.T) {
		r, _ := signedECR(t, srv, userCreds, "us-east-1", serverNow)
		setAuthorization(r, func(v string) string {
			return strings.Replace(v, "20261124/us-east-1/ecr/aws4_request", "20261123/us-east-1/ecr/aws5_request", 1)
		})
		authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 403,
			"Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "+
				"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "+
				"'20261123' != '20261124', from '20261124T162546Z'.")
	})
	t.Run("wrong service for the API", func(t *testing.T) {
		r, _ := signedECR(t, srv, userCreds, "eu-west-1", serverNow)
		o := srv.send(t, r)
		if o.err != nil {
			t.Fatal(o.err)
		}
		if err := o.res.RequireService("ecr"); err != nil {
			t.Fatal(err)
		}
		authError(t, o.res.RequireService("iam"), sigv4.CodeSignatureDoesNotMatch, 403,
			"Credential should be scoped to correct service: 'iam'. ")
	})
}

func TestClockSkew(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	for _, tc := range []struct {
		name   string
		offset time.Duration
		want   string
	}{
		{"late", -16 * time.Minute,
			"Signature expired: 20261124T160946Z is now earlier than 20261124T161046Z (20261124T162546Z - 15 min.)"},
		{"early", 16 * time.Minute,
			"Signature not yet current: 20261124T164146Z is still later than 20261124T164046Z (20261124T162546Z + 15 min.)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := signedECR(t, srv, userCreds, "us-east-1", serverNow.Add(tc.offset))
			e := authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 403, tc.want)
			if e.JSONCode() != "InvalidSignatureException" {
				t.Fatal(e.JSONCode())
			}
		})
	}
	// Just inside the window both ways.
	for _, offset := range []time.Duration{-15 * time.Minute, 15 * time.Minute} {
		r, _ := signedECR(t, srv, userCreds, "us-east-1", serverNow.Add(offset))
		if o := srv.send(t, r); o.err != nil {
			t.Fatalf("offset %v: %v", offset, o.err)
		}
	}
	// A presigned URL without X-Amz-Expires follows the same window.
	r := presign(t, newRequest(t, "GET", srv.URL+"/?Action=GetCallerIdentity", nil, nil),
		nil, userCreds, "sts", "us-east-1", serverNow.Add(-16*time.Minute), 0)
	authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 403,
		"Signature expired: 20261124T160946Z is now earlier than 20261124T161046Z (20261124T162546Z - 15 min.)")
	// A presigned URL signed in the future is not yet valid even with an expiry.
	r = presign(t, newRequest(t, "GET", srv.URL+"/?Action=GetCallerIdentity", nil, nil),
		nil, userCreds, "sts", "us-east-1", serverNow.Add(20*time.Minute), 3600)
	authError(t, srv.send(t, r).err, sigv4.CodeSignatureDoesNotMatch, 403, "")
}

func TestRequestExpired(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	r := presign(t, newRequest(t, "GET", srv.URL+"/?Action=GetCallerIdentity&Version=2011-06-15", nil, nil),
		nil, userCreds, "sts", "us-east-1", serverNow.Add(-61*time.Second), 60)
	e := authError(t, srv.send(t, r).err, sigv4.CodeRequestExpired, 400, "Request has expired.")
	if !errors.Is(e, sigv4.ErrRequestExpired) {
		t.Fatal("errors.Is")
	}
	r = presign(t, newRequest(t, "GET", srv.URL+"/?Action=GetCallerIdentity&Version=2011-06-15", nil, nil),
		nil, userCreds, "sts", "us-east-1", serverNow.Add(-60*time.Second), 60)
	if o := srv.send(t, r); o.err != nil {
		t.Fatalf("valid to the second: %v", o.err)
	}
}

func TestInvalidClientTokenID(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	cases := []struct {
		name  string
		creds aws.Credentials
		edit  func(r *http.Request)
	}{
		{"unknown key", aws.Credentials{AccessKeyID: "AKIAUNKNOWNEXAMPLE00", SecretAccessKey: userSecret}, nil},
		{"inactive key", aws.Credentials{AccessKeyID: inactiveKeyID, SecretAccessKey: userSecret}, nil},
		{"wrong session token", aws.Credentials{AccessKeyID: sessionKeyID, SecretAccessKey: sessionSecret,
			SessionToken: sessionToken + "x"}, nil},
		{"temporary key without token", aws.Credentials{AccessKeyID: sessionKeyID, SecretAccessKey: sessionSecret}, nil},
		{"token sent with long-term key", aws.Credentials{AccessKeyID: userKeyID, SecretAccessKey: userSecret,
			SessionToken: sessionToken}, nil},
		{"token swapped after signing", sessionCreds, func(r *http.Request) {
			r.Header.Set("X-Amz-Security-Token", "forged")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := signedECR(t, srv, tc.creds, "us-east-1", serverNow)
			if tc.edit != nil {
				tc.edit(r)
			}
			e := authError(t, srv.send(t, r).err, sigv4.CodeInvalidClientTokenID, 403, msgInvalidToken)
			if e.JSONCode() != "UnrecognizedClientException" {
				t.Fatal(e.JSONCode())
			}
		})
	}
	t.Run("presigned with wrong token", func(t *testing.T) {
		r := presign(t, newRequest(t, "GET", srv.URL+"/?Action=GetCallerIdentity", nil, nil), nil,
			aws.Credentials{AccessKeyID: sessionKeyID, SecretAccessKey: sessionSecret, SessionToken: "other"},
			"sts", "us-east-1", serverNow, 900)
		authError(t, srv.send(t, r).err, sigv4.CodeInvalidClientTokenID, 403, msgInvalidToken)
	})
}

func TestExpiredToken(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	creds := aws.Credentials{AccessKeyID: expiredKeyID, SecretAccessKey: sessionSecret, SessionToken: sessionToken}
	r, _ := signedECR(t, srv, creds, "us-east-1", serverNow)
	e := authError(t, srv.send(t, r).err, sigv4.CodeExpiredToken, 403,
		"The security token included in the request is expired")
	if e.JSONCode() != "ExpiredTokenException" {
		t.Fatal(e.JSONCode())
	}
}

// Query strings that cannot be decoded are rejected before any lookup.
func TestUndecodableQuery(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	r, _ := signedECR(t, srv, userCreds, "us-east-1", serverNow)
	r.URL.RawQuery = "a=%zz"
	authError(t, srv.send(t, r).err, sigv4.CodeIncompleteSignature, 400, "")
	if _, err := url.ParseQuery("a=%zz"); err == nil {
		t.Fatal("expected the query to be invalid")
	}
}

// A store that keeps only a hash of the session token checks it through
// Secret.CheckSessionToken; the verifier never sees the token itself.
func TestCheckSessionToken(t *testing.T) {
	want := sha256.Sum256([]byte(sessionToken))
	var seen []string
	ring := keyring{sessionKeyID: {SecretAccessKey: sessionSecret, Expires: serverNow.Add(time.Hour), Principal: sessionARN,
		CheckSessionToken: func(token string) bool {
			seen = append(seen, token)
			got := sha256.Sum256([]byte(token))
			return got == want
		}}}
	srv := newVerifyServer(t, sigv4.NewVerifier(ring, sigv4.Options{Now: func() time.Time { return serverNow }}), nil)

	r, _ := signedECR(t, srv, sessionCreds, "us-east-1", serverNow)
	o := srv.send(t, r)
	if o.err != nil || !o.res.Temporary || o.res.Principal != sessionARN {
		t.Fatalf("right token: %+v", o)
	}
	for _, creds := range []aws.Credentials{
		{AccessKeyID: sessionKeyID, SecretAccessKey: sessionSecret, SessionToken: sessionToken + "x"},
		{AccessKeyID: sessionKeyID, SecretAccessKey: sessionSecret},
	} {
		r, _ := signedECR(t, srv, creds, "us-east-1", serverNow)
		authError(t, srv.send(t, r).err, sigv4.CodeInvalidClientTokenID, 403, msgInvalidToken)
	}
	if len(seen) != 3 || seen[0] != sessionToken || seen[2] != "" {
		t.Fatalf("the hook saw %q", seen)
	}
}

package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/coffer-registry/coffer/auth/sigv4"
)

// Test identities. The long-term key is AWS's documentation example.
const (
	userKeyID  = "AKIAIOSFODNN7EXAMPLE"
	userSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	userARN    = "arn:aws:iam::123456789012:user/alice"

	sessionKeyID  = "ASIAQOFT6VNR3EXAMPLE"
	sessionSecret = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
	sessionToken  = "FwoGZXIvYXdzEBYaDHqa0AP1yEXAMPLETOKEN+with/slashes=="
	sessionARN    = "arn:aws:sts::123456789012:assumed-role/deployer/ci"

	expiredKeyID  = "ASIAEXPIREDEXAMPLE01"
	inactiveKeyID = "AKIAINACTIVEEXAMPLE1"
	brokenKeyID   = "AKIABROKENSTOREXAMPL"
)

// serverNow is the verifier's clock in tests that do not use real time.
var serverNow = time.Date(2026, 11, 24, 16, 25, 46, 0, time.UTC)

var errStoreDown = errors.New("credential store is down")

// keyring is a fixed Credentials implementation over a map.
type keyring map[string]sigv4.Secret

func (k keyring) Lookup(_ context.Context, id string) (sigv4.Secret, error) {
	switch id {
	case inactiveKeyID:
		return sigv4.Secret{}, sigv4.ErrInactiveAccessKey
	case brokenKeyID:
		return sigv4.Secret{}, errStoreDown
	}
	s, ok := k[id]
	if !ok {
		return sigv4.Secret{}, sigv4.ErrUnknownAccessKey
	}
	return s, nil
}

func testKeyring(now time.Time) keyring {
	return keyring{
		userKeyID: {SecretAccessKey: userSecret, Principal: userARN},
		sessionKeyID: {
			SecretAccessKey: sessionSecret, SessionToken: sessionToken,
			Expires: now.Add(time.Hour), Principal: sessionARN,
		},
		expiredKeyID: {
			SecretAccessKey: sessionSecret, SessionToken: sessionToken,
			Expires: now.Add(-time.Second), Principal: sessionARN,
		},
	}
}

var (
	userCreds    = aws.Credentials{AccessKeyID: userKeyID, SecretAccessKey: userSecret}
	sessionCreds = aws.Credentials{AccessKeyID: sessionKeyID, SecretAccessKey: sessionSecret, SessionToken: sessionToken}
)

// outcome is what the server-side verifier said about one request.
type outcome struct {
	res  *sigv4.Result
	body []byte
	err  error
}

// verifyServer is a real loopback HTTP server that verifies every request
// and answers with respond (or 204 when respond is nil).
type verifyServer struct {
	*httptest.Server
	mu       sync.Mutex
	outcomes []outcome
}

func newVerifyServer(t testing.TB, v *sigv4.Verifier, respond func(http.ResponseWriter, *http.Request, outcome)) *verifyServer {
	s := &verifyServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, body, err := v.VerifyRequest(r, 1<<20)
		o := outcome{res: res, body: body, err: err}
		s.mu.Lock()
		s.outcomes = append(s.outcomes, o)
		s.mu.Unlock()
		if respond != nil {
			respond(w, r, o)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *verifyServer) last(t testing.TB) outcome {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.outcomes) == 0 {
		t.Fatal("the server saw no request")
	}
	return s.outcomes[len(s.outcomes)-1]
}

func (s *verifyServer) all() []outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]outcome(nil), s.outcomes...)
}

// send performs r against the server and returns what the verifier said.
func (s *verifyServer) send(t testing.TB, r *http.Request) outcome {
	t.Helper()
	resp, err := s.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return s.last(t)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// newRequest builds a client request to the test server.
func newRequest(t testing.TB, method, url string, body []byte, header http.Header) *http.Request {
	t.Helper()
	var r *http.Request
	var err error
	if body != nil {
		r, err = http.NewRequest(method, url, bytes.NewReader(body))
	} else {
		r, err = http.NewRequest(method, url, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

// signHeader signs r in place with the AWS SDK's signer.
func signHeader(t testing.TB, r *http.Request, body []byte, creds aws.Credentials, service, region string, at time.Time) {
	t.Helper()
	signHeaderHash(t, r, sha256Hex(body), creds, service, region, at)
}

func signHeaderHash(t testing.TB, r *http.Request, payloadHash string, creds aws.Credentials, service, region string, at time.Time) {
	t.Helper()
	err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payloadHash, service, region, at)
	if err != nil {
		t.Fatal(err)
	}
}

// presign returns a presigned request for r made with the AWS SDK's signer.
// expires <= 0 leaves X-Amz-Expires out.
func presign(t testing.TB, r *http.Request, body []byte, creds aws.Credentials, service, region string, at time.Time, expires int) *http.Request {
	t.Helper()
	if expires > 0 {
		q := r.URL.Query()
		q.Set("X-Amz-Expires", strconv.Itoa(expires))
		r.URL.RawQuery = q.Encode()
	}
	uri, header, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, sha256Hex(body), service, region, at)
	if err != nil {
		t.Fatal(err)
	}
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var out *http.Request
	if rd != nil {
		out, err = http.NewRequest(r.Method, uri, rd)
	} else {
		out, err = http.NewRequest(r.Method, uri, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		if http.CanonicalHeaderKey(k) == "Host" {
			continue
		}
		out.Header[http.CanonicalHeaderKey(k)] = vs
	}
	return out
}

// authError asserts err is a *sigv4.Error with the given code, status and message.
func authError(t testing.TB, err error, code string, status int, message string) *sigv4.Error {
	t.Helper()
	var e *sigv4.Error
	if !errors.As(err, &e) {
		t.Fatalf("want %s error, got %v", code, err)
	}
	if e.Code() != code || e.HTTPStatus() != status {
		t.Fatalf("want %s/%d, got %s/%d: %s", code, status, e.Code(), e.HTTPStatus(), e.Message())
	}
	if message != "" && e.Message() != message {
		t.Fatalf("message:\n got %q\nwant %q", e.Message(), message)
	}
	return e
}

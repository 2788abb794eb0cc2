package sigv4_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/coffer-registry/coffer/auth/sigv4"
)

func fixedVerifier(opts sigv4.Options) *sigv4.Verifier {
	if opts.Now == nil {
		opts.Now = func() time.Time { return serverNow }
	}
	return sigv4.NewVerifier(testKeyring(serverNow), opts)
}

func ecrHeader(op string) http.Header {
	return http.Header{
		"Content-Type": {"application/x-amz-json-1.1"},
		"X-Amz-Target": {"AmazonEC2ContainerRegistry_V20150921." + op},
	}
}

// Requests signed in the Authorization header by the AWS SDK's signer verify,
// whatever their path, query and header shapes.
func TestHeaderSignedRequestsVerify(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	cases := []struct {
		name                     string
		method, path             string
		body                     []byte
		header                   http.Header
		creds                    aws.Credentials
		service, region, wantARN string
	}{
		{"ecr json", "POST", "/", []byte(`{"repositoryName":"demo/sdk"}`), ecrHeader("CreateRepository"),
			userCreds, "ecr", "us-east-1", userARN},
		{"ecr empty object", "POST", "/", []byte(`{}`), ecrHeader("DescribeRepositories"),
			userCreds, "ecr", "eu-west-1", userARN},
		{"iam form", "POST", "/", []byte("Action=CreateUser&UserName=sdk-bot&Version=2010-05-08"),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
			userCreds, "iam", "us-east-1", userARN},
		{"session token", "POST", "/", []byte("Action=GetCallerIdentity&Version=2011-06-15"),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			sessionCreds, "sts", "us-west-2", sessionARN},
		{"get no body", "GET", "/", nil, nil, userCreds, "sts", "us-east-1", userARN},
		{"query params unsorted, repeated, empty, encoded", "GET",
			"/?Version=2010-05-08&Action=ListUsers&Marker=a-b&Marker=a%2Fb&empty=&flag&sp=a+b&pct=%7E%21%2A&utf=%C3%BC",
			nil, nil, userCreds, "iam", "us-east-1", userARN},
		{"path needing double encoding", "GET", "/v2/a%20b/c%2Fd/%C3%BC/x:y@z", nil, nil,
			userCreds, "ecr", "us-east-1", userARN},
		{"header values trimmed, collapsed, repeated", "POST", "/", []byte(`{}`),
			http.Header{
				"Content-Type": {"application/x-amz-json-1.1"},
				"X-Amz-Target": {"AmazonEC2ContainerRegistry_V20150921.ListImages"},
				"X-Custom":     {"  a   b  ", "second\tvalue", "third"},
				"X-Amz-Meta":   {"x"},
			}, userCreds, "ecr", "us-east-1", userARN},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(t, tc.method, srv.URL+tc.path, tc.body, tc.header)
			signHeader(t, r, tc.body, tc.creds, tc.service, tc.region, serverNow.Add(-2*time.Minute))
			// The SDK rewrites the query in canonical order; send it reversed
			// so the verifier has to sort it itself.
			r.URL.RawQuery = reverseQuery(r.URL.RawQuery)
			o := srv.send(t, r)
			if o.err != nil {
				var e *sigv4.Error
				if errors.As(o.err, &e) {
					t.Fatalf("%v\ncanonical request:\n%s", e, e.CanonicalRequest())
				}
				t.Fatal(o.err)
			}
			res := o.res
			if res.AccessKeyID != tc.creds.AccessKeyID || res.Principal != tc.wantARN ||
				res.Service != tc.service || res.Region != tc.region || res.Presigned ||
				!res.SignedAt.Equal(serverNow.Add(-2*time.Minute)) || res.UnsignedPayload ||
				res.Temporary != (tc.creds.SessionToken != "") {
				t.Fatalf("unexpected result %+v", res)
			}
			if !bytes.Equal(o.body, tc.body) {
				t.Fatalf("body %q, want %q", o.body, tc.body)
			}
		})
	}
}

// Presigned URLs from the SDK's signer verify, with and without X-Amz-Expires
// and with a session token in the query.
func TestPresignedRequestsVerify(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	cases := []struct {
		name    string
		creds   aws.Credentials
		expires int
		signed  time.Time
		method  string
		body    []byte
		header  http.Header
	}{
		{"sts get caller identity", userCreds, 900, serverNow.Add(-14 * time.Minute), "GET", nil,
			http.Header{"X-K8s-Aws-Id": {"cluster-1"}}},
		{"long expiry", userCreds, 604800, serverNow.Add(-6 * 24 * time.Hour), "GET", nil, nil},
		{"no expiry uses skew", userCreds, 0, serverNow.Add(-10 * time.Minute), "GET", nil, nil},
		{"session token", sessionCreds, 60, serverNow.Add(-30 * time.Second), "GET", nil, nil},
		{"post with body", userCreds, 300, serverNow, "POST", []byte("Action=GetCallerIdentity&Version=2011-06-15"),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := newRequest(t, tc.method, srv.URL+"/?Action=GetCallerIdentity&Version=2011-06-15", tc.body, tc.header)
			r := presign(t, base, tc.body, tc.creds, "sts", "us-east-1", tc.signed, tc.expires)
			r.URL.RawQuery = reverseQuery(r.URL.RawQuery)
			if r.Header.Get("Authorization") != "" || !strings.Contains(r.URL.RawQuery, "X-Amz-Signature=") {
				t.Fatalf("not a presigned request: %s", r.URL)
			}
			o := srv.send(t, r)
			if o.err != nil {
				t.Fatal(o.err)
			}
			want := tc.signed.Add(time.Duration(tc.expires) * time.Second)
			if tc.expires == 0 {
				want = tc.signed.Add(sigv4.MaxSkew)
			}
			if !o.res.Presigned || !o.res.ExpiresAt.Equal(want) || o.res.Service != "sts" ||
				o.res.Temporary != (tc.creds.SessionToken != "") {
				t.Fatalf("unexpected result %+v", o.res)
			}
		})
	}
}

// UNSIGNED-PAYLOAD is accepted and reported; a signed X-Amz-Content-Sha256
// that matches the body verifies as usual.
func TestContentSha256Header(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	body := []byte(`{"repositoryName":"demo"}`)

	r := newRequest(t, "POST", srv.URL, body, ecrHeader("DescribeImages"))
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signHeaderHash(t, r, "UNSIGNED-PAYLOAD", userCreds, "ecr", "us-east-1", serverNow)
	o := srv.send(t, r)
	if o.err != nil || !o.res.UnsignedPayload {
		t.Fatalf("unsigned payload: %+v %v", o.res, o.err)
	}

	r = newRequest(t, "POST", srv.URL, body, ecrHeader("DescribeImages"))
	r.Header.Set("X-Amz-Content-Sha256", sha256Hex(body))
	signHeader(t, r, body, userCreds, "ecr", "us-east-1", serverNow)
	o = srv.send(t, r)
	if o.err != nil || o.res.UnsignedPayload {
		t.Fatalf("signed payload hash: %+v %v", o.res, o.err)
	}
}

// The verifier derives each signing key once per secret, day, region and
// service; many goroutines verifying at once must agree (run with -race).
func TestConcurrentVerification(t *testing.T) {
	v := fixedVerifier(sigv4.Options{})
	srv := newVerifyServer(t, v, nil)
	regions := []string{"us-east-1", "eu-west-1", "ap-southeast-2"}
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := []byte(`{}`)
			r := newRequest(t, "POST", srv.URL, body, ecrHeader("DescribeRepositories"))
			signHeader(t, r, body, userCreds, "ecr", regions[i%len(regions)], serverNow)
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	outs := srv.all()
	if len(outs) != 24 {
		t.Fatalf("saw %d requests", len(outs))
	}
	for _, o := range outs {
		if o.err != nil {
			t.Fatal(o.err)
		}
	}
}

// VerifyRequest hands the body back to the handler and refuses oversized ones.
func TestVerifyRequestBody(t *testing.T) {
	v := fixedVerifier(sigv4.Options{})
	body := []byte(`{"repositoryName":"demo/sdk"}`)
	var handlerSaw []byte
	var verifyErr error
	srv := newVerifyServer(t, v, func(w http.ResponseWriter, r *http.Request, o outcome) {
		handlerSaw, _ = io.ReadAll(r.Body)
		verifyErr = o.err
	})
	r := newRequest(t, "POST", srv.URL, body, ecrHeader("CreateRepository"))
	signHeader(t, r, body, userCreds, "ecr", "us-east-1", serverNow)
	srv.send(t, r)
	if verifyErr != nil || !bytes.Equal(handlerSaw, body) {
		t.Fatalf("handler read %q (err %v)", handlerSaw, verifyErr)
	}

	big := bytes.Repeat([]byte("x"), 2<<20)
	r = newRequest(t, "POST", srv.URL, big, ecrHeader("CreateRepository"))
	signHeader(t, r, big, userCreds, "ecr", "us-east-1", serverNow)
	if o := srv.send(t, r); !errors.Is(o.err, sigv4.ErrBodyTooLarge) {
		t.Fatalf("want ErrBodyTooLarge, got %v", o.err)
	}
}

// A failing credential store is a server error, not an authentication error.
func TestLookupFailureIsNotAnAuthError(t *testing.T) {
	srv := newVerifyServer(t, fixedVerifier(sigv4.Options{}), nil)
	r := newRequest(t, "GET", srv.URL, nil, nil)
	signHeader(t, r, nil, aws.Credentials{AccessKeyID: brokenKeyID, SecretAccessKey: "x"}, "iam", "us-east-1", serverNow)
	o := srv.send(t, r)
	var e *sigv4.Error
	if !errors.Is(o.err, errStoreDown) || errors.As(o.err, &e) {
		t.Fatalf("want the store's error, got %v", o.err)
	}
}

// The Verify form works on a request built in-process too, with the body
// passed separately.
func TestVerifyWithBody(t *testing.T) {
	v := fixedVerifier(sigv4.Options{})
	body := []byte(`{}`)
	r := newRequest(t, "POST", "http://coffer.example:5000/", body, ecrHeader("GetAuthorizationToken"))
	signHeader(t, r, body, userCreds, "ecr", "us-east-1", serverNow)
	res, err := v.Verify(r.WithContext(context.Background()), body)
	if err != nil || res.Principal != userARN {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := v.Verify(r, []byte(`{"x":1}`)); !errors.Is(err, sigv4.ErrSignatureDoesNotMatch) {
		t.Fatalf("changed body verified: %v", err)
	}
}

func reverseQuery(raw string) string {
	parts := strings.Split(raw, "&")
	slices.Reverse(parts)
	return strings.Join(parts, "&")
}

package sigv4_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/auth/sigv4"
)

// Facts from AWS's published SigV4 test suite: the example credentials, the
// request time and the expected signatures of "get-vanilla" and
// "post-vanilla" (GET / and POST / to example.amazonaws.com, signing host and
// x-amz-date, scope 20150830/us-east-1/service).
const (
	suiteKeyID  = "AKIDEXAMPLE"
	suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	suiteHost   = "example.amazonaws.com"
	suiteDate   = "20150830T123600Z"
	suiteScope  = "20150830/us-east-1/service/aws4_request"
)

var suiteTime = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

func suiteVerifier() *sigv4.Verifier {
	return sigv4.NewVerifier(keyring{suiteKeyID: {SecretAccessKey: suiteSecret, Principal: "suite"}},
		sigv4.Options{Now: func() time.Time { return suiteTime.Add(3 * time.Minute) }})
}

func TestAWSTestSuiteVectors(t *testing.T) {
	srv := newVerifyServer(t, suiteVerifier(), nil)
	for _, tc := range []struct{ method, signature string }{
		{"GET", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"POST", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	} {
		t.Run(tc.method, func(t *testing.T) {
			r := newRequest(t, tc.method, srv.URL+"/", nil, nil)
			r.Host = suiteHost
			r.Header.Set("X-Amz-Date", suiteDate)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+suiteKeyID+"/"+suiteScope+
				", SignedHeaders=host;x-amz-date, Signature="+tc.signature)
			o := srv.send(t, r)
			if o.err != nil {
				t.Fatal(o.err)
			}
			if o.res.Service != "service" || o.res.Principal != "suite" {
				t.Fatalf("%+v", o.res)
			}
			// And our independent test signer reproduces the published value.
			got := testSign(tc.method, "/", "", [][2]string{{"host", suiteHost}, {"x-amz-date", suiteDate}}, nil,
				suiteDate, suiteScope, suiteSecret)
			if got != tc.signature {
				t.Fatalf("test signer: %s", got)
			}
		})
	}
}

// A request dated only by the HTTP Date header (no X-Amz-Date) verifies; the
// string to sign carries that date in ISO-8601 basic form.
func TestDateHeaderInsteadOfAmzDate(t *testing.T) {
	srv := newVerifyServer(t, suiteVerifier(), nil)
	httpDate := suiteTime.Format(http.TimeFormat) // Sun, 30 Aug 2015 12:36:00 GMT
	body := []byte("Action=ListUsers&Version=2010-05-08")
	headers := [][2]string{
		{"content-type", "application/x-www-form-urlencoded"},
		{"date", httpDate},
		{"host", suiteHost},
	}
	sig := testSign("POST", "/", "", headers, body, suiteDate, suiteScope, suiteSecret)

	r := newRequest(t, "POST", srv.URL+"/", body, nil)
	r.Host = suiteHost
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Date", httpDate)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+suiteKeyID+"/"+suiteScope+
		", SignedHeaders=content-type;date;host, Signature="+sig)
	o := srv.send(t, r)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if !o.res.SignedAt.Equal(suiteTime) {
		t.Fatalf("signed at %v", o.res.SignedAt)
	}

	// The same request with an unparsable Date header is rejected.
	r = newRequest(t, "POST", srv.URL+"/", body, nil)
	r.Host = suiteHost
	r.Header.Set("Date", "yesterday")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+suiteKeyID+"/"+suiteScope+
		", SignedHeaders=date;host, Signature="+sig)
	authError(t, srv.send(t, r).err, sigv4.CodeIncompleteSignature, 400,
		"Date must be in ISO-8601 'basic format'. Got 'yesterday'. See http://en.wikipedia.org/wiki/ISO_8601")
}

// ParseAuthorization and ParseCredential on their own.
func TestParseAuthorization(t *testing.T) {
	a, err := sigv4.ParseAuthorization("AWS4-HMAC-SHA256 Credential=" + suiteKeyID + "/" + suiteScope +
		",SignedHeaders=host;x-amz-date,   Signature=abc")
	if err != nil {
		t.Fatal(err)
	}
	want := sigv4.Authorization{Algorithm: "AWS4-HMAC-SHA256", Credential: suiteKeyID + "/" + suiteScope,
		SignedHeaders: "host;x-amz-date", Signature: "abc"}
	if a != want {
		t.Fatalf("%+v", a)
	}
	s, err := sigv4.ParseCredential(a.Credential)
	if err != nil || s != (sigv4.Scope{AccessKeyID: suiteKeyID, Date: "20150830", Region: "us-east-1",
		Service: "service", Terminator: "aws4_request"}) {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := sigv4.ParseCredential("a/b/c/d/e/f"); err == nil {
		t.Fatal("six elements accepted")
	}
	_, err = sigv4.ParseAuthorization("AWS4-HMAC-SHA256 Credential=x")
	authError(t, err, sigv4.CodeIncompleteSignature, 400, "Authorization header requires 'Signature' parameter. "+
		"Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=x")
}

// testSign is a deliberately plain, string-based SigV4 signer used as a
// second opinion where the SDK cannot produce the request (Date header).
// headers are lower-case name/value pairs already in sorted order.
func testSign(method, path, canonicalQuery string, headers [][2]string, body []byte, amzDate, scope, secret string) string {
	var names []string
	var canon strings.Builder
	for _, h := range headers {
		names = append(names, h[0])
		canon.WriteString(h[0] + ":" + strings.TrimSpace(h[1]) + "\n")
	}
	payload := sha256.Sum256(body)
	creq := strings.Join([]string{method, path, canonicalQuery, canon.String(), strings.Join(names, ";"),
		hex.EncodeToString(payload[:])}, "\n")
	creqHash := sha256.Sum256([]byte(creq))
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creqHash[:])
	key := []byte("AWS4" + secret)
	for _, part := range strings.Split(scope, "/") {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(part))
		key = m.Sum(nil)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(sts))
	return hex.EncodeToString(m.Sum(nil))
}

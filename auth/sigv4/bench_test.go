package sigv4_test

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"

	"github.com/coffer-registry/coffer/auth/sigv4"
)

// serverSide turns a client request into the *http.Request a server would
// see, by writing it to the wire format and reading it back.
func serverSide(b *testing.B, r *http.Request) *http.Request {
	var wire bytes.Buffer
	if err := r.Write(&wire); err != nil {
		b.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		b.Fatal(err)
	}
	return sr
}

// BenchmarkVerify measures verification of a typical ECR JSON request as the
// Go SDK sends it (signed Authorization header), and of a presigned STS URL.
// The target is under 20 µs per request.
func BenchmarkVerify(b *testing.B) {
	v := fixedVerifier(sigv4.Options{})
	body := []byte(`{"repositoryName":"team/app","imageIds":[{"imageTag":"v1.4.2"}],"maxResults":100}`)
	h := ecrHeader("DescribeImages")
	h.Set("Amz-Sdk-Invocation-Id", "ee624ad3-d119-4045-b15f-67a2b0b4b139")
	h.Set("Amz-Sdk-Request", "attempt=1; max=3")
	h.Set("User-Agent", "aws-sdk-go-v2/1.48.0 ua/2.1 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/ecr#1.67.5 m/E,e")
	h.Set("Accept-Encoding", "gzip")
	ecrReq := newRequest(b, "POST", "http://127.0.0.1:5000/", body, h)
	signHeader(b, ecrReq, body, userCreds, "ecr", "us-east-1", serverNow)
	ecrServer := serverSide(b, ecrReq)

	stsReq := presign(b, newRequest(b, "GET", "http://127.0.0.1:5000/?Action=GetCallerIdentity&Version=2011-06-15", nil,
		http.Header{"X-K8s-Aws-Id": {"cluster-1"}}), nil, sessionCreds, "sts", "us-east-1", serverNow, 60)
	stsServer := serverSide(b, stsReq)

	for _, bc := range []struct {
		name string
		r    *http.Request
		body []byte
	}{{"ecr-json-header", ecrServer, body}, {"sts-presigned", stsServer, nil}} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := v.Verify(bc.r, bc.body); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(bc.r, bc.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package registryauth_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/coffer-registry/coffer/registryauth"
)

func TestECRHostAccount(t *testing.T) {
	cases := map[string]string{
		"111122223333.dkr.ecr.us-east-1.amazonaws.com":          "111122223333",
		"111122223333.dkr.ecr.us-east-1.amazonaws.com:5000":     "111122223333",
		"111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com": "111122223333",
		"111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn":      "111122223333",
		"111122223333.dkr-ecr.eu-west-1.on.aws":                 "111122223333",
		"111122223333.DKR.ECR.US-EAST-1.AMAZONAWS.COM":          "111122223333",
		"11112222333.dkr.ecr.us-east-1.amazonaws.com":           "",
		"111122223333.dkr.ecr.us-east-1.example.com":            "",
		"registry.example.com:5000":                             "",
		"127.0.0.1:5000":                                        "",
		"x111122223333.dkr.ecr.us-east-1.amazonaws.com":         "",
	}
	for host, want := range cases {
		if got := registryauth.ECRHostAccount(host); got != want {
			t.Errorf("%s: %q, want %q", host, got, want)
		}
	}
}

// TestECRHostForm pushes and pulls with ECR-style image references
// (ACCOUNT.dkr.ecr.REGION.amazonaws.com:PORT/NAME:TAG), the name resolved to the loopback
// server by the client's own dialer, and checks that the canonical form sees the same image.
func TestECRHostForm(t *testing.T) {
	w := newWorld(t, false)
	A := w.acctA
	w.repo(A, "team/app")
	token := w.user(A, "admin", []string{allow("ecr:*")})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(w.srv.URL, "http://"))
	ecrName := A + ".dkr.ecr." + region + ".amazonaws.com:" + port
	loopback := strings.TrimPrefix(w.srv.URL, "http://")
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasSuffix(strings.ToLower(addr), ".amazonaws.com:"+port) {
			addr = loopback // our own resolver: the ECR name points at Coffer
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	opts := []remote.Option{remote.WithTransport(transport), remote.WithAuth(&authn.Basic{Username: "AWS", Password: token})}

	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	ecrRef, err := name.ParseReference(ecrName+"/team/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ecrRef, img, opts...); err != nil {
		t.Fatalf("push by ECR name: %v", err)
	}
	want, _ := img.Digest()
	got, err := remote.Image(ecrRef, opts...)
	if err != nil {
		t.Fatalf("pull by ECR name: %v", err)
	}
	if d, _ := got.Digest(); d != want {
		t.Fatalf("pulled %s, pushed %s", d, want)
	}
	tags, err := remote.List(ecrRef.Context(), opts...)
	if err != nil || len(tags) != 1 || tags[0] != "v1" {
		t.Fatalf("tags by ECR name: %v %v", tags, err)
	}
	// The canonical HOST/ACCOUNT/NAME form names the same repository.
	canon, _ := name.ParseReference(loopback+"/"+A+"/team/app:v1", name.Insecure)
	desc, err := remote.Head(canon, opts...)
	if err != nil || desc.Digest != want {
		t.Fatalf("canonical form: %v %v", desc, err)
	}
	// The challenge names the ECR host, as ECR's does.
	req, _ := http.NewRequest("GET", "http://"+ecrName+"/v2/", nil)
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ch := resp.Header.Get("WWW-Authenticate"); ch != `Basic realm="http://`+ecrName+`/",service="ecr.amazonaws.com"` {
		t.Fatalf("challenge %q", ch)
	}
	// The audit trail names the repository as ACCOUNT + NAME.
	if ev := w.events(auditFilterRepo(A + "/team/app")); len(ev) == 0 || ev[0].RecipientAccountID != A {
		t.Fatalf("audit events for the ECR-host pushes: %d", len(ev))
	}
}

package server

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/coffer-registry/coffer/audit"
)

// With authorization on (the default) the server listens on any address, the registry asks
// for a token on every route, a token from ECR's GetAuthorizationToken pushes and pulls, and
// the audit trail under DATA/audit records the API call and the registry requests, denied
// and allowed.
func TestRegistryRequiresTokens(t *testing.T) {
	dir := t.TempDir()
	s := startAuthorized(t, Config{DataDir: dir, Listen: "0.0.0.0:0"})
	_, port, _ := net.SplitHostPort(s.Addr().String())
	base := "http://127.0.0.1:" + port

	for _, path := range []string{"/v2/", "/v2/_catalog", "/v2/111122223333/team/app/tags/list"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized ||
			resp.Header.Get("WWW-Authenticate") != `Basic realm="`+base+`/",service="ecr.amazonaws.com"` {
			t.Errorf("GET %s without a token = %s %q", path, resp.Status, resp.Header.Get("WWW-Authenticate"))
		}
	}

	ctx := context.Background()
	client := ecr.NewFromConfig(awsConfig(base, "us-east-1", readCredentials(t, Layout(dir).Credentials())))
	repo, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")})
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(*out.AuthorizationData[0].AuthorizationToken)
	if err != nil {
		t.Fatal(err)
	}
	user, password, _ := strings.Cut(string(raw), ":")
	ref, err := name.ParseReference("127.0.0.1:"+port+"/"+*repo.Repository.RegistryId+"/team/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(128, 1)
	auth := remote.WithAuth(&authn.Basic{Username: user, Password: password})
	if err := remote.Write(ref, img, auth); err != nil {
		t.Fatalf("push with the ECR token: %v", err)
	}
	if _, err := remote.Image(ref, auth); err != nil {
		t.Fatalf("pull with the ECR token: %v", err)
	}
	if _, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "AWS", Password: password + "x"})); err == nil {
		t.Fatal("a tampered token pulled")
	}

	s.stopped(t) // the trail is flushed and closed with the server
	var allowed, denied, api int
	err = audit.Read(Layout(dir).Audit(), audit.Filter{}, func(e *audit.Event) error {
		if strings.Contains(e.ErrorMessage, password) {
			t.Error("a token in the trail")
		}
		switch {
		case e.AdditionalEventData.Protocol == "json":
			api++
		case e.AdditionalEventData.Decision == audit.Deny:
			denied++
		default:
			allowed++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if api < 2 || denied < 4 || allowed < 5 {
		t.Errorf("trail: %d API events, %d denied and %d allowed registry events", api, denied, allowed)
	}
}

// Behind a trusted proxy the client's address comes from X-Forwarded-For, on the registry and
// the AWS APIs alike (the audit trail shows the aws:SourceIp that policies saw); a peer that
// is not a trusted proxy cannot choose its address with that header.
func TestTrustedProxiesGiveTheSourceIP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []netip.Prefix
		want    string
	}{
		{"trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "203.0.113.7"},
		{"untrusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := startAuthorized(t, Config{DataDir: dir, Listen: "127.0.0.1:0", TrustedProxies: tc.proxies})
			base := "http://" + s.Addr().String()
			req, _ := http.NewRequest(http.MethodGet, base+"/v2/111122223333/team/app/tags/list", nil)
			req.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.7")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			// An AWS API call through the same listener (unsigned: refused, and audited).
			req, _ = http.NewRequest(http.MethodPost, base+"/", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			if resp, err = http.DefaultClient.Do(req); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()

			s.stopped(t)
			var seen []string
			err = audit.Read(Layout(dir).Audit(), audit.Filter{}, func(e *audit.Event) error {
				seen = append(seen, e.EventSource+" "+e.SourceIPAddress)
				if e.SourceIPAddress != tc.want {
					t.Errorf("%s %s: sourceIPAddress %q, want %q", e.EventSource, e.EventName, e.SourceIPAddress, tc.want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) < 2 {
				t.Fatalf("events: %v, want the registry request and the API call", seen)
			}
		})
	}
}

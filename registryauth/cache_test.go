package registryauth_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/audit"
	"github.com/coffer-registry/coffer/registry"
	"github.com/coffer-registry/coffer/registryauth"
)

// Every request is decided by the repository and registry policies it read, whatever the
// hooks cached from earlier requests: policies alternating between texts, shared by
// repositories, removed and restored.
func TestChangedPoliciesDecideAtOnce(t *testing.T) {
	w := newWorld(t, false)
	A := w.acctA
	token := w.user(A, "nopolicy", nil) // no identity policy: only a resource side can allow
	req := httptest.NewRequest(http.MethodGet, "/v2/"+A+"/app/manifests/latest", nil)
	req.SetBasicAuth("AWS", token)
	r, err := w.hooks.Authenticate(req)
	if err != nil {
		t.Fatal(err)
	}
	grant := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + A +
		`:user/nopolicy"},"Action":"ecr:BatchGetImage","Resource":"*"}]}`
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage","Resource":"*"}]}`
	access := func(repo, policy, registryPolicy string) registry.Access {
		return registry.Access{Account: A, Repository: repo, Action: "ecr:BatchGetImage", Loaded: true,
			Resource: "arn:aws:ecr:" + region + ":" + A + ":repository/" + repo, Policy: policy, RegistryPolicy: registryPolicy}
	}
	want := func(what string, a registry.Access, allowed bool) {
		t.Helper()
		err := w.hooks.Authorize(r, a)
		switch {
		case allowed && err != nil:
			t.Fatalf("%s: %v", what, err)
		case !allowed && (err == nil || !strings.Contains(err.Error(), "not authorized")):
			t.Fatalf("%s: %v, want a denial", what, err)
		}
	}
	for range 3 {
		want("no policy", access("app", "", ""), false)
		want("repository grant", access("app", grant, ""), true)
		want("repository deny", access("app", deny, ""), false)
		want("same grant, another repository", access("lib", grant, ""), true)
		want("repository grant again", access("app", grant, ""), true)
		// The same text, read again from the store, is another string with the same words.
		want("grant as a new string", access("app", strings.Clone(grant), ""), true)
		want("registry grant", access("app", "", grant), true)
		want("registry deny over repository grant", access("app", grant, deny), false)
		want("registry grant again", access("app", "", strings.Clone(grant)), true)
		want("registry policy removed", access("app", "", ""), false)
	}
	if err := w.hooks.Authorize(r, access("app", `{"Version":"2012-10-17","Statement":[`, "")); err == nil {
		t.Fatal("a policy that does not compile allowed")
	}
	want("grant after a broken policy", access("app", grant, ""), true)
}

// The audit trail names each request alike whether the registry noted its routing
// (Config.Routed, as coffer serve wires it) or the middleware routed it again (Describe).
func TestRoutedEventsMatchDescribed(t *testing.T) {
	w := newWorld(t, false)
	A := w.acctA
	w.repo(A, "app")
	admin := w.user(A, "admin", []string{allow("ecr:*")})
	img := w.pushImage(admin, "/v2/"+A+"/app", "latest", "routed")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	trails := map[bool]*audit.Writer{}
	dirs := map[bool]string{}
	handlers := map[bool]http.Handler{}
	for _, routed := range []bool{false, true} {
		cfg := w.hooks.Config(registry.Config{Blobs: w.blobs, Store: w.meta, Region: region, Logger: quiet})
		if !routed {
			cfg.Routed = nil
		}
		reg := registry.New(cfg)
		dirs[routed] = t.TempDir()
		trail, err := audit.Open(audit.Config{Dir: dirs[routed]})
		if err != nil {
			t.Fatal(err)
		}
		defer trail.Close()
		trails[routed] = trail
		handlers[routed] = trail.Registry(audit.RegistryConfig{Region: region, Describe: registryauth.Describe(reg)}, reg)
	}
	base := "/v2/" + A + "/app"
	requests := []struct{ method, path, token string }{
		{"GET", "/v2/", admin}, {"GET", "/v2/", ""}, {"GET", "/v2/_catalog", admin},
		{"GET", base + "/manifests/latest", admin}, {"HEAD", base + "/manifests/" + img.digest.String(), admin},
		{"GET", base + "/manifests/latest", ""}, {"GET", base + "/blobs/" + img.layer.String(), admin},
		{"HEAD", base + "/blobs/" + img.config.String(), admin}, {"GET", base + "/tags/list", admin},
		{"GET", base + "/referrers/" + img.digest.String(), admin}, {"DELETE", base + "/blobs/uploads/nosuch", admin},
		{"GET", "/v2/" + A + "/missing/manifests/latest", admin}, {"PATCH", base + "/manifests/latest", admin},
		{"GET", "/v2/not/a/route", admin}, {"GET", base + "/manifests/latest", "not-a-token"},
	}
	for _, routed := range []bool{false, true} {
		for _, rq := range requests {
			req := httptest.NewRequest(rq.method, rq.path, nil)
			if rq.token != "" {
				req.SetBasicAuth("AWS", rq.token)
			}
			handlers[routed].ServeHTTP(httptest.NewRecorder(), req)
		}
		if err := trails[routed].Flush(); err != nil {
			t.Fatal(err)
		}
	}
	events := map[bool][]*audit.Event{}
	for _, routed := range []bool{false, true} {
		if err := audit.Read(dirs[routed], audit.Filter{}, func(e *audit.Event) error {
			events[routed] = append(events[routed], e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(events[false]) != len(requests) || len(events[true]) != len(requests) {
		t.Fatalf("%d and %d events for %d requests", len(events[false]), len(events[true]), len(requests))
	}
	for i := range requests {
		d, r := events[false][i], events[true][i]
		for _, e := range []*audit.Event{d, r} {
			e.EventTime, e.EventID, e.RequestID, e.AdditionalEventData.DurationMS = time.Time{}, "", "", 0
		}
		dj, _ := json.Marshal(d)
		rj, _ := json.Marshal(r)
		if string(dj) != string(rj) {
			t.Errorf("%s %s:\ndescribed %s\n   routed %s", requests[i].method, requests[i].path, dj, rj)
		}
	}
}

package registryauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-registry/coffer/registry"
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

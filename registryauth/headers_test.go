package registryauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/registry"
)

// TestAuthenticateRepeatedHeaders: the decoded Basic headers are remembered, and a remembered
// header decides nothing: each request's header is still verified for what it says.
func TestAuthenticateRepeatedHeaders(t *testing.T) {
	w := newWorld(t, false)
	A := w.acctA
	token := w.user(A, "admin", nil, readOnlyARN) // tamper rewrites user/admin
	path := "/v2/" + A + "/app/manifests/latest"
	authenticate := func(user, password string, raw ...string) (*auth.Caller, error) {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if raw != nil {
			r.Header.Set("Authorization", raw[0])
		} else {
			r.SetBasicAuth(user, password)
		}
		r2, err := w.hooks.Authenticate(r)
		if err != nil {
			return nil, err
		}
		return auth.CallerFrom(r2.Context()), nil
	}
	for i := range 3 {
		c, err := authenticate("AWS", token)
		if err != nil || c == nil || c.Method != auth.RegistryToken {
			t.Fatalf("request %d with a good token: caller %v, err %v", i, c, err)
		}
	}
	for _, tc := range []struct {
		name, user, password string
		raw                  []string
	}{
		{"another user name, same token", "aws", token, nil},
		{"tampered token", "AWS", tamper(token), nil},
		{"token cut short", "AWS", token[:len(token)-4], nil},
		{"not base64", "", "", []string{"Basic !!!" + token}},
		{"lower-case scheme, bad user", "", "", []string{"basic " + "dXNlcjpwYXNz"}},
	} {
		for range 2 { // the second time after any caching of the first
			if c, err := authenticate(tc.user, tc.password, tc.raw...); err == nil {
				t.Fatalf("%s: authenticated as %v", tc.name, c)
			} else if hookStatus(err) != http.StatusUnauthorized {
				t.Fatalf("%s: %v, want 401", tc.name, err)
			}
		}
	}
	if c, err := authenticate("AWS", token); err != nil || c.Method != auth.RegistryToken {
		t.Fatalf("good token after bad ones: caller %v, err %v", c, err)
	}
}

// hookStatus is the HTTP status of a hook's error.
func hookStatus(err error) int {
	if e, ok := err.(*registry.Error); ok {
		return e.Status
	}
	return 0
}

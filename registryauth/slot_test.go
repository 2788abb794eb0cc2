package registryauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/registry"
)

// Under the audit middleware (a request context and a caller slot in the request's context)
// Authenticate puts the token's caller in the slot and lets the request go on as it is; the
// Authorize hook then decides for that caller. Without a slot, or with one that holds a caller
// already, the request goes on with a new context that carries the token's caller.
func TestAuthenticateFillsTheCallerSlot(t *testing.T) {
	w := newWorld(t, false)
	A := w.acctA
	w.repo(A, "app")
	reader := w.user(A, "reader", nil, readOnlyARN)
	nobody := w.user(A, "nobody", nil)
	access := registry.Access{Account: A, Repository: "app", Action: "ecr:BatchGetImage", Loaded: true,
		Resource: "arn:aws:ecr:" + region + ":" + A + ":repository/app"}
	request := func(token string, slot *auth.CallerSlot) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/v2/"+A+"/app/manifests/latest", nil)
		r.SetBasicAuth("AWS", token)
		ctx := awsproto.WithRequestContext(r.Context(), awsproto.ClientInfo{}.NewRequestContext(r))
		if slot != nil {
			ctx = auth.WithCallerSlot(ctx, slot)
		}
		return r.WithContext(ctx)
	}
	arn := func(c *auth.Caller) string {
		if c == nil || c.Principal == nil {
			return "anonymous"
		}
		return c.Principal.ARN
	}
	wantARN := "arn:aws:iam::" + A + ":user/"

	for _, tc := range []struct {
		token, user string
		allowed     bool
	}{{reader, "reader", true}, {nobody, "nobody", false}} {
		var slot auth.CallerSlot
		in := request(tc.token, &slot)
		r, err := w.hooks.Authenticate(in)
		if err != nil {
			t.Fatal(err)
		}
		if r != in {
			t.Errorf("%s: Authenticate made another request although the caller slot was there", tc.user)
		}
		if got := arn(slot.Caller()); got != wantARN+tc.user {
			t.Errorf("%s: slot holds %s", tc.user, got)
		}
		if got := arn(auth.CallerFrom(r.Context())); got != wantARN+tc.user {
			t.Errorf("%s: the request's caller is %s", tc.user, got)
		}
		if err := w.hooks.Authorize(r, access); (err == nil) != tc.allowed {
			t.Errorf("%s: Authorize = %v, want allowed %v", tc.user, err, tc.allowed)
		}
	}

	// No slot: a new request carries the caller.
	in := request(reader, nil)
	r, err := w.hooks.Authenticate(in)
	if err != nil {
		t.Fatal(err)
	}
	if r == in || arn(auth.CallerFrom(r.Context())) != wantARN+"reader" || arn(auth.CallerFrom(in.Context())) != "anonymous" {
		t.Errorf("without a slot: same request %v, caller %s", r == in, arn(auth.CallerFrom(r.Context())))
	}

	// A slot that holds a caller already keeps it; the request's own caller is the token's.
	var taken auth.CallerSlot
	if _, err := w.hooks.Authenticate(request(reader, &taken)); err != nil || arn(taken.Caller()) != wantARN+"reader" {
		t.Fatalf("slot holds %s (%v)", arn(taken.Caller()), err)
	}
	in = request(nobody, &taken)
	r, err = w.hooks.Authenticate(in)
	if err != nil {
		t.Fatal(err)
	}
	if r == in || arn(auth.CallerFrom(r.Context())) != wantARN+"nobody" || arn(taken.Caller()) != wantARN+"reader" {
		t.Errorf("taken slot: same request %v, caller %s, slot %s", r == in, arn(auth.CallerFrom(r.Context())), arn(taken.Caller()))
	}
	if err := w.hooks.Authorize(r, access); err == nil {
		t.Error("nobody allowed through a slot that held reader")
	}
}

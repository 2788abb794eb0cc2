package authz_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	cofferiam "github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/policy"
)

func mustPolicy(t *testing.T, kind policy.Kind, doc string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(doc), kind)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A decision no request fact can change is cached, and every input it depends on still
// decides: the resource, its account, the repository and registry policies, the
// principal and any IAM write.
func TestDecisionCacheKeepsEveryInput(t *testing.T) {
	w := newWorld(t)
	ref := cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "cas"}
	cas := w.as(w.user(w.acct, "cas", nil, allow("ecr:BatchGetImage", repoARN(w.acct, "app"))))
	other := w.as(w.user(w.acct, "dee", nil, allow("ecr:BatchGetImage", repoARN(w.acct, "lib"))))
	app := authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "app"), ResourceAccount: w.acct}
	lib := authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "lib"), ResourceAccount: w.acct}
	for range 3 {
		wantAllowed(t, w.authz.Authorize(cas, app))
		wantDeniedError(t, w.authz.Authorize(cas, lib))
		wantAllowed(t, w.authz.Authorize(other, lib))
		wantDeniedError(t, w.authz.Authorize(other, app))
	}
	if n := authz.CachedDecisions(w.authz); n != 4 {
		t.Fatalf("%d cached decisions, want 4", n)
	}
	// Another account's resource of the same ARN text is another question.
	elsewhere := app
	elsewhere.ResourceAccount = "999999999999"
	wantDeniedError(t, w.authz.Authorize(cas, elsewhere))
	wantAllowed(t, w.authz.Authorize(cas, app))

	// A repository policy that denies, then one that allows someone else, then none again.
	denyAll := mustPolicy(t, policy.KindRepository, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:*"}]}`)
	grantDee := mustPolicy(t, policy.KindRepository, fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Principal":{"AWS":"arn:aws:iam::%s:user/dee"},"Action":"ecr:BatchGetImage"}]}`, w.acct))
	for range 2 {
		withPolicy := app
		withPolicy.ResourcePolicy = denyAll
		d := wantDeniedError(t, w.authz.Authorize(cas, withPolicy))
		if d.Decision.Outcome != policy.ExplicitDeny {
			t.Fatalf("repository policy deny: %+v", d.Decision)
		}
		withPolicy.ResourcePolicy = grantDee
		wantAllowed(t, w.authz.Authorize(other, withPolicy)) // the resource policy grants dee in its own account
		wantAllowed(t, w.authz.Authorize(cas, withPolicy))
		withRegistry := app
		withRegistry.RegistryPolicy = denyAll
		wantDeniedError(t, w.authz.Authorize(cas, withRegistry))
		wantAllowed(t, w.authz.Authorize(cas, app))
	}

	// An IAM write is seen by the next request, cached or not, both ways.
	for range 2 {
		w.must(w.store.PutInlinePolicy(context.Background(), ref, "guard", deny("ecr:BatchGetImage", "*")))
		d := wantDeniedError(t, w.authz.Authorize(cas, app))
		if want := fmt.Sprintf("User: arn:aws:iam::%s:user/cas is not authorized to perform: ecr:BatchGetImage on resource: %s with an explicit deny in an identity-based policy",
			w.acct, repoARN(w.acct, "app")); d.Message != want {
			t.Fatalf("message %q", d.Message)
		}
		wantDeniedError(t, w.authz.Authorize(cas, app))
		w.must(w.store.DeleteInlinePolicy(context.Background(), ref, "guard"))
		wantAllowed(t, w.authz.Authorize(cas, app))
		wantAllowed(t, w.authz.Authorize(cas, app))
	}
}

// A decision some request fact can change is never taken from the cache: a conditioned
// statement of any policy (identity, repository or registry) for the action makes every
// request decide with its own context, while conditions on other actions do not.
func TestDecisionCacheOnlyForContextFreeDecisions(t *testing.T) {
	w := newWorld(t)
	fay := w.as(w.user(w.acct, "fay", nil, allow("ecr:*", "*")))
	gus := w.as(w.user(w.acct, "gus", nil, allow("ecr:BatchGetImage", "arn:aws:ecr:*:*:repository/${aws:username}/*")))
	from := func(ip string, at time.Time) context.Context {
		rc, _ := awsproto.RequestContextFrom(fay)
		rc.SourceIP, rc.ReceivedAt, rc.SecureTransport = netip.MustParseAddr(ip), at, false
		return awsproto.WithRequestContext(fay, rc)
	}
	now := time.Now()
	later := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	pull := authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "app"), ResourceAccount: w.acct}
	push := pull
	push.Action = "ecr:PutImage"
	// The repository policy conditions PutImage on the network and time; BatchGetImage is
	// unconditioned, so its decision is cached and PutImage's is not.
	repo := mustPolicy(t, policy.KindRepository, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Deny","Principal":"*","Action":"ecr:PutImage","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
		{"Effect":"Deny","Principal":"*","Action":"ecr:PutImage","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}`)
	pull.ResourcePolicy, push.ResourcePolicy = repo, repo
	for range 3 {
		wantAllowed(t, w.authz.Authorize(from("10.1.2.3", now), push))
		wantDeniedError(t, w.authz.Authorize(from("192.0.2.7", now), push))
		wantDeniedError(t, w.authz.Authorize(from("10.1.2.3", later), push))
		wantAllowed(t, w.authz.Authorize(from("192.0.2.7", later), pull))
		wantAllowed(t, w.authz.Authorize(from("10.1.2.3", now), pull))
	}
	if n := authz.CachedDecisions(w.authz); n != 1 {
		t.Fatalf("%d cached decisions, want 1 (the pull)", n)
	}
	// The same through the registry policy, and through Check keys (resource tags).
	registry := mustPolicy(t, policy.KindRegistry, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage","Resource":"*","Condition":{"StringEquals":{"ecr:ResourceTag/stage":"prod"}}}]}`)
	tagged := func(stage string) authz.Check {
		c := pull
		c.RegistryPolicy = registry
		c.Keys = []authz.Key{{Name: "ecr:ResourceTag/stage", Type: policy.TypeString, Values: []string{stage}}}
		return c
	}
	for range 3 {
		wantAllowed(t, w.authz.Authorize(fay, tagged("dev")))
		wantDeniedError(t, w.authz.Authorize(fay, tagged("prod")))
	}
	// A malformed key is reported though the decision without it is cached.
	bad := pull
	bad.Keys = []authz.Key{{Name: "aws:SourceIp", Type: policy.TypeIP, Values: []string{"not-an-ip"}}}
	if _, err := w.authz.Decide(fay, bad); err == nil {
		t.Fatal("a malformed key was decided from the cache")
	}
	if n := authz.CachedDecisions(w.authz); n != 1 {
		t.Fatalf("%d cached decisions, want 1", n)
	}
	// An identity policy with a variable in its resource reads the context too.
	own := authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "gus/app"), ResourceAccount: w.acct}
	for range 2 {
		wantAllowed(t, w.authz.Authorize(gus, own))
		wantDeniedError(t, w.authz.Authorize(fay, authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "app"),
			ResourceAccount: w.acct, ResourcePolicy: mustPolicy(t, policy.KindRepository, `{"Version":"2012-10-17","Statement":[
			{"Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"StringEquals":{"aws:username":"fay"}}}]}`)}))
	}
	if n := authz.CachedDecisions(w.authz); n != 1 {
		t.Fatalf("%d cached decisions, want 1", n)
	}
}

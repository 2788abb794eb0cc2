package authz_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	cofferiam "github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/policy"
)

// as returns a context carrying the caller of an access key, the way the authenticator
// leaves it, and a request context from a loopback client.
func (w *world) as(c creds) context.Context {
	w.t.Helper()
	cred, err := w.store.LookupCredential(context.Background(), c.id)
	w.must(err)
	rc := awsproto.RequestContext{RequestID: "test", SourceIP: netip.MustParseAddr("127.0.0.1"), ReceivedAt: time.Now()}
	return auth.WithCaller(awsproto.WithRequestContext(context.Background(), rc), auth.NewCaller(auth.SigV4, cred.Principal, cred.Generation))
}

func TestAnonymousCaller(t *testing.T) {
	w := newWorld(t)
	ctx := awsproto.WithRequestContext(context.Background(), awsproto.RequestContext{SourceIP: netip.MustParseAddr("198.51.100.4")})
	check := authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "public"), ResourceAccount: w.acct}
	err := w.authz.Authorize(ctx, check)
	var denied *authz.AccessDeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("want a denial, got %v", err)
	}
	want := "User: anonymous is not authorized to perform: ecr:BatchGetImage on resource: " + repoARN(w.acct, "public") +
		" because no resource-based policy allows the ecr:BatchGetImage action"
	if code, msg, status := denied.AWSError(); code != "AccessDeniedException" || status != 400 || msg != want {
		t.Fatalf("%s %d %s", code, status, msg)
	}
	check.ResourcePolicy, err = policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"Public","Effect":"Allow","Principal":"*",
		"Action":"ecr:BatchGetImage","Condition":{"StringEquals":{"aws:PrincipalType":"Anonymous"}}}]}`), policy.KindRepository)
	w.must(err)
	wantAllowed(t, w.authz.Authorize(ctx, check))
	// A signed caller of the same account does not match that condition, nor has identity policies.
	wantDeniedError(t, w.authz.Authorize(w.as(w.user(w.acct, "kim", nil)), check))
}

func wantDeniedError(t *testing.T, err error) *authz.AccessDeniedError {
	t.Helper()
	var denied *authz.AccessDeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("want an AccessDeniedError, got %v", err)
	}
	return denied
}

func TestGetCallerIdentityCannotBeDenied(t *testing.T) {
	w := newWorld(t)
	lee := w.as(w.user(w.acct, "lee", nil, deny("*", "*")))
	wantAllowed(t, w.authz.Authorize(lee, authz.Check{Action: "sts:GetCallerIdentity", Resource: "*"}))
	d := wantDeniedError(t, w.authz.Authorize(lee, authz.Check{Action: "sts:GetSessionToken", Resource: "*"}))
	// Outside a request the action's service picks the code: IAM and STS say AccessDenied.
	if code, _, status := d.AWSError(); code != "AccessDenied" || status != 403 {
		t.Fatalf("%s %d", code, status)
	}
	if _, err := w.authz.Decide(lee, authz.Check{Resource: "*"}); err == nil {
		t.Fatal("a Check without an action was decided")
	}
}

// Every action of AWS's ReadOnlyAccess (larger than a customer policy may be) is allowed
// to its holder, and nothing else.
func TestOversizedAWSManagedPolicy(t *testing.T) {
	w := newWorld(t)
	mia := w.user(w.acct, "mia", nil)
	w.must(w.store.AttachPolicy(context.Background(), cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "mia"},
		"arn:aws:iam::aws:policy/ReadOnlyAccess"))
	ctx := w.as(mia)
	ro, ok := cofferiam.LookupAWSManagedPolicy("arn:aws:iam::aws:policy/ReadOnlyAccess")
	if !ok {
		t.Fatal("no ReadOnlyAccess")
	}
	var doc struct {
		Statement []struct {
			Action    []string
			Condition map[string]any
		}
	}
	w.must(json.Unmarshal([]byte(ro.Document), &doc))
	n := 0
	for _, st := range doc.Statement {
		if st.Condition != nil {
			continue
		}
		for _, a := range st.Action {
			n++
			action := strings.ReplaceAll(strings.ReplaceAll(a, "*", "Anything"), "?", "X")
			r, err := w.authz.Decide(ctx, authz.Check{Action: action, Resource: "*"})
			w.must(err)
			if !r.Decision.Allowed() {
				t.Fatalf("%s (from %s) denied: %s", action, a, r.Message)
			}
		}
	}
	if n < 2000 {
		t.Fatalf("only %d actions in ReadOnlyAccess", n)
	}
	for _, action := range []string{"ecr:PutImage", "iam:CreateUser", "s3:PutObject"} {
		r, err := w.authz.Decide(ctx, authz.Check{Action: action, Resource: "*"})
		w.must(err)
		if r.Decision.Allowed() {
			t.Errorf("%s allowed", action)
		}
	}
}

// ReadOnlyAccess (larger than a customer policy may be) is a whole permissions boundary:
// under it, AdministratorAccess reads and does not write, and the denial names the boundary.
func TestAWSManagedBoundary(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const readOnly = "arn:aws:iam::aws:policy/ReadOnlyAccess"
	_, err := w.store.CreateUser(ctx, iamsql.CreateUserInput{Account: w.acct, Name: "noor", PermissionsBoundary: readOnly})
	w.must(err)
	ref := cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "noor"}
	w.must(w.store.AttachPolicy(ctx, ref, cofferiam.AdministratorAccessARN))
	key, err := w.store.CreateAccessKey(ctx, w.acct, "noor")
	w.must(err)
	noor := w.as(creds{id: key.ID})
	for _, action := range []string{"ecr:BatchGetImage", "ecr:DescribeRepositories", "s3:GetObject", "iam:GetUser"} {
		wantAllowed(t, w.authz.Authorize(noor, authz.Check{Action: action, Resource: "*"}))
	}
	for _, action := range []string{"ecr:PutImage", "iam:CreateUser", "s3:PutObject"} {
		d := wantDeniedError(t, w.authz.Authorize(noor, authz.Check{Action: action, Resource: "*"}))
		want := "User: arn:aws:iam::" + w.acct + ":user/noor is not authorized to perform: " + action +
			" on resource: * because no permissions boundary allows the " + action + " action"
		if d.Decision.Source != policy.SourceBoundary || d.Message != want {
			t.Errorf("%s: %v\n got: %s\nwant: %s", action, d.Decision.Source, d.Message, want)
		}
	}
	// The same document as identity policy and boundary at once.
	w.must(w.store.DetachPolicy(ctx, ref, cofferiam.AdministratorAccessARN))
	w.must(w.store.AttachPolicy(ctx, ref, readOnly))
	wantAllowed(t, w.authz.Authorize(noor, authz.Check{Action: "ecr:GetDownloadUrlForLayer", Resource: repoARN(w.acct, "app")}))
	wantDeniedError(t, w.authz.Authorize(noor, authz.Check{Action: "ecr:PutImage", Resource: repoARN(w.acct, "app")}))
}

// A session created with a managed session policy that was deleted since allows nothing.
func TestDeletedSessionPolicy(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	role, err := w.store.CreateRole(ctx, iamsql.CreateRoleInput{Account: w.acct, Name: "ops",
		AssumeRolePolicy: fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":"sts:AssumeRole"}]}`, w.acct)})
	w.must(err)
	w.must(w.store.AttachPolicy(ctx, cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindRole, Name: "ops"}, cofferiam.AdministratorAccessARN))
	limit, err := w.store.CreatePolicy(ctx, iamsql.CreatePolicyInput{Account: w.acct, Name: "PullOnly", Document: allow("ecr:BatchGetImage", "*")})
	w.must(err)
	sess, err := w.store.AssumeRole(ctx, cofferiam.AssumeRoleInput{RoleARN: role.ARN, SessionName: "ops-session", PolicyARNs: []string{limit.ARN}})
	w.must(err)
	sc := w.as(creds{id: sess.AccessKeyID})
	pull := authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "app")}
	wantAllowed(t, w.authz.Authorize(sc, pull))
	wantDeniedError(t, w.authz.Authorize(sc, authz.Check{Action: "ecr:PutImage", Resource: repoARN(w.acct, "app")}))

	w.must(w.store.DeletePolicy(ctx, w.acct, limit.ARN))
	d := wantDeniedError(t, w.authz.Authorize(sc, pull))
	if d.Decision.Source != policy.SourceSession {
		t.Fatalf("denied by %v", d.Decision.Source)
	}
}

// The Check's keys join the context: resource tags decide here.
func TestCheckKeys(t *testing.T) {
	w := newWorld(t)
	nia := w.as(w.user(w.acct, "nia", nil, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*",
		"Condition":{"StringEquals":{"ecr:ResourceTag/stage":"dev"}}}]}`))
	check := func(stage string) authz.Check {
		return authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "app"),
			Keys: []authz.Key{{Name: "ecr:ResourceTag/stage", Type: policy.TypeString, Values: []string{stage}}}}
	}
	// Alternate: each decision reads the keys of its own Check.
	for range 3 {
		wantAllowed(t, w.authz.Authorize(nia, check("dev")))
		wantDeniedError(t, w.authz.Authorize(nia, check("prod")))
		wantDeniedError(t, w.authz.Authorize(nia, authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "app")}))
	}
	bad := authz.Check{Action: "ecr:BatchGetImage", Resource: "*", Keys: []authz.Key{{Name: "aws:SourceIp", Type: policy.TypeIP, Values: []string{"not-an-ip"}}}}
	var denied *authz.AccessDeniedError
	if err := w.authz.Authorize(nia, bad); err == nil || errors.As(err, &denied) {
		t.Fatalf("a malformed key gave %v", err)
	}
}

// Each request's connection decides, though the caller's requests share their context's
// storage: the source address and the clock change between requests.
func TestConnectionKeysPerRequest(t *testing.T) {
	w := newWorld(t)
	ole := w.as(w.user(w.acct, "ole", nil, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*",
		"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}`))
	from := func(ip string, at time.Time) context.Context {
		rc, _ := awsproto.RequestContextFrom(ole)
		rc.SourceIP, rc.ReceivedAt = netip.MustParseAddr(ip), at
		return awsproto.WithRequestContext(ole, rc)
	}
	check := authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "app")}
	now := time.Now()
	later := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 2 {
		wantAllowed(t, w.authz.Authorize(from("10.1.2.3", now), check))
		wantDeniedError(t, w.authz.Authorize(from("192.0.2.7", now), check))
		wantAllowed(t, w.authz.Authorize(from("::ffff:10.9.9.9", now), check))
		wantDeniedError(t, w.authz.Authorize(from("10.1.2.3", later), check))
	}
}

// Decisions stay consistent while the store changes underneath (run with -race).
func TestConcurrentDecisionsAndWrites(t *testing.T) {
	w := newWorld(t)
	ctx := w.as(w.user(w.acct, "oli", nil, allow("ecr:*", "*")))
	ref := cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "oli"}
	check := authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "app")}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var denied *authz.AccessDeniedError
				if err := w.authz.Authorize(ctx, check); err != nil && !errors.As(err, &denied) {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 10 {
		w.must(w.store.PutInlinePolicy(context.Background(), ref, "guard", deny("ecr:BatchGetImage", "*")))
		wantDeniedError(t, w.authz.Authorize(ctx, check))
		w.must(w.store.DeleteInlinePolicy(context.Background(), ref, "guard"))
		wantAllowed(t, w.authz.Authorize(ctx, check))
	}
	close(stop)
	wg.Wait()
}

// AWS names the boundary "a permissions boundary", without "policy", in both sentences.
func TestBoundarySentences(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bp, err := w.store.CreatePolicy(ctx, iamsql.CreatePolicyInput{Account: w.acct, Name: "Guard", Document: `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ecr:*","Resource":"*"},{"Effect":"Deny","Action":"ecr:PutImage","Resource":"*"}]}`})
	w.must(err)
	_, err = w.store.CreateUser(ctx, iamsql.CreateUserInput{Account: w.acct, Name: "pat", PermissionsBoundary: bp.ARN})
	w.must(err)
	w.must(w.store.AttachPolicy(ctx, cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "pat"}, cofferiam.AdministratorAccessARN))
	key, err := w.store.CreateAccessKey(ctx, w.acct, "pat")
	w.must(err)
	pat := w.as(creds{id: key.ID})
	prefix := "User: arn:aws:iam::" + w.acct + ":user/pat is not authorized to perform: "
	for _, tc := range []struct {
		check authz.Check
		want  string
	}{
		{authz.Check{Action: "ecr:PutImage", Resource: repoARN(w.acct, "app")}, prefix + "ecr:PutImage on resource: " +
			repoARN(w.acct, "app") + " with an explicit deny in a permissions boundary"},
		{authz.Check{Action: "iam:CreateUser", Resource: "arn:aws:iam::" + w.acct + ":user/x"}, prefix +
			"iam:CreateUser on resource: arn:aws:iam::" + w.acct + ":user/x because no permissions boundary allows the iam:CreateUser action"},
	} {
		if got, want := wantDeniedError(t, w.authz.Authorize(pat, tc.check)).Message, tc.want; got != want {
			t.Errorf("\n got: %s\nwant: %s", got, want)
		}
	}
	wantAllowed(t, w.authz.Authorize(pat, authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "app")}))
}

package authz_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	cofferiam "github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/policy"
)

// benchSetup is a user with 10 attached managed policies (30 statements, with conditions
// and policy variables) pulling from a repository that has a repository policy, as a
// registry request asks it: the caller resolved, the request context from the connection.
func benchSetup(b *testing.B) (*authz.PolicyAuthorizer, context.Context, authz.Check, awsproto.RequestContext) {
	w := newWorld(b)
	ctx := context.Background()
	w.user(w.acct, "ci", []cofferiam.Tag{{Key: "team", Value: "build"}})
	for i := range cofferiam.MaxManagedPoliciesPerUser {
		doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
			{"Sid":"Pull%[1]d","Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"],
			 "Resource":"arn:aws:ecr:*:%[2]s:repository/team%[1]d/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"build"}}},
			{"Sid":"Push%[1]d","Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:%[2]s:repository/${aws:username}/*",
			 "Condition":{"Bool":{"aws:SecureTransport":"false"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.0/24"]}}},
			{"Sid":"NoProd%[1]d","Effect":"Deny","Action":["ecr:PutImage","ecr:BatchDeleteImage"],"Resource":"arn:aws:ecr:*:*:repository/prod-%[1]d/*"}]}`,
			i, w.acct)
		p, err := w.store.CreatePolicy(ctx, iamsql.CreatePolicyInput{Account: w.acct, Name: fmt.Sprint("team", i), Document: doc})
		w.must(err)
		w.must(w.store.AttachPolicy(ctx, cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "ci"}, p.ARN))
	}
	repoPolicy, err := policy.Parse([]byte(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Sid":"Org","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],
		 "Condition":{"StringEquals":{"aws:PrincipalAccount":%q}}},
		{"Sid":"Plain","Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"Bool":{"aws:SecureTransport":"false"},
		 "NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.0/24"]}}}]}`, w.acct)), policy.KindRepository)
	w.must(err)
	keys, err := w.store.ListAccessKeys(ctx, w.acct, "ci")
	w.must(err)
	cred, err := w.store.LookupCredential(ctx, keys[0].ID)
	w.must(err)
	caller := auth.NewCaller(auth.SigV4, cred.Principal, cred.Generation)
	rc := awsproto.RequestContext{RequestID: "bench", SourceIP: netip.MustParseAddr("192.0.2.7"),
		UserAgent: "containerd/2.1.0", ReceivedAt: time.Now()}
	ctx = auth.WithCaller(awsproto.WithRequestContext(ctx, rc), caller)
	check := authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "ci/app"), ResourcePolicy: repoPolicy,
		Keys: []authz.Key{
			{Name: "aws:ResourceTag/stage", Type: policy.TypeString, Values: []string{"dev"}},
			{Name: "ecr:ResourceTag/stage", Type: policy.TypeString, Values: []string{"dev"}},
		}}
	a := authz.New(authz.Config{Identities: w.store, Region: region})
	if err := a.Authorize(ctx, check); err != nil {
		b.Fatal(err)
	}
	return a, ctx, check, rc
}

// BenchmarkAuthorize is the registry's hot path: a cached principal with 10 policies and a
// repository policy, many requests per second from one client.
func BenchmarkAuthorize(b *testing.B) {
	a, ctx, check, _ := benchSetup(b)
	b.ReportAllocs()
	b.ResetTimer() // the store is set-up, not timed
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := a.Authorize(ctx, check); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAuthorizeNewContext is BenchmarkAuthorize with each request in a new second (the
// clock's context values formatted for every request).
func BenchmarkAuthorizeNewContext(b *testing.B) {
	a, ctx, check, rc := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		rc.ReceivedAt = rc.ReceivedAt.Add(time.Second)
		if err := a.Authorize(awsproto.WithRequestContext(ctx, rc), check); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorizeOverhead is the authorizer's own cost around the engine: a user whose
// only policy is AdministratorAccess (one statement), no resource policy.
func BenchmarkAuthorizeOverhead(b *testing.B) {
	w := newWorld(b)
	admin := w.user(w.acct, "admin", nil)
	w.must(w.store.AttachPolicy(context.Background(), cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "admin"},
		cofferiam.AdministratorAccessARN))
	ctx := w.as(admin)
	a := authz.New(authz.Config{Identities: w.store, Region: region})
	check := authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "app")}
	b.ReportAllocs()
	b.ResetTimer() // the store is set-up, not timed
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := a.Authorize(ctx, check); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAuthorizeReadOnlyAccess is a pull by a user whose only policy is AWS's
// ReadOnlyAccess (about 2,700 actions), no resource policy.
func BenchmarkAuthorizeReadOnlyAccess(b *testing.B) {
	w := newWorld(b)
	reader := w.user(w.acct, "reader", nil)
	w.must(w.store.AttachPolicy(context.Background(), cofferiam.EntityRef{Account: w.acct, Kind: cofferiam.KindUser, Name: "reader"},
		"arn:aws:iam::aws:policy/ReadOnlyAccess"))
	ctx := w.as(reader)
	a := authz.New(authz.Config{Identities: w.store, Region: region})
	check := authz.Check{Action: "ecr:BatchGetImage", Resource: repoARN(w.acct, "app")}
	b.ReportAllocs()
	b.ResetTimer() // the store is set-up, not timed
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := a.Authorize(ctx, check); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package iamsql

import (
	"context"
	"fmt"
	"testing"

	"github.com/coffer-registry/coffer/iam"
)

// benchFixture is a user in two groups with inline and managed policies everywhere.
func benchFixture(b *testing.B) (*fixture, *iam.NewAccessKey) {
	ctx := context.Background()
	f := newFixture(b)
	if _, err := f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice", Tags: []iam.Tag{{Key: "team", Value: "a"}},
		PermissionsBoundary: "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"}); err != nil {
		b.Fatal(err)
	}
	for i := range 2 {
		g := fmt.Sprintf("g%d", i)
		steps := []error{}
		_, err := f.CreateGroup(ctx, f.acct, g, "")
		steps = append(steps, err,
			f.AddUserToGroup(ctx, f.acct, g, "alice"),
			f.PutInlinePolicy(ctx, iam.EntityRef{Account: f.acct, Kind: iam.KindGroup, Name: g}, "p", allowPull),
			f.AttachPolicy(ctx, iam.EntityRef{Account: f.acct, Kind: iam.KindGroup, Name: g}, "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"))
		for _, err := range steps {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := f.PutInlinePolicy(ctx, iam.EntityRef{Account: f.acct, Kind: iam.KindUser, Name: "alice"}, "mine", allowPull); err != nil {
		b.Fatal(err)
	}
	key, err := f.CreateAccessKey(ctx, f.acct, "alice")
	if err != nil {
		b.Fatal(err)
	}
	return f, key
}

func BenchmarkLookupCredentialCached(b *testing.B) {
	f, key := benchFixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.LookupCredential(ctx, key.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkLookupCredentialUncached(b *testing.B) {
	f, key := benchFixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f.creds.Clear()
		if _, err := f.LookupCredential(ctx, key.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPoliciesForCached(b *testing.B) {
	f, key := benchFixture(b)
	ctx := context.Background()
	c, err := f.LookupCredential(ctx, key.ID)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.PoliciesFor(ctx, c.Principal); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPoliciesForUncached(b *testing.B) {
	f, key := benchFixture(b)
	ctx := context.Background()
	c, err := f.LookupCredential(ctx, key.ID)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f.policies.Clear()
		set, err := f.PoliciesFor(ctx, c.Principal)
		if err != nil || len(set.Identity) != 5 {
			b.Fatal(err, len(set.Identity))
		}
	}
}

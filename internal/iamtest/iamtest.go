// Package iamtest gives tests a real identity store: SQLite files in the test's temporary
// directory, policies checked by the policy engine, the first account bootstrapped.
package iamtest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
)

// Open opens an identity store with the clock now (nil: time.Now) that closes when the test
// ends, and bootstraps it with boot.
func Open(t testing.TB, now func() time.Time, boot iamsql.BootstrapInput) (*iamsql.Service, *iamsql.BootstrapResult) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := iamsql.Open(ctx, iamsql.Config{DBPath: filepath.Join(dir, "iam.db"), KeyPath: filepath.Join(dir, "iam.key"),
		ValidatePolicy: iam.ValidatePolicyDocument, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	res, err := s.Bootstrap(ctx, boot)
	if err != nil {
		t.Fatal(err)
	}
	return s, res
}

// User creates an IAM user in account with the inline policy "inline" (when doc is not
// empty) and an access key, and returns the key as credentials.
func User(t testing.TB, s *iamsql.Service, account, name, doc string) aws.Credentials {
	t.Helper()
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, iamsql.CreateUserInput{Account: account, Name: name}); err != nil {
		t.Fatal(err)
	}
	if doc != "" {
		if err := s.PutInlinePolicy(ctx, iam.EntityRef{Account: account, Kind: iam.KindUser, Name: name}, "inline", doc); err != nil {
			t.Fatal(err)
		}
	}
	key, err := s.CreateAccessKey(ctx, account, name)
	if err != nil {
		t.Fatal(err)
	}
	return aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}
}

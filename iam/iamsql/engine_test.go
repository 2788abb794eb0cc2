package iamsql

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/policy"
)

func TestPolicyKindsMatchTheEngine(t *testing.T) {
	pairs := map[iam.PolicyKind]policy.Kind{
		iam.PolicyManaged: policy.KindManaged, iam.PolicyInlineUser: policy.KindInlineUser, iam.PolicyInlineGroup: policy.KindInlineGroup,
		iam.PolicyInlineRole: policy.KindInlineRole, iam.PolicyTrust: policy.KindTrust, iam.PolicyBoundary: policy.KindBoundary,
		iam.PolicySession: policy.KindSession,
	}
	for k, want := range pairs {
		if policy.Kind(k) != want || k.String() != want.String() {
			t.Errorf("iam %s (%d) converts to %s, want %s", k, k, policy.Kind(k), want)
		}
	}
}

func TestWithThePolicyEngine(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Config{DBPath: filepath.Join(dir, "iam.db"), KeyPath: filepath.Join(dir, "iam.key"), ValidatePolicy: iam.ValidatePolicyDocument})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Bootstrap(ctx, BootstrapInput{})
	if err != nil {
		t.Fatal(err)
	}
	acct := res.Account.ID
	_, err = s.CreatePolicy(ctx, CreatePolicyInput{Account: acct, Name: "old", Document: `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}`})
	wantMessage(t, err, iam.CodeMalformedPolicyDocument, "Policy document must be version 2012-10-17 or greater.")
	_, err = s.CreatePolicy(ctx, CreatePolicyInput{Account: acct, Name: "nores", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*"}]}`})
	wantMessage(t, err, iam.CodeMalformedPolicyDocument, "Policy statement must contain resources.")
	if _, err := s.CreatePolicy(ctx, CreatePolicyInput{Account: acct, Name: "ok", Document: allowPull}); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateRole(ctx, CreateRoleInput{Account: acct, Name: "ci", AssumeRolePolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"ecr:BatchGetImage"}]}`})
	wantCode(t, err, iam.CodeMalformedPolicyDocument)
	if _, err := s.CreateRole(ctx, CreateRoleInput{Account: acct, Name: "ci", AssumeRolePolicy: trustAccount(acct)}); err != nil {
		t.Fatal(err)
	}
	// Every built-in AWS managed policy passes the engine as a managed policy.
	for _, p := range iam.AWSManagedPolicies() {
		if _, err := policy.Parse([]byte(p.Document), policy.KindManaged); err != nil {
			if _, tooBig := err.(*policy.SizeError); tooBig && p.Policy.Name == "ReadOnlyAccess" {
				continue // AWS's own ReadOnlyAccess is larger than customers may write
			}
			t.Errorf("%s: %v", p.Policy.Name, err)
		}
	}
}

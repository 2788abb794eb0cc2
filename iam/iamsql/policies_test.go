package iamsql

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/coffer-registry/coffer/iam"
)

func TestManagedPoliciesAndVersions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := must[*iam.ManagedPolicy](t)(f.CreatePolicy(ctx, CreatePolicyInput{Account: f.acct, Name: "pull", Path: "/ecr/", Document: allowPull,
		Description: "pull images", Tags: []iam.Tag{tag("k", "v")}}))
	arn := "arn:aws:iam::" + f.acct + ":policy/ecr/pull"
	if p.ARN != arn || p.DefaultVersionID != "v1" || !iam.IsUniqueID(p.ID, iam.PrefixPolicy) || p.AWSManaged() {
		t.Fatalf("policy %+v", p)
	}
	_, err := f.CreatePolicy(ctx, CreatePolicyInput{Account: f.acct, Name: "PULL", Document: allowPull})
	wantMessage(t, err, iam.CodeEntityAlreadyExists, "A policy called PULL already exists. Duplicate names are not allowed.")
	_, err = f.CreatePolicy(ctx, CreatePolicyInput{Account: f.acct, Name: "bad", Document: "{not json"})
	wantMessage(t, err, iam.CodeMalformedPolicyDocument, "Syntax errors in policy.")
	huge := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Sid":"` + strings.Repeat("x", 6100) + `"}]}`
	_, err = f.CreatePolicy(ctx, CreatePolicyInput{Account: f.acct, Name: "huge", Document: huge})
	wantMessage(t, err, iam.CodeLimitExceeded, "Cannot exceed quota for PolicySize: 6144")
	_, err = f.CreatePolicy(ctx, CreatePolicyInput{Account: f.acct, Name: "pathy", Path: "/a~b/", Document: allowPull})
	wantCode(t, err, iam.CodeValidationError)
	spaced := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Sid": "` + strings.Repeat("x", 6000) + `"}]}` + strings.Repeat(" ", 500)
	must[*iam.ManagedPolicy](t)(f.CreatePolicy(ctx, CreatePolicyInput{Account: f.acct, Name: "spaced", Document: spaced})) // whitespace is not counted
	ok(t, f.DeletePolicy(ctx, f.acct, "arn:aws:iam::"+f.acct+":policy/spaced"))

	got := must[*iam.ManagedPolicy](t)(f.GetPolicy(ctx, f.acct, arn))
	if got.Description != "pull images" || len(got.Tags) != 1 || got.AttachmentCount != 0 {
		t.Fatalf("GetPolicy %+v", got)
	}
	_, err = f.GetPolicy(ctx, f.acct, "arn:aws:iam::"+f.acct+":policy/none")
	wantMessage(t, err, iam.CodeNoSuchEntity, "Policy arn:aws:iam::"+f.acct+":policy/none was not found.")
	aws := must[*iam.ManagedPolicy](t)(f.GetPolicy(ctx, f.acct, "arn:aws:iam::aws:policy/ReadOnlyAccess"))
	if !aws.AWSManaged() || aws.DefaultVersionID != "v182" {
		t.Fatalf("AWS policy %+v", aws)
	}

	// Versions: v1 exists; four more fit; a sixth does not.
	for i := 2; i <= iam.MaxPolicyVersions; i++ {
		v := must[*iam.PolicyVersion](t)(f.CreatePolicyVersion(ctx, f.acct, arn, allowAll, i == 3))
		if v.VersionID != fmt.Sprintf("v%d", i) {
			t.Fatalf("version %+v", v)
		}
	}
	_, err = f.CreatePolicyVersion(ctx, f.acct, arn, allowAll, false)
	wantMessage(t, err, iam.CodeLimitExceeded, "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.")
	versions := must[[]iam.PolicyVersion](t)(f.ListPolicyVersions(ctx, f.acct, arn))
	if len(versions) != 5 || versions[0].VersionID != "v5" || !versions[2].IsDefault || versions[2].VersionID != "v3" {
		t.Fatalf("versions %+v", versions)
	}
	wantMessage(t, f.DeletePolicyVersion(ctx, f.acct, arn, "v3"), iam.CodeDeleteConflict, "Cannot delete the default version of a policy.")
	wantMessage(t, f.DeletePolicyVersion(ctx, f.acct, arn, "v9"), iam.CodeNoSuchEntity, "Policy "+arn+" version v9 does not exist or is not attachable.")
	wantCode(t, f.DeletePolicyVersion(ctx, f.acct, arn, "version1"), iam.CodeValidationError)
	ok(t, f.DeletePolicyVersion(ctx, f.acct, arn, "v2"))
	v6 := must[*iam.PolicyVersion](t)(f.CreatePolicyVersion(ctx, f.acct, arn, allowPull, false))
	if v6.VersionID != "v6" { // numbers are never reused
		t.Fatalf("next version %s, want v6", v6.VersionID)
	}
	ok(t, f.SetDefaultPolicyVersion(ctx, f.acct, arn, "v1"))
	wantCode(t, f.SetDefaultPolicyVersion(ctx, f.acct, arn, "v2"), iam.CodeNoSuchEntity)
	if v := must[*iam.PolicyVersion](t)(f.GetPolicyVersion(ctx, f.acct, arn, "v1")); !v.IsDefault || v.Document != allowPull {
		t.Fatalf("v1 %+v", v)
	}
	awsVersions := must[[]iam.PolicyVersion](t)(f.ListPolicyVersions(ctx, f.acct, iam.AdministratorAccessARN))
	if len(awsVersions) != 1 || awsVersions[0].VersionID != "v1" || !awsVersions[0].IsDefault {
		t.Fatalf("AWS versions %+v", awsVersions)
	}
	wantCode(t, f.SetDefaultPolicyVersion(ctx, f.acct, iam.AdministratorAccessARN, "v1"), iam.CodeInvalidInput)
	_, err = f.CreatePolicyVersion(ctx, f.acct, iam.AdministratorAccessARN, allowAll, true)
	wantCode(t, err, iam.CodeInvalidInput)

	// Listing and scopes.
	local := must[[]iam.ManagedPolicy](t)(f.ListPolicies(ctx, ListPoliciesInput{Account: f.acct, Scope: ScopeLocal}))
	if len(local) != 1 || local[0].ARN != arn {
		t.Fatalf("local %+v", local)
	}
	awsOnly := must[[]iam.ManagedPolicy](t)(f.ListPolicies(ctx, ListPoliciesInput{Account: f.acct, Scope: ScopeAWS}))
	if len(awsOnly) != len(iam.AWSManagedPolicies()) {
		t.Fatalf("%d AWS policies listed", len(awsOnly))
	}
	if sr := must[[]iam.ManagedPolicy](t)(f.ListPolicies(ctx, ListPoliciesInput{Account: f.acct, PathPrefix: "/service-role/"})); len(sr) != 2 {
		t.Fatalf("service-role policies %+v", sr)
	}
	_, err = f.ListPolicies(ctx, ListPoliciesInput{Account: f.acct, Scope: "Mine"})
	wantCode(t, err, iam.CodeInvalidInput)

	// Delete: attached, extra versions, then success.
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice"}))
	ok(t, f.AttachPolicy(ctx, user(f.acct, "alice"), arn))
	if n := must[[]iam.ManagedPolicy](t)(f.ListPolicies(ctx, ListPoliciesInput{Account: f.acct, OnlyAttached: true})); len(n) != 1 || n[0].AttachmentCount != 1 {
		t.Fatalf("only attached %+v", n)
	}
	if ents := must[[]PolicyEntity](t)(f.ListEntitiesForPolicy(ctx, f.acct, arn)); len(ents) != 1 || ents[0].Name != "alice" || ents[0].Kind != iam.KindUser {
		t.Fatalf("entities for policy %+v", ents)
	}
	wantMessage(t, f.DeletePolicy(ctx, f.acct, arn), iam.CodeDeleteConflict, "Cannot delete a policy attached to entities.")
	ok(t, f.DetachPolicy(ctx, user(f.acct, "alice"), arn))
	wantCode(t, f.DeletePolicy(ctx, f.acct, arn), iam.CodeDeleteConflict) // non-default versions remain
	for _, v := range []string{"v3", "v4", "v5", "v6"} {
		ok(t, f.DeletePolicyVersion(ctx, f.acct, arn, v))
	}
	ok(t, f.DeletePolicy(ctx, f.acct, arn))
	wantCode(t, f.DeletePolicy(ctx, f.acct, arn), iam.CodeNoSuchEntity)
	// Its tags went with it: a new policy under the same name has none.
	again := must[*iam.ManagedPolicy](t)(f.CreatePolicy(ctx, CreatePolicyInput{Account: f.acct, Name: "pull", Path: "/ecr/", Document: allowPull}))
	if tags := must[[]iam.Tag](t)(f.ListPolicyTags(ctx, f.acct, again.ARN)); len(tags) != 0 {
		t.Fatalf("tags survived deletion: %+v", tags)
	}
	ok(t, f.TagPolicy(ctx, f.acct, again.ARN, []iam.Tag{tag("a", "b")}))
	ok(t, f.UntagPolicy(ctx, f.acct, again.ARN, []string{"A"}))
	if tags := must[[]iam.Tag](t)(f.ListPolicyTags(ctx, f.acct, again.ARN)); len(tags) != 0 {
		t.Fatalf("policy tags %+v", tags)
	}
}

func TestAttachLimitsAndErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice"}))
	must[*iam.Group](t)(f.CreateGroup(ctx, f.acct, "devs", ""))
	must[*iam.Role](t)(f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "ci", AssumeRolePolicy: trustAccount(f.acct)}))
	var arns []string
	for i := range 11 {
		p := must[*iam.ManagedPolicy](t)(f.CreatePolicy(ctx, CreatePolicyInput{Account: f.acct, Name: fmt.Sprintf("p%d", i), Document: allowPull}))
		arns = append(arns, p.ARN)
	}
	for _, c := range []struct {
		ref   iam.EntityRef
		quota string
	}{{user(f.acct, "alice"), "PoliciesPerUser"}, {group(f.acct, "devs"), "PoliciesPerGroup"}, {role(f.acct, "ci"), "PoliciesPerRole"}} {
		for _, arn := range arns[:10] {
			ok(t, f.AttachPolicy(ctx, c.ref, arn))
		}
		ok(t, f.AttachPolicy(ctx, c.ref, arns[0])) // attaching again is a no-op, not an eleventh
		wantMessage(t, f.AttachPolicy(ctx, c.ref, arns[10]), iam.CodeLimitExceeded, "Cannot exceed quota for "+c.quota+": 10")
		if got := must[[]iam.AttachedPolicy](t)(f.ListAttachedPolicies(ctx, c.ref)); len(got) != 10 {
			t.Fatalf("%s: %d attached", c.ref.Kind, len(got))
		}
	}
	missing := "arn:aws:iam::" + f.acct + ":policy/missing"
	wantMessage(t, f.AttachPolicy(ctx, user(f.acct, "alice"), missing), iam.CodeNoSuchEntity, "Policy "+missing+" does not exist or is not attachable.")
	wantMessage(t, f.AttachPolicy(ctx, user(f.acct, "nobody"), arns[0]), iam.CodeNoSuchEntity, "The user with name nobody cannot be found.")
	wantCode(t, f.AttachPolicy(ctx, user(f.acct, "alice"), "not-an-arn"), iam.CodeInvalidInput)
	wantMessage(t, f.DetachPolicy(ctx, user(f.acct, "alice"), arns[10]), iam.CodeNoSuchEntity, "Policy "+arns[10]+" was not found.")

	// Another account's customer policy cannot be attached.
	member := must[*iam.Account](t)(f.CreateAccount(ctx, CreateAccountInput{Name: "dev", Email: "dev@example.com"}))
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: member.ID, Name: "bob"}))
	wantCode(t, f.AttachPolicy(ctx, user(member.ID, "bob"), arns[0]), iam.CodeNoSuchEntity)
}

func TestInlinePolicies(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice"}))
	must[*iam.Group](t)(f.CreateGroup(ctx, f.acct, "devs", ""))
	must[*iam.Role](t)(f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "ci", AssumeRolePolicy: trustAccount(f.acct)}))
	doc := func(n int) string { // a document of exactly n non-whitespace characters
		base := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Sid":""}]}`
		return strings.Replace(base, `"Sid":""`, `"Sid":"`+strings.Repeat("s", n-len(base))+`"`, 1)
	}
	for _, c := range []struct {
		ref   iam.EntityRef
		limit int
	}{{user(f.acct, "alice"), 2048}, {group(f.acct, "devs"), 5120}, {role(f.acct, "ci"), 10240}} {
		half := c.limit / 2
		ok(t, f.PutInlinePolicy(ctx, c.ref, "a", doc(half)))
		ok(t, f.PutInlinePolicy(ctx, c.ref, "b", doc(c.limit-half)))
		wantMessage(t, f.PutInlinePolicy(ctx, c.ref, "c", doc(100)), iam.CodeLimitExceeded,
			fmt.Sprintf("Maximum policy size of %d bytes exceeded for %s %s", c.limit, c.ref.Kind, c.ref.Name))
		ok(t, f.PutInlinePolicy(ctx, c.ref, "b", doc(200))) // replacing counts the new size only
		names := must[[]string](t)(f.ListInlinePolicies(ctx, c.ref))
		if len(names) != 2 || names[0] != "a" || names[1] != "b" {
			t.Fatalf("%s inline names %v", c.ref.Kind, names)
		}
		got := must[*iam.InlinePolicy](t)(f.GetInlinePolicy(ctx, c.ref, "b"))
		if got.Document != doc(200) {
			t.Fatalf("%s: document not replaced", c.ref.Kind)
		}
		_, err := f.GetInlinePolicy(ctx, c.ref, "zzz")
		wantMessage(t, err, iam.CodeNoSuchEntity, fmt.Sprintf("The %s policy with name zzz cannot be found.", c.ref.Kind))
		wantCode(t, f.DeleteInlinePolicy(ctx, c.ref, "zzz"), iam.CodeNoSuchEntity)
		wantCode(t, f.PutInlinePolicy(ctx, c.ref, "bad name", allowPull), iam.CodeValidationError)
		wantCode(t, f.PutInlinePolicy(ctx, c.ref, "x", "[1,2"), iam.CodeMalformedPolicyDocument)
	}
}

func TestPermissionsBoundaries(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := must[*iam.ManagedPolicy](t)(f.CreatePolicy(ctx, CreatePolicyInput{Account: f.acct, Name: "fence", Document: allowPull}))
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice", PermissionsBoundary: p.ARN}))
	must[*iam.Role](t)(f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "ci", AssumeRolePolicy: trustAccount(f.acct)}))
	ok(t, f.PutPermissionsBoundary(ctx, role(f.acct, "ci"), "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"))
	if r := must[*iam.Role](t)(f.GetRole(ctx, f.acct, "ci")); r.PermissionsBoundary != "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser" {
		t.Fatalf("role boundary %q", r.PermissionsBoundary)
	}
	if got := must[*iam.ManagedPolicy](t)(f.GetPolicy(ctx, f.acct, p.ARN)); got.BoundaryUsageCount != 1 {
		t.Fatalf("boundary usage %d", got.BoundaryUsageCount)
	}
	wantMessage(t, f.DeletePolicy(ctx, f.acct, p.ARN), iam.CodeDeleteConflict, "Cannot delete a policy attached to entities.")
	wantCode(t, f.PutPermissionsBoundary(ctx, user(f.acct, "alice"), "garbage"), iam.CodeInvalidInput)
	wantCode(t, f.PutPermissionsBoundary(ctx, group(f.acct, "x"), p.ARN), iam.CodeInvalidInput)
	ok(t, f.DeletePermissionsBoundary(ctx, user(f.acct, "alice")))
	wantCode(t, f.DeletePermissionsBoundary(ctx, user(f.acct, "alice")), iam.CodeNoSuchEntity)
	if u := must[*iam.User](t)(f.GetUser(ctx, f.acct, "alice")); u.PermissionsBoundary != "" {
		t.Fatalf("boundary left %q", u.PermissionsBoundary)
	}
	ok(t, f.DeletePolicy(ctx, f.acct, p.ARN))
}

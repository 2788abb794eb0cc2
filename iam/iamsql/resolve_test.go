package iamsql

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coffer-registry/coffer/iam"
)

func docKeys(docs []iam.PolicyDocument) []string {
	var out []string
	for _, d := range docs {
		out = append(out, string(d.Source)+":"+d.Name)
	}
	return out
}

func TestPoliciesForUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice",
		PermissionsBoundary: "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"}))
	must[*iam.Group](t)(f.CreateGroup(ctx, f.acct, "devs", ""))
	p := must[*iam.ManagedPolicy](t)(f.CreatePolicy(ctx, CreatePolicyInput{Account: f.acct, Name: "custom", Document: allowPull}))
	ok(t, f.PutInlinePolicy(ctx, user(f.acct, "alice"), "mine", allowPull))
	ok(t, f.AttachPolicy(ctx, user(f.acct, "alice"), p.ARN))
	ok(t, f.PutInlinePolicy(ctx, group(f.acct, "devs"), "team", allowPull))
	ok(t, f.AttachPolicy(ctx, group(f.acct, "devs"), "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"))
	ok(t, f.AddUserToGroup(ctx, f.acct, "devs", "alice"))
	key := must[*iam.NewAccessKey](t)(f.CreateAccessKey(ctx, f.acct, "alice"))
	c := must[*iam.Credential](t)(f.LookupCredential(ctx, key.ID))

	set := must[*iam.PolicySet](t)(f.PoliciesFor(ctx, c.Principal))
	got := strings.Join(docKeys(set.Identity), ",")
	if got != "inline:mine,managed:custom,inline:team,managed:AmazonEC2ContainerRegistryReadOnly" {
		t.Fatalf("identity policies %s", got)
	}
	if set.Boundary == nil || set.Boundary.Name != "AmazonEC2ContainerRegistryPowerUser" || !strings.Contains(set.Boundary.Document, "ecr:PutImage") {
		t.Fatalf("boundary %+v", set.Boundary)
	}
	if set.HasSessionPolicy || len(set.Session) != 0 {
		t.Fatal("a user has no session policy")
	}
	custom := set.Identity[1]
	if custom.ARN != p.ARN || custom.Version != "v1" || custom.Document != allowPull || custom.Key() != p.ARN+"@v1" {
		t.Fatalf("managed document %+v", custom)
	}
	if set.Identity[2].OwnerARN != iam.GroupARN(f.acct, "/", "devs") {
		t.Fatalf("group policy owner %s", set.Identity[2].OwnerARN)
	}
	if again := must[*iam.PolicySet](t)(f.PoliciesFor(ctx, c.Principal)); again != set {
		t.Fatal("no write happened, yet the set was not served from the cache")
	}

	// A new default version shows up after the write, with a new generation.
	gen := f.Generation()
	must[*iam.PolicyVersion](t)(f.CreatePolicyVersion(ctx, f.acct, p.ARN, allowAll, true))
	if f.Generation() <= gen {
		t.Fatal("generation did not move")
	}
	set2 := must[*iam.PolicySet](t)(f.PoliciesFor(ctx, c.Principal))
	if set2.Identity[1].Version != "v2" || set2.Identity[1].Document != allowAll || set2.Generation != f.Generation() {
		t.Fatalf("after new version %+v", set2.Identity[1])
	}

	// Root is unlimited by identity policies: empty set.
	rootCred := must[*iam.Credential](t)(f.LookupCredential(ctx, f.org.RootKey.ID))
	if rs := must[*iam.PolicySet](t)(f.PoliciesFor(ctx, rootCred.Principal)); len(rs.Identity) != 0 || rs.Boundary != nil {
		t.Fatalf("root set %+v", rs)
	}
}

func TestPoliciesForRoleSession(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.Role](t)(f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "ci", AssumeRolePolicy: trustAccount(f.acct),
		PermissionsBoundary: iam.AdministratorAccessARN}))
	ok(t, f.PutInlinePolicy(ctx, role(f.acct, "ci"), "inline", allowPull))
	ok(t, f.AttachPolicy(ctx, role(f.acct, "ci"), "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"))
	plain := must[*iam.Session](t)(f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: iam.RoleARN(f.acct, "/", "ci"), SessionName: "plain"}))
	scoped := must[*iam.Session](t)(f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: iam.RoleARN(f.acct, "/", "ci"), SessionName: "scoped",
		Policy: allowPull, PolicyARNs: []string{"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly", "arn:aws:iam::" + f.acct + ":policy/gone"}}))

	pc := must[*iam.Credential](t)(f.LookupCredential(ctx, plain.AccessKeyID))
	ps := must[*iam.PolicySet](t)(f.PoliciesFor(ctx, pc.Principal))
	if got := strings.Join(docKeys(ps.Identity), ","); got != "inline:inline,managed:AmazonECSTaskExecutionRolePolicy" {
		t.Fatalf("role policies %s", got)
	}
	if ps.Boundary == nil || ps.Boundary.ARN != iam.AdministratorAccessARN || ps.HasSessionPolicy {
		t.Fatalf("plain session set %+v", ps)
	}
	sc := must[*iam.Credential](t)(f.LookupCredential(ctx, scoped.AccessKeyID))
	ss := must[*iam.PolicySet](t)(f.PoliciesFor(ctx, sc.Principal))
	if !ss.HasSessionPolicy || strings.Join(docKeys(ss.Session), ",") != "session:,managed:AmazonEC2ContainerRegistryPullOnly" {
		t.Fatalf("session policies %v", docKeys(ss.Session))
	}
	if ss.Session[0].Document != allowPull {
		t.Fatalf("inline session policy %q", ss.Session[0].Document)
	}

	// Deleting the role leaves its sessions with nothing.
	ok(t, f.DeleteInlinePolicy(ctx, role(f.acct, "ci"), "inline"))
	ok(t, f.DetachPolicy(ctx, role(f.acct, "ci"), "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"))
	ok(t, f.DeleteRole(ctx, f.acct, "ci"))
	if gone := must[*iam.PolicySet](t)(f.PoliciesFor(ctx, pc.Principal)); len(gone.Identity) != 0 || gone.Boundary != nil {
		t.Fatalf("deleted role still has policies: %+v", gone)
	}
}

func TestCreateMemberAccount(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	member := must[*iam.Account](t)(f.CreateAccount(ctx, CreateAccountInput{Name: "dev", Email: "dev@example.com"}))
	if !iam.IsAccountID(member.ID) || member.Management || member.OrganizationID != f.org.Organization.ID || member.Status != "ACTIVE" || member.JoinedMethod != "CREATED" {
		t.Fatalf("member %+v", member)
	}
	if member.ARN != "arn:aws:organizations::"+f.acct+":account/"+f.org.Organization.ID+"/"+member.ID {
		t.Fatalf("member ARN %s", member.ARN)
	}
	r := must[*iam.Role](t)(f.GetRole(ctx, member.ID, OrganizationAccountAccessRole))
	var trust struct {
		Statement []struct {
			Effect    string
			Principal struct{ AWS string }
			Action    string
		}
	}
	ok(t, json.Unmarshal([]byte(r.AssumeRolePolicy), &trust))
	if len(trust.Statement) != 1 || trust.Statement[0].Principal.AWS != iam.RootARN(f.acct) || trust.Statement[0].Action != "sts:AssumeRole" || trust.Statement[0].Effect != "Allow" {
		t.Fatalf("trust policy %s", r.AssumeRolePolicy)
	}
	attached := must[[]iam.AttachedPolicy](t)(f.ListAttachedPolicies(ctx, role(member.ID, OrganizationAccountAccessRole)))
	if len(attached) != 1 || attached[0].ARN != iam.AdministratorAccessARN {
		t.Fatalf("attached %+v", attached)
	}
	// The management account's session of that role gets AdministratorAccess.
	sess := must[*iam.Session](t)(f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: r.ARN, SessionName: "admin"}))
	set := must[*iam.PolicySet](t)(f.PoliciesFor(ctx, &sess.Principal))
	if len(set.Identity) != 1 || set.Identity[0].ARN != iam.AdministratorAccessARN {
		t.Fatalf("member admin set %+v", set)
	}

	_, err := f.CreateAccount(ctx, CreateAccountInput{Name: "dup", Email: "DEV@example.com"})
	wantCode(t, err, iam.CodeEmailAlreadyExists)
	_, err = f.CreateAccount(ctx, CreateAccountInput{Name: "bad", Email: "not-an-email"})
	wantCode(t, err, iam.CodeOrganizationsInvalidInput)
	_, err = f.CreateAccount(ctx, CreateAccountInput{Name: "", Email: "x@example.com"})
	wantCode(t, err, iam.CodeOrganizationsInvalidInput)
	accounts := must[[]iam.Account](t)(f.ListAccounts(ctx))
	if len(accounts) != 2 || !accounts[0].Management || accounts[1].ID != member.ID {
		t.Fatalf("accounts %+v", accounts)
	}
	custom := must[*iam.Account](t)(f.CreateAccount(ctx, CreateAccountInput{Name: "qa", Email: "qa@example.com", RoleName: "Admin"}))
	must[*iam.Role](t)(f.GetRole(ctx, custom.ID, "Admin"))
	_, err = f.GetAccount(ctx, "000000000000")
	wantCode(t, err, iam.CodeAccountNotFound)
}

func TestCreateAccountBeforeBootstrap(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Config{DBPath: filepath.Join(dir, "iam.db"), KeyPath: filepath.Join(dir, "iam.key"), ValidatePolicy: jsonOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.CreateAccount(ctx, CreateAccountInput{Name: "dev", Email: "dev@example.com"})
	wantCode(t, err, iam.CodeOrganizationsNotInUse)
	if accounts := must[[]iam.Account](t)(s.ListAccounts(ctx)); len(accounts) != 0 {
		t.Fatalf("accounts %+v", accounts)
	}
}

func TestAuthorizationDetails(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice", Tags: []iam.Tag{tag("k", "v")}}))
	must[*iam.Group](t)(f.CreateGroup(ctx, f.acct, "devs", ""))
	ok(t, f.AddUserToGroup(ctx, f.acct, "devs", "alice"))
	must[*iam.Role](t)(f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "ci", AssumeRolePolicy: trustAccount(f.acct)}))
	p := must[*iam.ManagedPolicy](t)(f.CreatePolicy(ctx, CreatePolicyInput{Account: f.acct, Name: "custom", Document: allowPull}))
	must[*iam.PolicyVersion](t)(f.CreatePolicyVersion(ctx, f.acct, p.ARN, allowAll, false))
	ok(t, f.AttachPolicy(ctx, role(f.acct, "ci"), p.ARN))
	ok(t, f.AttachPolicy(ctx, group(f.acct, "devs"), "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"))
	ok(t, f.PutInlinePolicy(ctx, user(f.acct, "alice"), "mine", allowPull))

	d := must[*iam.AuthorizationDetails](t)(f.AuthorizationDetails(ctx, f.acct))
	if len(d.Users) != 1 || d.Users[0].Groups[0] != "devs" || len(d.Users[0].InlinePolicies) != 1 || len(d.Users[0].Tags) != 1 {
		t.Fatalf("users %+v", d.Users)
	}
	if len(d.Groups) != 1 || len(d.Groups[0].AttachedPolicies) != 1 || len(d.Roles) != 1 || d.Roles[0].AttachedPolicies[0].ARN != p.ARN {
		t.Fatalf("groups %+v roles %+v", d.Groups, d.Roles)
	}
	if len(d.Policies) != 2 || d.Policies[0].Name != "AmazonEC2ContainerRegistryReadOnly" || d.Policies[1].Name != "custom" ||
		len(d.Policies[1].Versions) != 2 || d.Policies[1].AttachmentCount != 1 {
		t.Fatalf("policies %+v", d.Policies)
	}
	_, err := f.AuthorizationDetails(ctx, "000000000000")
	wantCode(t, err, iam.CodeAccountNotFound)
}

func TestGenerationAndOnChange(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var seen atomic.Uint64
	cfg := Config{DBPath: filepath.Join(dir, "iam.db"), KeyPath: filepath.Join(dir, "iam.key"), ValidatePolicy: jsonOnly,
		OnChange: func(g uint64) { seen.Store(g) }}
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res := must[*BootstrapResult](t)(s.Bootstrap(ctx, BootstrapInput{}))
	g1 := s.Generation()
	if g1 == 0 || seen.Load() != g1 {
		t.Fatalf("generation %d, hook saw %d", g1, seen.Load())
	}
	_, err = s.CreateUser(ctx, CreateUserInput{Account: res.Account.ID, Name: "bad name"})
	wantCode(t, err, iam.CodeValidationError)
	_, err = s.CreateUser(ctx, CreateUserInput{Account: res.Account.ID, Name: "alice", PermissionsBoundary: "arn:aws:iam::aws:policy/Nope"})
	wantCode(t, err, iam.CodeNoSuchEntity)
	if s.Generation() != g1 {
		t.Fatal("failed writes moved the generation")
	}
	must[*iam.User](t)(s.CreateUser(ctx, CreateUserInput{Account: res.Account.ID, Name: "alice"}))
	if s.Generation() != g1+1 || seen.Load() != g1+1 {
		t.Fatalf("generation %d after one write from %d", s.Generation(), g1)
	}
	// A second process on the same files sees the other's writes after SyncGeneration.
	other, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	must[*iam.Group](t)(other.CreateGroup(ctx, res.Account.ID, "devs", ""))
	g := must[uint64](t)(s.SyncGeneration(ctx))
	if g != g1+2 || s.Generation() != g1+2 {
		t.Fatalf("synced generation %d, want %d", g, g1+2)
	}
}

package iamsql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/iam"
)

// jsonOnly is the test stand-in for the policy engine: it accepts any well-formed JSON object.
func jsonOnly(doc string, kind iam.PolicyKind) error {
	var v map[string]any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return errors.New("Syntax errors in policy.")
	}
	return nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	*Service
	dir   string
	clock *clock
	org   *BootstrapResult
	acct  string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	clk := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	s, err := Open(context.Background(), Config{DBPath: filepath.Join(dir, "iam.db"), KeyPath: filepath.Join(dir, "iam.key"),
		ValidatePolicy: jsonOnly, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	res, err := s.Bootstrap(context.Background(), BootstrapInput{})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{Service: s, dir: dir, clock: clk, org: res, acct: res.Account.ID}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if iam.ErrorCode(err) != code {
		t.Fatalf("got error %v, want code %s", err, code)
	}
}

func wantMessage(t *testing.T, err error, code, message string) {
	t.Helper()
	var e *iam.Error
	if !errors.As(err, &e) || e.Code != code || e.Message != message {
		t.Fatalf("got %v, want %s: %s", err, code, message)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
const allowPull = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage"],"Resource":"*"}]}`

func trustAccount(acct string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}`, acct)
}

func user(acct, name string) iam.EntityRef {
	return iam.EntityRef{Account: acct, Kind: iam.KindUser, Name: name}
}
func group(acct, name string) iam.EntityRef {
	return iam.EntityRef{Account: acct, Kind: iam.KindGroup, Name: name}
}
func role(acct, name string) iam.EntityRef {
	return iam.EntityRef{Account: acct, Kind: iam.KindRole, Name: name}
}

func TestBootstrapIsIdempotent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	first := f.org
	if !first.Created || first.RootKey == nil || !iam.IsUniqueID(first.RootKey.ID, iam.PrefixAccessKey) || len(first.RootKey.Secret) != 40 {
		t.Fatalf("first bootstrap: %+v", first)
	}
	if !iam.IsOrganizationID(first.Organization.ID) || !iam.IsAccountID(first.Account.ID) || !first.Account.Management {
		t.Fatalf("organization %+v account %+v", first.Organization, first.Account)
	}
	if first.Organization.ManagementAccountID != first.Account.ID || !strings.HasPrefix(first.Organization.RootID, "r-") {
		t.Fatalf("organization %+v", first.Organization)
	}
	second := must[*BootstrapResult](t)(f.Bootstrap(ctx, BootstrapInput{}))
	if second.Created || second.RootKey != nil || second.Account.ID != first.Account.ID || second.Organization.ID != first.Organization.ID {
		t.Fatalf("second bootstrap: %+v", second)
	}
	// Reopen the same directory: the same organization and the same working root key.
	f.Close()
	s, err := Open(ctx, Config{DBPath: filepath.Join(f.dir, "iam.db"), KeyPath: filepath.Join(f.dir, "iam.key"), ValidatePolicy: jsonOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	third := must[*BootstrapResult](t)(s.Bootstrap(ctx, BootstrapInput{}))
	if third.Created || third.Account.ID != first.Account.ID {
		t.Fatalf("after reopen: %+v", third)
	}
	accounts := must[[]iam.Account](t)(s.ListAccounts(ctx))
	if len(accounts) != 1 {
		t.Fatalf("%d accounts after three bootstraps", len(accounts))
	}
	c := must[*iam.Credential](t)(s.LookupCredential(ctx, first.RootKey.ID))
	if c.SecretAccessKey != first.RootKey.Secret || c.Principal.Type != iam.PrincipalRoot || c.Principal.ARN != iam.RootARN(first.Account.ID) ||
		c.Principal.UserID != first.Account.ID || !c.Active || c.Temporary() || c.Principal.OrgID != first.Organization.ID {
		t.Fatalf("root credential %+v principal %+v", c, c.Principal)
	}
	keys := must[[]iam.AccessKey](t)(s.ListAccessKeys(ctx, first.Account.ID, ""))
	if len(keys) != 1 || keys[0].ID != first.RootKey.ID {
		t.Fatalf("root keys %+v", keys)
	}
}

func TestSecretsAreEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice"}))
	key := must[*iam.NewAccessKey](t)(f.CreateAccessKey(ctx, f.acct, "alice"))
	dev := must[*iam.NewVirtualMFADevice](t)(f.CreateVirtualMFADevice(ctx, f.acct, "alice", "", nil))
	must[*iam.Role](t)(f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "ci", AssumeRolePolicy: trustAccount(f.acct)}))
	sess := must[*iam.Session](t)(f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: iam.RoleARN(f.acct, "/", "ci"), SessionName: "build"}))
	ok(t, f.Close())

	var files []byte
	entries, _ := filepath.Glob(filepath.Join(f.dir, "iam.db*"))
	for _, name := range entries {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b...)
	}
	if len(files) == 0 {
		t.Fatal("no database bytes read")
	}
	seed, err := base32Decode(dev.Base32Seed)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"root secret":    f.org.RootKey.Secret,
		"user secret":    key.Secret,
		"session secret": sess.SecretAccessKey,
		"session token":  sess.SessionToken,
		"MFA seed":       string(seed),
		"MFA seed b32":   dev.Base32Seed,
	}
	for what, secret := range secrets {
		if strings.Contains(string(files), secret) {
			t.Errorf("%s is stored in plain text", what)
		}
	}
	// The ids are there (so the grep above could see rows at all).
	if !strings.Contains(string(files), key.ID) {
		t.Error("access key id not found in the database files; the check above proves nothing")
	}
}

func TestOpenRejectsWrongKey(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	id := f.org.RootKey.ID
	ok(t, f.Close())
	os.WriteFile(filepath.Join(f.dir, "other.key"), make([]byte, iam.KeySize), 0o600)
	s, err := Open(ctx, Config{DBPath: filepath.Join(f.dir, "iam.db"), KeyPath: filepath.Join(f.dir, "other.key"), ValidatePolicy: jsonOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.LookupCredential(ctx, id); err == nil || iam.ErrorCode(err) != "" {
		t.Fatalf("lookup with the wrong key: %v", err)
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "Alice", Path: "/team/", Tags: []iam.Tag{tag("dept", "eng")}}))
	if u.ARN != "arn:aws:iam::"+f.acct+":user/team/Alice" || !iam.IsUniqueID(u.ID, iam.PrefixUser) {
		t.Fatalf("user %+v", u)
	}
	_, err := f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice"})
	wantMessage(t, err, iam.CodeEntityAlreadyExists, "User with name alice already exists.")
	_, err = f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "bad name"})
	wantMessage(t, err, iam.CodeValidationError, `1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	_, err = f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "bob", Path: "team"})
	wantCode(t, err, iam.CodeValidationError)
	_, err = f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "bob", Tags: []iam.Tag{tag("a", "1"), tag("A", "2")}})
	wantCode(t, err, iam.CodeInvalidInput)
	_, err = f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "bob", PermissionsBoundary: "arn:aws:iam::" + f.acct + ":policy/none"})
	wantMessage(t, err, iam.CodeNoSuchEntity, "Scope ARN: arn:aws:iam::"+f.acct+":policy/none does not exist or is not attachable.")
	_, err = f.CreateUser(ctx, CreateUserInput{Account: "999999999999", Name: "bob"})
	wantCode(t, err, iam.CodeAccountNotFound)
	// Failed creations left nothing behind.
	users := must[[]iam.User](t)(f.ListUsers(ctx, f.acct, ""))
	if len(users) != 1 {
		t.Fatalf("users after failures: %+v", users)
	}
	got := must[*iam.User](t)(f.GetUser(ctx, f.acct, "ALICE"))
	if got.Name != "Alice" || len(got.Tags) != 1 || got.Tags[0] != (tag("dept", "eng")) || !got.CreatedAt.Equal(f.clock.Now()) {
		t.Fatalf("GetUser %+v", got)
	}
	_, err = f.GetUser(ctx, f.acct, "nobody")
	wantMessage(t, err, iam.CodeNoSuchEntity, "The user with name nobody cannot be found.")
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "bob", Path: "/ops/"}))
	if team := must[[]iam.User](t)(f.ListUsers(ctx, f.acct, "/team/")); len(team) != 1 || team[0].Name != "Alice" {
		t.Fatalf("ListUsers /team/: %+v", team)
	}
	ok(t, f.DeleteUser(ctx, f.acct, "bob"))
	wantCode(t, f.DeleteUser(ctx, f.acct, "bob"), iam.CodeNoSuchEntity)
}

func TestDeleteUserConflicts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice", Tags: []iam.Tag{tag("k", "v")}}))
	must[*iam.Group](t)(f.CreateGroup(ctx, f.acct, "devs", ""))
	key := must[*iam.NewAccessKey](t)(f.CreateAccessKey(ctx, f.acct, "alice"))
	ok(t, f.PutInlinePolicy(ctx, user(f.acct, "alice"), "inline", allowPull))
	ok(t, f.AttachPolicy(ctx, user(f.acct, "alice"), "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"))
	ok(t, f.AddUserToGroup(ctx, f.acct, "devs", "alice"))
	dev := must[*iam.NewVirtualMFADevice](t)(f.CreateVirtualMFADevice(ctx, f.acct, "alice", "", nil))
	enable(t, f, "alice", dev)

	steps := []struct {
		message string
		fix     func() error
	}{
		{"Cannot delete entity, must delete access keys first.", func() error { return f.DeleteAccessKey(ctx, f.acct, "alice", key.ID) }},
		{"Cannot delete entity, must delete MFA device first.", func() error { return f.DeactivateMFADevice(ctx, f.acct, "alice", dev.SerialNumber) }},
		{"Cannot delete entity, must delete policies first.", func() error { return f.DeleteInlinePolicy(ctx, user(f.acct, "alice"), "inline") }},
		{"Cannot delete entity, must detach all policies first.", func() error {
			return f.DetachPolicy(ctx, user(f.acct, "alice"), "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
		}},
		{"Cannot delete entity, must remove users from group first.", func() error { return f.RemoveUserFromGroup(ctx, f.acct, "devs", "alice") }},
	}
	for _, step := range steps {
		wantMessage(t, f.DeleteUser(ctx, f.acct, "alice"), iam.CodeDeleteConflict, step.message)
		must[*iam.User](t)(f.GetUser(ctx, f.acct, "alice")) // still there, whole
		ok(t, step.fix())
	}
	ok(t, f.DeleteUser(ctx, f.acct, "alice"))
	// A new user with the same name starts clean: no tags left over.
	u := must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice"}))
	if got := must[*iam.User](t)(f.GetUser(ctx, f.acct, "alice")); len(got.Tags) != 0 || got.ID == "" || u.ID != got.ID {
		t.Fatalf("recreated user %+v", got)
	}
}

func TestGroups(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	g := must[*iam.Group](t)(f.CreateGroup(ctx, f.acct, "devs", "/eng/"))
	if g.ARN != "arn:aws:iam::"+f.acct+":group/eng/devs" || !iam.IsUniqueID(g.ID, iam.PrefixGroup) {
		t.Fatalf("group %+v", g)
	}
	_, err := f.CreateGroup(ctx, f.acct, "DEVS", "/")
	wantMessage(t, err, iam.CodeEntityAlreadyExists, "Group with name DEVS already exists.")
	_, err = f.CreateGroup(ctx, f.acct, strings.Repeat("g", 129), "/")
	wantCode(t, err, iam.CodeValidationError)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice"}))
	wantMessage(t, f.AddUserToGroup(ctx, f.acct, "nope", "alice"), iam.CodeNoSuchEntity, "The group with name nope cannot be found.")
	wantCode(t, f.AddUserToGroup(ctx, f.acct, "devs", "nobody"), iam.CodeNoSuchEntity)
	ok(t, f.AddUserToGroup(ctx, f.acct, "devs", "alice"))
	ok(t, f.AddUserToGroup(ctx, f.acct, "devs", "alice")) // idempotent
	_, members, err := f.GetGroup(ctx, f.acct, "devs")
	ok(t, err)
	if len(members) != 1 || members[0].Name != "alice" {
		t.Fatalf("members %+v", members)
	}
	if lg := must[*iam.Group](t)(f.LookupGroup(ctx, f.acct, "Devs")); *lg != *g {
		t.Fatalf("looked up %+v, want %+v", lg, g)
	}
	_, err = f.LookupGroup(ctx, f.acct, "nope")
	wantMessage(t, err, iam.CodeNoSuchEntity, "The group with name nope cannot be found.")
	if gs := must[[]iam.Group](t)(f.ListGroupsForUser(ctx, f.acct, "alice")); len(gs) != 1 || gs[0].Name != "devs" {
		t.Fatalf("groups for user %+v", gs)
	}
	for i := 2; i <= iam.MaxGroupsPerUser; i++ {
		must[*iam.Group](t)(f.CreateGroup(ctx, f.acct, fmt.Sprintf("g%d", i), ""))
		ok(t, f.AddUserToGroup(ctx, f.acct, fmt.Sprintf("g%d", i), "alice"))
	}
	must[*iam.Group](t)(f.CreateGroup(ctx, f.acct, "eleventh", ""))
	wantMessage(t, f.AddUserToGroup(ctx, f.acct, "eleventh", "alice"), iam.CodeLimitExceeded, "Cannot exceed quota for GroupsPerUser: 10")

	wantMessage(t, f.DeleteGroup(ctx, f.acct, "devs"), iam.CodeDeleteConflict, "Cannot delete entity, must remove users from group first.")
	ok(t, f.RemoveUserFromGroup(ctx, f.acct, "devs", "alice"))
	wantCode(t, f.RemoveUserFromGroup(ctx, f.acct, "devs", "alice"), iam.CodeNoSuchEntity)
	ok(t, f.PutInlinePolicy(ctx, group(f.acct, "devs"), "p", allowPull))
	wantMessage(t, f.DeleteGroup(ctx, f.acct, "devs"), iam.CodeDeleteConflict, "Cannot delete entity, must delete policies first.")
	ok(t, f.DeleteInlinePolicy(ctx, group(f.acct, "devs"), "p"))
	ok(t, f.AttachPolicy(ctx, group(f.acct, "devs"), iam.AdministratorAccessARN))
	wantMessage(t, f.DeleteGroup(ctx, f.acct, "devs"), iam.CodeDeleteConflict, "Cannot delete entity, must detach all policies first.")
	ok(t, f.DetachPolicy(ctx, group(f.acct, "devs"), iam.AdministratorAccessARN))
	ok(t, f.DeleteGroup(ctx, f.acct, "devs"))
	if gs := must[[]iam.Group](t)(f.ListGroups(ctx, f.acct, "/eng/")); len(gs) != 0 {
		t.Fatalf("groups after delete %+v", gs)
	}
	wantCode(t, f.TagEntity(ctx, group(f.acct, "g2"), []iam.Tag{tag("k", "v")}), iam.CodeInvalidInput)
}

func TestRoles(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	r := must[*iam.Role](t)(f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "ci", Path: "/svc/", AssumeRolePolicy: trustAccount(f.acct),
		Description: "builds", MaxSessionDuration: 7200, Tags: []iam.Tag{tag("team", "ops")}}))
	if r.ARN != "arn:aws:iam::"+f.acct+":role/svc/ci" || !iam.IsUniqueID(r.ID, iam.PrefixRole) || r.MaxSessionDuration != 7200 {
		t.Fatalf("role %+v", r)
	}
	_, err := f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "CI", AssumeRolePolicy: trustAccount(f.acct)})
	wantMessage(t, err, iam.CodeEntityAlreadyExists, "Role with name CI already exists.")
	_, err = f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "x", AssumeRolePolicy: trustAccount(f.acct), MaxSessionDuration: 100})
	wantMessage(t, err, iam.CodeValidationError, "1 validation error detected: Value '100' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600")
	_, err = f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "x", AssumeRolePolicy: `{"Version":`})
	wantMessage(t, err, iam.CodeMalformedPolicyDocument, "Syntax errors in policy.")
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Sid":"` + strings.Repeat("s", 2048) + `"}]}`
	_, err = f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "x", AssumeRolePolicy: big})
	wantMessage(t, err, iam.CodeLimitExceeded, "Cannot exceed quota for ACLSizePerRole: 2048")
	_, err = f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: strings.Repeat("r", 65), AssumeRolePolicy: trustAccount(f.acct)})
	wantCode(t, err, iam.CodeValidationError)
	if roles := must[[]iam.Role](t)(f.ListRoles(ctx, f.acct, "")); len(roles) != 1 {
		t.Fatalf("roles after failures: %+v", roles)
	}

	got := must[*iam.Role](t)(f.GetRoleByARN(ctx, r.ARN))
	if got.AssumeRolePolicy != trustAccount(f.acct) || got.Description != "builds" || len(got.Tags) != 1 {
		t.Fatalf("GetRoleByARN %+v", got)
	}
	_, err = f.GetRoleByARN(ctx, "arn:aws:iam::"+f.acct+":role/ci") // wrong path
	wantCode(t, err, iam.CodeNoSuchEntity)
	_, err = f.GetRole(ctx, f.acct, "nope")
	wantMessage(t, err, iam.CodeNoSuchEntity, "The role with name nope cannot be found.")

	desc, dur := "deploys", 43200
	ok(t, f.UpdateRole(ctx, UpdateRoleInput{Account: f.acct, Name: "ci", Description: &desc, MaxSessionDuration: &dur}))
	tooLong := 43201
	wantCode(t, f.UpdateRole(ctx, UpdateRoleInput{Account: f.acct, Name: "ci", MaxSessionDuration: &tooLong}), iam.CodeValidationError)
	newTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	ok(t, f.UpdateAssumeRolePolicy(ctx, f.acct, "ci", newTrust))
	wantCode(t, f.UpdateAssumeRolePolicy(ctx, f.acct, "ci", "nope"), iam.CodeMalformedPolicyDocument)
	got = must[*iam.Role](t)(f.GetRole(ctx, f.acct, "ci"))
	if got.Description != "deploys" || got.MaxSessionDuration != 43200 || got.AssumeRolePolicy != newTrust {
		t.Fatalf("after updates %+v", got)
	}

	ok(t, f.AttachPolicy(ctx, role(f.acct, "ci"), iam.AdministratorAccessARN))
	wantMessage(t, f.DeleteRole(ctx, f.acct, "ci"), iam.CodeDeleteConflict, "Cannot delete entity, must detach all policies first.")
	ok(t, f.DetachPolicy(ctx, role(f.acct, "ci"), iam.AdministratorAccessARN))
	ok(t, f.PutInlinePolicy(ctx, role(f.acct, "ci"), "p", allowPull))
	wantMessage(t, f.DeleteRole(ctx, f.acct, "ci"), iam.CodeDeleteConflict, "Cannot delete entity, must delete policies first.")
	ok(t, f.DeleteInlinePolicy(ctx, role(f.acct, "ci"), "p"))
	ok(t, f.DeleteRole(ctx, f.acct, "ci"))
	_, err = f.GetRole(ctx, f.acct, "ci")
	wantCode(t, err, iam.CodeNoSuchEntity)
}

func TestTags(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice", Tags: []iam.Tag{tag("Team", "a")}}))
	ok(t, f.TagEntity(ctx, user(f.acct, "alice"), []iam.Tag{tag("team", "b"), tag("env", "prod")}))
	tags := must[[]iam.Tag](t)(f.ListEntityTags(ctx, user(f.acct, "alice")))
	if len(tags) != 2 || tags[0] != (tag("env", "prod")) || tags[1] != (tag("team", "b")) {
		t.Fatalf("tags %+v", tags)
	}
	ok(t, f.UntagEntity(ctx, user(f.acct, "alice"), []string{"TEAM", "missing"}))
	tags = must[[]iam.Tag](t)(f.ListEntityTags(ctx, user(f.acct, "alice")))
	if len(tags) != 1 || tags[0].Key != "env" {
		t.Fatalf("tags after untag %+v", tags)
	}
	var many []iam.Tag
	for i := range 49 {
		many = append(many, iam.Tag{Key: fmt.Sprintf("k%d", i), Value: "v"})
	}
	ok(t, f.TagEntity(ctx, user(f.acct, "alice"), many)) // 50 in all
	wantMessage(t, f.TagEntity(ctx, user(f.acct, "alice"), []iam.Tag{tag("one-more", "v")}), iam.CodeLimitExceeded, "The number of tags has reached the maximum limit.")
	if tags := must[[]iam.Tag](t)(f.ListEntityTags(ctx, user(f.acct, "alice"))); len(tags) != 50 {
		t.Fatalf("%d tags after a refused TagUser, want 50", len(tags))
	}
	wantCode(t, f.TagEntity(ctx, user(f.acct, "alice"), []iam.Tag{tag("bad*key", "v")}), iam.CodeValidationError)
	wantCode(t, f.TagEntity(ctx, user(f.acct, "nobody"), []iam.Tag{tag("k", "v")}), iam.CodeNoSuchEntity)
	must[*iam.Role](t)(f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "ci", AssumeRolePolicy: trustAccount(f.acct)}))
	ok(t, f.TagEntity(ctx, role(f.acct, "ci"), []iam.Tag{tag("k", "v")}))
	if r := must[*iam.Role](t)(f.GetRole(ctx, f.acct, "ci")); len(r.Tags) != 1 {
		t.Fatalf("role tags %+v", r.Tags)
	}
}

func TestUpdateEntity(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice"}))
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "bob"}))
	key := must[*iam.NewAccessKey](t)(f.CreateAccessKey(ctx, f.acct, "alice"))
	wantMessage(t, f.UpdateEntity(ctx, UpdateEntityInput{Ref: user(f.acct, "alice"), NewName: "BOB"}), iam.CodeEntityAlreadyExists, "User with name BOB already exists.")
	wantCode(t, f.UpdateEntity(ctx, UpdateEntityInput{Ref: user(f.acct, "alice"), NewPath: "bad"}), iam.CodeValidationError)
	wantCode(t, f.UpdateEntity(ctx, UpdateEntityInput{Ref: user(f.acct, "nobody"), NewName: "x"}), iam.CodeNoSuchEntity)
	ok(t, f.UpdateEntity(ctx, UpdateEntityInput{Ref: user(f.acct, "alice"), NewName: "alicia", NewPath: "/eng/"}))
	c := must[*iam.Credential](t)(f.LookupCredential(ctx, key.ID))
	if c.Principal.ARN != iam.UserARN(f.acct, "/eng/", "alicia") || c.Principal.UserName != "alicia" {
		t.Fatalf("principal after rename %+v", c.Principal)
	}
	ok(t, f.UpdateEntity(ctx, UpdateEntityInput{Ref: user(f.acct, "alicia"), NewName: "Alicia"})) // case change of itself
	must[*iam.Group](t)(f.CreateGroup(ctx, f.acct, "devs", ""))
	ok(t, f.UpdateEntity(ctx, UpdateEntityInput{Ref: group(f.acct, "devs"), NewName: "developers"}))
	must[*iam.Group](t)(f.CreateGroup(ctx, f.acct, "devs", "")) // the old name is free again
}

func TestFailedWriteLeavesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	gen := f.Generation()
	boom := errors.New("boom")
	err := f.write(ctx, func(tx *sql.Tx) error {
		e := &entity{id: iam.NewID(iam.PrefixUser), account: f.acct, kind: iam.KindUser, name: "half", path: "/", created: 1}
		if err := insertEntity(ctx, tx, e); err != nil {
			return err
		}
		if err := mergeTags(ctx, tx, e.id, []iam.Tag{tag("k", "v")}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("write returned %v", err)
	}
	_, err = f.GetUser(ctx, f.acct, "half")
	wantCode(t, err, iam.CodeNoSuchEntity)
	n, err := count(ctx, f.reader, `SELECT COUNT(*) FROM iam_tags`)
	ok(t, err)
	if n != 0 || f.Generation() != gen {
		t.Fatalf("%d tags and generation %d after a failed write (was %d)", n, f.Generation(), gen)
	}
	// A failing CreateAccount (duplicate email) leaves no account and no role behind.
	must[*iam.Account](t)(f.CreateAccount(ctx, CreateAccountInput{Name: "dev", Email: "dev@example.com"}))
	before := must[[]iam.Account](t)(f.ListAccounts(ctx))
	roles, err := count(ctx, f.reader, `SELECT COUNT(*) FROM iam_entities WHERE kind = 'role'`)
	ok(t, err)
	_, err = f.CreateAccount(ctx, CreateAccountInput{Name: "dev2", Email: "dev@example.com"})
	wantCode(t, err, iam.CodeEmailAlreadyExists)
	after := must[[]iam.Account](t)(f.ListAccounts(ctx))
	roles2, err := count(ctx, f.reader, `SELECT COUNT(*) FROM iam_entities WHERE kind = 'role'`)
	ok(t, err)
	if len(after) != len(before) || roles2 != roles {
		t.Fatalf("accounts %d→%d roles %d→%d after a refused CreateAccount", len(before), len(after), roles, roles2)
	}
}

func TestMFADeviceTags(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dev := must[*iam.NewVirtualMFADevice](t)(f.CreateVirtualMFADevice(ctx, f.acct, "phone", "/", nil))
	ok(t, f.TagMFADevice(ctx, f.acct, dev.SerialNumber, []iam.Tag{tag("owner", "alice")}))
	if tags := must[[]iam.Tag](t)(f.ListMFADeviceTags(ctx, f.acct, dev.SerialNumber)); len(tags) != 1 || tags[0] != tag("owner", "alice") {
		t.Fatalf("tags %+v", tags)
	}
	ok(t, f.UntagMFADevice(ctx, f.acct, dev.SerialNumber, []string{"owner"}))
	if tags := must[[]iam.Tag](t)(f.ListMFADeviceTags(ctx, f.acct, dev.SerialNumber)); len(tags) != 0 {
		t.Fatalf("tags after untag %+v", tags)
	}
	wantCode(t, f.TagMFADevice(ctx, f.acct, dev.SerialNumber+"x", []iam.Tag{tag("k", "v")}), iam.CodeNoSuchEntity)
}

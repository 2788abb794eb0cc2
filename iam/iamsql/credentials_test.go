package iamsql

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/iam"
)

func TestAccessKeys(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "Alice", Tags: []iam.Tag{tag("team", "a")}}))
	k1 := must[*iam.NewAccessKey](t)(f.CreateAccessKey(ctx, f.acct, "alice"))
	k2 := must[*iam.NewAccessKey](t)(f.CreateAccessKey(ctx, f.acct, "alice"))
	if !iam.IsUniqueID(k1.ID, iam.PrefixAccessKey) || len(k1.Secret) != 40 || k1.Status != iam.StatusActive || k1.UserName != "Alice" {
		t.Fatalf("key %+v", k1)
	}
	_, err := f.CreateAccessKey(ctx, f.acct, "alice")
	wantMessage(t, err, iam.CodeLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: 2")
	_, err = f.CreateAccessKey(ctx, f.acct, "nobody")
	wantCode(t, err, iam.CodeNoSuchEntity)
	keys := must[[]iam.AccessKey](t)(f.ListAccessKeys(ctx, f.acct, "alice"))
	if len(keys) != 2 || keys[0].ID == keys[1].ID || (keys[0].ID != k1.ID && keys[0].ID != k2.ID) || (keys[1].ID != k1.ID && keys[1].ID != k2.ID) || keys[0].UserName != "Alice" {
		t.Fatalf("keys %+v", keys)
	}

	c := must[*iam.Credential](t)(f.LookupCredential(ctx, k1.ID))
	p := c.Principal
	if c.SecretAccessKey != k1.Secret || !c.Active || c.Temporary() || p.Type != iam.PrincipalUser || p.UserName != "Alice" ||
		p.ARN != iam.UserARN(f.acct, "/", "Alice") || !iam.IsUniqueID(p.UserID, iam.PrefixUser) || len(p.Tags) != 1 || p.MFAPresent() || p.AccessKeyID != k1.ID {
		t.Fatalf("credential %+v principal %+v", c, p)
	}
	if again := must[*iam.Credential](t)(f.LookupCredential(ctx, k1.ID)); again != c {
		t.Fatal("second lookup without writes was not served from the cache")
	}

	wantCode(t, f.UpdateAccessKey(ctx, f.acct, "alice", k1.ID, "Disabled"), iam.CodeValidationError)
	ok(t, f.UpdateAccessKey(ctx, f.acct, "alice", k1.ID, iam.StatusInactive))
	if c := must[*iam.Credential](t)(f.LookupCredential(ctx, k1.ID)); c.Active {
		t.Fatal("inactive key still active: cache not invalidated by the write")
	}
	for _, k := range must[[]iam.AccessKey](t)(f.ListAccessKeys(ctx, f.acct, "alice")) {
		if (k.ID == k1.ID) != (k.Status == iam.StatusInactive) {
			t.Fatalf("key %s status %s", k.ID, k.Status)
		}
	}
	// Keys belong to their user: another user's name does not reach them.
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "bob"}))
	wantMessage(t, f.DeleteAccessKey(ctx, f.acct, "bob", k1.ID), iam.CodeNoSuchEntity, "The Access Key with id "+k1.ID+" cannot be found.")
	wantCode(t, f.UpdateAccessKey(ctx, f.acct, "", k1.ID, iam.StatusActive), iam.CodeNoSuchEntity) // not root's key

	// Last used: recorded, coalesced within a minute.
	_, _, use, err := f.AccessKeyLastUsed(ctx, k2.ID)
	ok(t, err)
	if !use.At.IsZero() {
		t.Fatalf("fresh key used at %v", use.At)
	}
	gen := f.Generation()
	ok(t, f.RecordAccessKeyUse(ctx, k2.ID, "ecr", "us-east-1"))
	first := f.clock.Now()
	f.clock.Add(30 * time.Second)
	ok(t, f.RecordAccessKeyUse(ctx, k2.ID, "sts", "eu-west-1"))
	acct, owner, use, err := f.AccessKeyLastUsed(ctx, k2.ID)
	ok(t, err)
	if acct != f.acct || owner != "Alice" || !use.At.Equal(first) || use.Service != "ecr" || use.Region != "us-east-1" {
		t.Fatalf("last used %s %s %+v", acct, owner, use)
	}
	f.clock.Add(time.Minute)
	ok(t, f.RecordAccessKeyUse(ctx, k2.ID, "sts", "eu-west-1"))
	if _, _, use, _ = f.AccessKeyLastUsed(ctx, k2.ID); use.Service != "sts" {
		t.Fatalf("use after a minute not recorded: %+v", use)
	}
	if f.Generation() != gen {
		t.Fatal("recording key use moved the generation")
	}
	_, _, _, err = f.AccessKeyLastUsed(ctx, "AKIAXXXXXXXXXXXXXXXX")
	wantCode(t, err, iam.CodeNoSuchEntity)

	ok(t, f.DeleteAccessKey(ctx, f.acct, "alice", k1.ID))
	_, err = f.LookupCredential(ctx, k1.ID)
	wantCode(t, err, iam.CodeNoSuchEntity)
	// Root can hold two keys as well (bootstrap made one).
	must[*iam.NewAccessKey](t)(f.CreateAccessKey(ctx, f.acct, ""))
	_, err = f.CreateAccessKey(ctx, f.acct, "")
	wantCode(t, err, iam.CodeLimitExceeded)
}

func TestVirtualMFA(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice"}))
	dev := must[*iam.NewVirtualMFADevice](t)(f.CreateVirtualMFADevice(ctx, f.acct, "alice-phone", "/", []iam.Tag{tag("k", "v")}))
	if dev.SerialNumber != "arn:aws:iam::"+f.acct+":mfa/alice-phone" || len(dev.Base32Seed) != 64 || !strings.HasPrefix(dev.OTPAuthURI, "otpauth://totp/") {
		t.Fatalf("device %+v", dev)
	}
	_, err := f.CreateVirtualMFADevice(ctx, f.acct, "alice-phone", "/", nil)
	wantMessage(t, err, iam.CodeEntityAlreadyExists, "MFADevice entity at the same path and name already exists.")
	_, err = f.CreateVirtualMFADevice(ctx, f.acct, "bad name", "/", nil)
	wantCode(t, err, iam.CodeValidationError)
	if un := must[[]iam.MFADevice](t)(f.ListVirtualMFADevices(ctx, f.acct, AssignmentUnassigned)); len(un) != 1 || len(un[0].Tags) != 1 {
		t.Fatalf("unassigned %+v", un)
	}
	seed := must[[]byte](t)(base32Decode(dev.Base32Seed))
	step := iam.TOTPStepAt(f.clock.Now())
	code := func(s int64) string { return iam.HOTP(seed, s, 6) }

	wantMessage(t, f.EnableMFADevice(ctx, f.acct, "alice", dev.SerialNumber, code(step), code(step-1)), iam.CodeInvalidAuthenticationCode,
		"Authentication code for device is not valid.")
	wantCode(t, f.EnableMFADevice(ctx, f.acct, "alice", dev.SerialNumber, code(step-20), code(step-19)), iam.CodeInvalidAuthenticationCode)
	wantCode(t, f.EnableMFADevice(ctx, f.acct, "alice", dev.SerialNumber, "12345", "123456"), iam.CodeValidationError)
	wantCode(t, f.EnableMFADevice(ctx, f.acct, "nobody", dev.SerialNumber, code(step-1), code(step)), iam.CodeNoSuchEntity)
	wantCode(t, f.EnableMFADevice(ctx, f.acct, "alice", dev.SerialNumber+"x", code(step-1), code(step)), iam.CodeNoSuchEntity)
	ok(t, f.EnableMFADevice(ctx, f.acct, "alice", dev.SerialNumber, code(step-1), code(step)))
	wantCode(t, f.EnableMFADevice(ctx, f.acct, "alice", dev.SerialNumber, code(step), code(step+1)), iam.CodeEntityAlreadyExists)
	if list := must[[]iam.MFADevice](t)(f.ListMFADevices(ctx, f.acct, "alice")); len(list) != 1 || list[0].UserName != "alice" || list[0].EnabledAt.IsZero() {
		t.Fatalf("user devices %+v", list)
	}
	if as := must[[]iam.MFADevice](t)(f.ListVirtualMFADevices(ctx, f.acct, AssignmentAssigned)); len(as) != 1 || as[0].UserName != "alice" {
		t.Fatalf("assigned %+v", as)
	}

	// The codes used to enable cannot be replayed; the next step's code works once.
	_, _, err = f.VerifyMFACode(ctx, f.acct, dev.SerialNumber, code(step))
	wantCode(t, err, iam.CodeInvalidAuthenticationCode)
	f.clock.Add(iam.TOTPStep)
	d, at, err := f.VerifyMFACode(ctx, f.acct, dev.SerialNumber, code(step+1))
	ok(t, err)
	if d.UserName != "alice" || !at.Equal(f.clock.Now()) {
		t.Fatalf("verified %+v at %v", d, at)
	}
	_, _, err = f.VerifyMFACode(ctx, f.acct, dev.SerialNumber, code(step+1))
	wantCode(t, err, iam.CodeInvalidAuthenticationCode)
	f.clock.Add(5 * iam.TOTPStep)
	_, _, err = f.VerifyMFACode(ctx, f.acct, dev.SerialNumber, code(step+2)) // too old now
	wantCode(t, err, iam.CodeInvalidAuthenticationCode)

	wantMessage(t, f.DeleteVirtualMFADevice(ctx, f.acct, dev.SerialNumber), iam.CodeDeleteConflict, "MFA device is still in use.")
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "bob"}))
	wantCode(t, f.DeactivateMFADevice(ctx, f.acct, "bob", dev.SerialNumber), iam.CodeNoSuchEntity)
	ok(t, f.DeactivateMFADevice(ctx, f.acct, "alice", dev.SerialNumber))
	_, _, err = f.VerifyMFACode(ctx, f.acct, dev.SerialNumber, code(iam.TOTPStepAt(f.clock.Now())))
	wantCode(t, err, iam.CodeInvalidAuthenticationCode) // unassigned devices authenticate nobody
	ok(t, f.DeleteVirtualMFADevice(ctx, f.acct, dev.SerialNumber))
	wantCode(t, f.DeleteVirtualMFADevice(ctx, f.acct, dev.SerialNumber), iam.CodeNoSuchEntity)
	if all := must[[]iam.MFADevice](t)(f.ListVirtualMFADevices(ctx, f.acct, "")); len(all) != 0 {
		t.Fatalf("devices after delete %+v", all)
	}
}

func TestAssumeRoleSessions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	r := must[*iam.Role](t)(f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "ci", Path: "/svc/", AssumeRolePolicy: trustAccount(f.acct),
		MaxSessionDuration: 7200, Tags: []iam.Tag{tag("team", "ops"), tag("env", "dev")}}))
	mfaAt := f.clock.Now().Add(-time.Minute)
	sess := must[*iam.Session](t)(f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: r.ARN, SessionName: "build-1", DurationSeconds: 7200,
		Tags: []iam.Tag{tag("ENV", "prod")}, TransitiveTagKeys: []string{"team"}, MFAAuthTime: mfaAt, SourceIdentity: "alice",
		Policy: allowPull, PolicyARNs: []string{"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"}}))
	if !iam.IsUniqueID(sess.AccessKeyID, iam.PrefixTemporaryKey) || len(sess.SecretAccessKey) != 40 || len(sess.SessionToken) < 100 ||
		!sess.Expiration.Equal(f.clock.Now().Add(2*time.Hour)) {
		t.Fatalf("session %+v", sess)
	}
	c := must[*iam.Credential](t)(f.LookupCredential(ctx, sess.AccessKeyID))
	p := c.Principal
	if p.ARN != "arn:aws:sts::"+f.acct+":assumed-role/ci/build-1" || p.PrincipalARN() != r.ARN || p.UserID != r.ID+":build-1" ||
		p.Type != iam.PrincipalAssumedRole || !p.MFAAuthTime.Equal(mfaAt) || !p.TokenIssueTime.Equal(f.clock.Now()) || p.SourceIdentity != "alice" {
		t.Fatalf("principal %+v", p)
	}
	if len(p.Tags) != 2 || p.Tags[0] != tag("ENV", "prod") || p.Tags[1] != tag("team", "ops") {
		t.Fatalf("session tags %+v (session tags must override role tags)", p.Tags)
	}
	if c.SecretAccessKey != sess.SecretAccessKey || !c.TokenMatches(sess.SessionToken) || c.TokenMatches("forged") || c.Expired(f.clock.Now()) {
		t.Fatal("credential check wrong")
	}
	f.clock.Add(2 * time.Hour)
	if !c.Expired(f.clock.Now()) {
		t.Fatal("session not expired after its duration")
	}

	_, err := f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: r.ARN, SessionName: "x", DurationSeconds: 900})
	wantCode(t, err, iam.CodeValidationError) // session name too short
	_, err = f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: r.ARN, SessionName: "long", DurationSeconds: 7201})
	wantMessage(t, err, iam.CodeValidationError, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	_, err = f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: r.ARN, SessionName: "short", DurationSeconds: 899})
	wantCode(t, err, iam.CodeValidationError)
	_, err = f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: iam.RoleARN(f.acct, "/", "ci"), SessionName: "wrong-path"})
	wantCode(t, err, iam.CodeNoSuchEntity)
	_, err = f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: r.ARN, SessionName: "bad-policy", Policy: "{"})
	wantCode(t, err, iam.CodeMalformedPolicyDocument)
	_, err = f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: r.ARN, SessionName: "big-policy", Policy: allowPull + strings.Repeat(" ", 2048)})
	wantCode(t, err, iam.CodeValidationError)
	_, err = f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: r.ARN, SessionName: "aws-source", SourceIdentity: "aws:me"})
	wantCode(t, err, iam.CodeValidationError)

	// Role chaining: at most an hour; transitive tags and MFA carry over.
	f.clock.Add(-2 * time.Hour)
	must[*iam.Role](t)(f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "deploy", AssumeRolePolicy: trustAccount(f.acct), MaxSessionDuration: 43200}))
	deployARN := iam.RoleARN(f.acct, "/", "deploy")
	_, err = f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: deployARN, SessionName: "chain", DurationSeconds: 7200, Caller: p})
	wantMessage(t, err, iam.CodeValidationError, "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	chained := must[*iam.Session](t)(f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: deployARN, SessionName: "chain", Caller: p}))
	cp := chained.Principal
	if len(cp.Tags) != 1 || cp.Tags[0] != tag("team", "ops") || !cp.MFAAuthTime.Equal(mfaAt) || cp.SourceIdentity != "alice" {
		t.Fatalf("chained principal %+v", cp)
	}

	// Expire and purge.
	ok(t, f.ExpireSession(ctx, chained.AccessKeyID))
	if c := must[*iam.Credential](t)(f.LookupCredential(ctx, chained.AccessKeyID)); !c.Expired(f.clock.Now()) {
		t.Fatal("expired session still valid")
	}
	wantCode(t, f.ExpireSession(ctx, "ASIAXXXXXXXXXXXXXXXX"), iam.CodeNoSuchEntity)
	f.clock.Add(3 * time.Hour)
	n := must[int](t)(f.DeleteExpiredSessions(ctx))
	if n != 2 {
		t.Fatalf("purged %d sessions, want 2", n)
	}
	_, err = f.LookupCredential(ctx, sess.AccessKeyID)
	wantCode(t, err, iam.CodeNoSuchEntity)
}

func TestGetSessionToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice"}))
	at := f.clock.Now()
	sess := must[*iam.Session](t)(f.GetSessionToken(ctx, iam.SessionTokenInput{Account: f.acct, UserName: "alice", MFAAuthTime: at}))
	if !sess.Expiration.Equal(at.Add(12*time.Hour)) || sess.Principal.Type != iam.PrincipalUser || !sess.Principal.MFAPresent() || !sess.Principal.Temporary {
		t.Fatalf("session %+v", sess)
	}
	c := must[*iam.Credential](t)(f.LookupCredential(ctx, sess.AccessKeyID))
	if c.Principal.ARN != iam.UserARN(f.acct, "/", "alice") || !c.Principal.MFAAuthTime.Equal(at) {
		t.Fatalf("principal %+v", c.Principal)
	}
	root := must[*iam.Session](t)(f.GetSessionToken(ctx, iam.SessionTokenInput{Account: f.acct}))
	if root.Principal.Type != iam.PrincipalRoot || !root.Expiration.Equal(at.Add(time.Hour)) {
		t.Fatalf("root session %+v", root)
	}
	_, err := f.GetSessionToken(ctx, iam.SessionTokenInput{Account: f.acct, DurationSeconds: 7200})
	wantCode(t, err, iam.CodeValidationError)
	_, err = f.GetSessionToken(ctx, iam.SessionTokenInput{Account: f.acct, UserName: "alice", DurationSeconds: 129601})
	wantCode(t, err, iam.CodeValidationError)
	_, err = f.GetSessionToken(ctx, iam.SessionTokenInput{Account: f.acct, UserName: "nobody"})
	wantCode(t, err, iam.CodeNoSuchEntity)
}

func TestConcurrentWritersAndReaders(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice"}))
	key := must[*iam.NewAccessKey](t)(f.CreateAccessKey(ctx, f.acct, "alice"))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				if _, err := f.CreateGroup(ctx, f.acct, "g"+string(rune('a'+w))+string(rune('a'+i)), ""); err != nil {
					errs <- err
				}
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				c, err := f.LookupCredential(ctx, key.ID)
				if err != nil {
					errs <- err
					return
				}
				if _, err := f.PoliciesFor(ctx, c.Principal); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if gs := must[[]iam.Group](t)(f.ListGroups(ctx, f.acct, "")); len(gs) != 20 {
		t.Fatalf("%d groups, want 20", len(gs))
	}
}

func TestIssuingSessionsKeepsCachesWarm(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	must[*iam.User](t)(f.CreateUser(ctx, CreateUserInput{Account: f.acct, Name: "alice"}))
	must[*iam.Role](t)(f.CreateRole(ctx, CreateRoleInput{Account: f.acct, Name: "ci", AssumeRolePolicy: trustAccount(f.acct)}))
	c := must[*iam.Credential](t)(f.LookupCredential(ctx, f.org.RootKey.ID))
	gen := f.Generation()
	s1 := must[*iam.Session](t)(f.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: iam.RoleARN(f.acct, "/", "ci"), SessionName: "one"}))
	must[*iam.Session](t)(f.GetSessionToken(ctx, iam.SessionTokenInput{Account: f.acct, UserName: "alice"}))
	if f.Generation() != gen {
		t.Fatal("issuing sessions moved the generation")
	}
	if again := must[*iam.Credential](t)(f.LookupCredential(ctx, f.org.RootKey.ID)); again != c {
		t.Fatal("cache dropped by issuing sessions")
	}
	// The new session is found at once (misses are never cached), and expiring it does move the generation.
	must[*iam.Credential](t)(f.LookupCredential(ctx, s1.AccessKeyID))
	ok(t, f.ExpireSession(ctx, s1.AccessKeyID))
	if f.Generation() == gen {
		t.Fatal("expiring a session did not move the generation")
	}
	if c := must[*iam.Credential](t)(f.LookupCredential(ctx, s1.AccessKeyID)); !c.Expired(f.clock.Now()) {
		t.Fatal("stale cached session after ExpireSession")
	}
}

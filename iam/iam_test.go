package iam

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidationNames(t *testing.T) {
	cases := []struct {
		name    string
		value   string
		max     int
		wantErr string
	}{
		{"plain", "alice", 64, ""},
		{"all allowed punctuation", "a+b=c,d.e@f-g_h", 64, ""},
		{"max length", strings.Repeat("a", 64), 64, ""},
		{"too long", strings.Repeat("a", 65), 64, "Member must have length less than or equal to 64"},
		{"empty", "", 64, "Member must have length greater than or equal to 1"},
		{"space", "bad name", 64, `Member must satisfy regular expression pattern: [\w+=,.@-]+`},
		{"slash", "a/b", 128, `regular expression pattern`},
		{"unicode", "jürgen", 64, `regular expression pattern`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v Validation
			v.Name("userName", c.value, c.max)
			err := v.Err()
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if ErrorCode(err) != CodeValidationError || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("got %v, want ValidationError containing %q", err, c.wantErr)
			}
			want := "1 validation error detected: Value '" + c.value + "' at 'userName' failed to satisfy constraint: "
			if !strings.HasPrefix(err.(*Error).Message, want) {
				t.Fatalf("message %q does not start with %q", err.(*Error).Message, want)
			}
		})
	}
}

func TestValidationCountsProblems(t *testing.T) {
	var v Validation
	v.Name("userName", "bad name", 64)
	v.Path("path", "nope")
	err := v.Err()
	if err == nil || !strings.HasPrefix(err.(*Error).Message, "2 validation errors detected: ") || !strings.Contains(err.Error(), "; Value 'nope' at 'path'") {
		t.Fatalf("got %v", err)
	}
}

func TestValidationPaths(t *testing.T) {
	cases := []struct {
		path        string
		entity, pol bool
	}{
		{"/", true, true},
		{"/division_abc/subdivision_xyz/", true, true},
		{"/a b/", false, false},
		{"no-slash", false, false},
		{"/missing-trailing", false, false},
		{"//", false, false},
		{"/a~b/", true, false}, // entity paths allow any printable ASCII, policy paths fewer characters
		{"/" + strings.Repeat("a", 511), false, false},
	}
	for _, c := range cases {
		var v Validation
		v.Path("path", c.path)
		if got := v.Err() == nil; got != c.entity {
			t.Errorf("entity path %q valid=%v, want %v", c.path, got, c.entity)
		}
		var pv Validation
		pv.PolicyPath("path", c.path)
		if got := pv.Err() == nil; got != c.pol {
			t.Errorf("policy path %q valid=%v, want %v", c.path, got, c.pol)
		}
	}
}

func TestValidationTagsAndOthers(t *testing.T) {
	cases := []struct {
		name string
		fn   func(v *Validation)
		ok   bool
	}{
		{"tag ok", func(v *Validation) { v.Tags("tags", []Tag{{"team", "a b:c/d=e+f-g@h_i.j"}, {"Ünïcode", ""}}) }, true},
		{"tag key bad char", func(v *Validation) { v.Tags("tags", []Tag{{"a*b", "x"}}) }, false},
		{"tag key too long", func(v *Validation) { v.Tags("tags", []Tag{{strings.Repeat("k", 129), "x"}}) }, false},
		{"tag value too long", func(v *Validation) { v.Tags("tags", []Tag{{"k", strings.Repeat("v", 257)}}) }, false},
		{"too many tags", func(v *Validation) { v.Tags("tags", make([]Tag, 51)) }, false},
		{"session duration low", func(v *Validation) { v.MaxSessionDuration("maxSessionDuration", 3599) }, false},
		{"session duration high", func(v *Validation) { v.MaxSessionDuration("maxSessionDuration", 43201) }, false},
		{"session duration ok", func(v *Validation) { v.MaxSessionDuration("maxSessionDuration", 43200) }, true},
		{"description ok", func(v *Validation) { v.Description("description", "Role für CI") }, true},
		{"description emoji", func(v *Validation) { v.Description("description", "rocket 🚀") }, false},
		{"description too long", func(v *Validation) { v.Description("description", strings.Repeat("d", 1001)) }, false},
		{"version ok", func(v *Validation) { v.VersionID("versionId", "v12") }, true},
		{"version zero", func(v *Validation) { v.VersionID("versionId", "v0") }, false},
		{"session name short", func(v *Validation) { v.SessionName("roleSessionName", "a") }, false},
		{"session name ok", func(v *Validation) { v.SessionName("roleSessionName", "ci@build-42") }, true},
		{"document charset", func(v *Validation) { v.PolicyDocument("policyDocument", "{\"x\":\"\u2603\"}") }, false},
		{"path prefix", func(v *Validation) { v.PathPrefix("pathPrefix", "/team") }, true},
		{"path prefix no slash", func(v *Validation) { v.PathPrefix("pathPrefix", "team") }, false},
		{"enum", func(v *Validation) { v.Enum("status", "Enabled", StatusActive, StatusInactive) }, false},
	}
	for _, c := range cases {
		var v Validation
		c.fn(&v)
		if got := v.Err() == nil; got != c.ok {
			t.Errorf("%s: valid=%v, want %v (%v)", c.name, got, c.ok, v.Err())
		}
	}
	if err := CheckTagKeysUnique([]Tag{{"Team", "a"}, {"team", "b"}}); ErrorCode(err) != CodeInvalidInput {
		t.Fatalf("duplicate keys differing in case: %v", err)
	}
}

func TestPolicySizeIgnoresWhitespace(t *testing.T) {
	if got := PolicySize("{ \"a\" :\n\t1 }"); got != 7 {
		t.Fatalf("PolicySize = %d, want 7", got)
	}
}

func TestIDs(t *testing.T) {
	for _, prefix := range []string{PrefixUser, PrefixGroup, PrefixRole, PrefixPolicy, PrefixAccessKey, PrefixTemporaryKey} {
		id := NewID(prefix)
		if !IsUniqueID(id, prefix) || len(id) != 20 {
			t.Errorf("NewID(%s) = %q", prefix, id)
		}
	}
	cases := []struct {
		id, prefix string
		ok         bool
	}{
		{"AKIAIOSFODNN7EXAMPL", "AKIA", false},
		{"AKIAIOSFODNN7EXAMPLE", "AKIA", true},
		{"AKIAiosfodnn7example", "AKIA", false},
		{"ASIAIOSFODNN7EXAMPLE", "AKIA", false},
	}
	for _, c := range cases {
		if IsUniqueID(c.id, c.prefix) != c.ok {
			t.Errorf("IsUniqueID(%q, %q) != %v", c.id, c.prefix, c.ok)
		}
	}
	if a := NewAccountID(); !IsAccountID(a) || a[0] == '0' {
		t.Errorf("NewAccountID = %q", a)
	}
	for _, bad := range []string{"12345678901", "1234567890123", "12345678901a"} {
		if IsAccountID(bad) {
			t.Errorf("IsAccountID(%q) = true", bad)
		}
	}
	if o := NewOrganizationID(); !IsOrganizationID(o) {
		t.Errorf("NewOrganizationID = %q", o)
	}
	if IsOrganizationID("o-ABCDEFGHIJ") {
		t.Error("upper-case organization id accepted")
	}
	if r := NewRootID(); len(r) != 6 || !strings.HasPrefix(r, "r-") {
		t.Errorf("NewRootID = %q", r)
	}
	if s := NewSecretAccessKey(); len(s) != 40 {
		t.Errorf("secret %q has %d characters", s, len(s))
	}
	if NewSecretAccessKey() == NewSecretAccessKey() {
		t.Error("two secrets are equal")
	}
}

func TestARNs(t *testing.T) {
	if got := UserARN("123456789012", "/team/", "alice"); got != "arn:aws:iam::123456789012:user/team/alice" {
		t.Errorf("UserARN = %s", got)
	}
	if got := RoleARN("123456789012", "", "ci"); got != "arn:aws:iam::123456789012:role/ci" {
		t.Errorf("RoleARN = %s", got)
	}
	if got := AssumedRoleARN("123456789012", "ci", "build"); got != "arn:aws:sts::123456789012:assumed-role/ci/build" {
		t.Errorf("AssumedRoleARN = %s", got)
	}
	if got := MFAARN("123456789012", "/", "alice"); got != "arn:aws:iam::123456789012:mfa/alice" {
		t.Errorf("MFAARN = %s", got)
	}
	cases := []struct {
		arn  string
		ok   bool
		want IAMResource
	}{
		{"arn:aws:iam::123456789012:user/alice", true, IAMResource{"123456789012", "user", "/", "alice"}},
		{"arn:aws:iam::123456789012:role/a/b/ci", true, IAMResource{"123456789012", "role", "/a/b/", "ci"}},
		{"arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy", true, IAMResource{"aws", "policy", "/service-role/", "AmazonECSTaskExecutionRolePolicy"}},
		{"arn:aws:iam::12345:user/alice", false, IAMResource{}},
		{"arn:aws:iam::123456789012:root", false, IAMResource{}},
		{"arn:aws:iam::123456789012:user/", false, IAMResource{}},
		{"arn:aws:s3:::bucket", false, IAMResource{}},
	}
	for _, c := range cases {
		got, ok := ParseIAMARN(c.arn)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseIAMARN(%q) = %+v, %v", c.arn, got, ok)
		}
	}
	if _, ok := ParsePolicyARN("arn:aws:iam::123456789012:user/alice"); ok {
		t.Error("user ARN parsed as policy ARN")
	}
}

// RFC 6238 appendix B, SHA-1 rows; the seed is the ASCII string "12345678901234567890".
func TestTOTPRFC6238Vectors(t *testing.T) {
	seed := []byte("12345678901234567890")
	vectors := []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, v := range vectors {
		step := TOTPStepAt(time.Unix(v.unix, 0))
		if got := HOTP(seed, step, 8); got != v.code {
			t.Errorf("t=%d: HOTP = %s, want %s", v.unix, got, v.code)
		}
		if got := TOTPCode(seed, time.Unix(v.unix, 0)); got != v.code[2:] {
			t.Errorf("t=%d: 6-digit code = %s, want %s", v.unix, got, v.code[2:])
		}
	}
}

func TestMatchTOTPWindowAndReuse(t *testing.T) {
	seed := NewTOTPSeed()
	now := time.Unix(1_800_000_000, 0)
	cur := TOTPStepAt(now)
	for _, d := range []int64{-1, 0, 1} {
		code := HOTP(seed, cur+d, 6)
		step, ok := MatchTOTP(seed, code, now, 0)
		if !ok || step != cur+d {
			t.Errorf("offset %d: ok=%v step=%d", d, ok, step)
		}
		if _, ok := MatchTOTP(seed, code, now, step); ok {
			t.Errorf("offset %d: reused code accepted", d)
		}
	}
	for _, d := range []int64{-2, 2} {
		if _, ok := MatchTOTP(seed, HOTP(seed, cur+d, 6), now, 0); ok {
			t.Errorf("offset %d accepted outside the window", d)
		}
	}
	if _, ok := MatchTOTP(seed, "12345", now, 0); ok {
		t.Error("5-digit code accepted")
	}
	last, ok := MatchConsecutiveTOTP(seed, HOTP(seed, cur-1, 6), HOTP(seed, cur, 6), now)
	if !ok || last != cur {
		t.Errorf("consecutive codes: ok=%v last=%d", ok, last)
	}
	if _, ok := MatchConsecutiveTOTP(seed, HOTP(seed, cur, 6), HOTP(seed, cur-1, 6), now); ok {
		t.Error("codes in the wrong order accepted")
	}
	if uri := OTPAuthURI(seed, "alice@123456789012", "Coffer"); !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+Base32Seed(seed)) {
		t.Errorf("OTPAuthURI = %s", uri)
	}
}

func TestSealer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iam.key")
	key, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", info.Mode().Perm())
	}
	again, err := LoadOrCreateKey(path)
	if err != nil || string(again) != string(key) {
		t.Fatalf("second load differs: %v", err)
	}
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal([]byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), []byte("AKIA1"))
	if strings.Contains(string(sealed), "wJalrXUtnFEMI") {
		t.Fatal("plaintext visible in sealed bytes")
	}
	if got, err := s.Open(sealed, []byte("AKIA1")); err != nil || string(got) != "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(sealed, []byte("AKIA2")); err == nil {
		t.Fatal("ciphertext moved to another row still opens")
	}
	other, _ := NewSealer(make([]byte, KeySize))
	if _, err := other.Open(sealed, []byte("AKIA1")); err == nil {
		t.Fatal("opened with the wrong key")
	}
	os.WriteFile(path, []byte("short"), 0o600)
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Fatal("a key file of the wrong size was accepted")
	}
}

func TestAWSManagedPolicies(t *testing.T) {
	want := map[string]string{
		"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly":               "v3",
		"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser":              "v3",
		"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess":             "v3",
		"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly":               "v1",
		"arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy":    "v1",
		"arn:aws:iam::aws:policy/AdministratorAccess":                              "v1",
		"arn:aws:iam::aws:policy/ReadOnlyAccess":                                   "v182",
		"arn:aws:iam::aws:policy/IAMUserChangePassword":                            "v5",
		"arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role": "v10",
	}
	for arn, version := range want {
		p, ok := LookupAWSManagedPolicy(arn)
		if !ok {
			t.Errorf("%s missing", arn)
			continue
		}
		if p.Policy.DefaultVersionID != version || !p.Policy.AWSManaged() || !IsUniqueID(p.Policy.ID, PrefixPolicy) {
			t.Errorf("%s: %+v", arn, p.Policy)
		}
		var doc struct {
			Version   string
			Statement []map[string]any
		}
		if err := json.Unmarshal([]byte(p.Document), &doc); err != nil || doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
			t.Errorf("%s: document %v %+v", arn, err, doc)
		}
	}
	admin, _ := LookupAWSManagedPolicy(AdministratorAccessARN)
	var doc struct {
		Statement []struct{ Effect, Action, Resource string }
	}
	json.Unmarshal([]byte(admin.Document), &doc)
	if len(doc.Statement) != 1 || doc.Statement[0].Action != "*" || doc.Statement[0].Resource != "*" || doc.Statement[0].Effect != "Allow" {
		t.Errorf("AdministratorAccess = %s", admin.Document)
	}
	pull, _ := LookupAWSManagedPolicy("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly")
	for _, action := range []string{"ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchImportUpstreamImage"} {
		if !strings.Contains(pull.Document, `"`+action+`"`) {
			t.Errorf("PullOnly lacks %s", action)
		}
	}
	if len(AWSManagedPolicies()) != len(want) {
		t.Errorf("%d built-in policies, want %d", len(AWSManagedPolicies()), len(want))
	}
}

func TestCredentialToken(t *testing.T) {
	token := NewSessionToken()
	c := NewTemporaryCredential("ASIAXXXXXXXXXXXXXXXX", "secret", HashToken(token), time.Unix(100, 0), &Principal{})
	if c.TokenHash() != HashToken(token) {
		t.Error("TokenHash differs from HashToken of the token")
	}
	if !c.TokenMatches(token) || c.TokenMatches(token+"x") || c.TokenMatches("") {
		t.Error("token comparison wrong")
	}
	if !c.Expired(time.Unix(100, 0)) || c.Expired(time.Unix(99, 0)) {
		t.Error("expiry wrong")
	}
	long := &Credential{AccessKeyID: "AKIA", Active: true}
	if long.Temporary() || long.Expired(time.Now()) || !long.TokenMatches("") || long.TokenMatches("x") {
		t.Error("long-term credential misjudged")
	}
}

func TestErrorStatus(t *testing.T) {
	for code, status := range map[string]int{CodeNoSuchEntity: 404, CodeEntityAlreadyExists: 409, CodeLimitExceeded: 409,
		CodeDeleteConflict: 409, CodeMalformedPolicyDocument: 400, CodeInvalidAuthenticationCode: 403, CodeValidationError: 400} {
		if got := (&Error{Code: code}).HTTPStatus(); got != status {
			t.Errorf("%s: %d, want %d", code, got, status)
		}
	}
}

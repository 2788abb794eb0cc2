package policy

import (
	"strings"
	"testing"
)

const (
	acctA   = "111122223333"
	acctB   = "444455556666"
	aliceRN = "arn:aws:iam::111122223333:user/alice"
	repoARN = "arn:aws:ecr:us-east-1:111122223333:repository/team/app"
)

func mustParse(t testing.TB, kind Kind, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc), kind)
	if err != nil {
		t.Fatalf("parse %s: %v", doc, err)
	}
	return p
}

func alice(ctx *Context) *Request {
	return &Request{Principal: Principal{Type: PrincipalUser, ARN: aliceRN, Account: acctA},
		Action: "ecr:BatchGetImage", Resource: repoARN, ResourceAccount: acctA, Context: ctx}
}

func session(role, name, acct string) Principal {
	return Principal{Type: PrincipalAssumedRole, ARN: "arn:aws:sts::" + acct + ":assumed-role/" + role + "/" + name,
		Account: acct, RoleARN: "arn:aws:iam::" + acct + ":role/" + role}
}

// condDecision evaluates an identity Allow on "*" guarded by one condition block.
func condDecision(t *testing.T, cond string, ctx *Context) bool {
	t.Helper()
	p := mustParse(t, KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":`+cond+`}}`)
	return Evaluate(alice(ctx), &PolicySet{Identity: []*Policy{p}}).Allowed()
}

func TestConditionOperators(t *testing.T) {
	ctx := NewContext().
		MustSet("aws:username", TypeString, "alice").
		MustSet("aws:PrincipalTag/Team", TypeString, "Payments").
		MustSet("aws:TagKeys", TypeStringList, "env", "team").
		MustSet("aws:EmptyList", TypeStringList).
		MustSet("aws:SourceIp", TypeIP, "10.1.2.3").
		MustSet("aws:SourceIpV6", TypeIP, "2001:db8::5").
		MustSet("aws:SecureTransport", TypeBool, "true").
		MustSet("aws:MultiFactorAuthAge", TypeNumeric, "120").
		MustSet("aws:CurrentTime", TypeDate, "2025-06-01T12:00:00Z").
		MustSet("aws:EpochTime", TypeNumeric, "1748779200").
		MustSet("aws:PrincipalArn", TypeString, "arn:aws:iam::111122223333:role/ci-build").
		MustSet("ecr:Blob", TypeBinary, "AQID")
	cases := []struct {
		cond string
		want bool
	}{
		{`{"StringEquals":{"aws:username":"alice"}}`, true},
		{`{"StringEquals":{"AWS:USERNAME":"alice"}}`, true}, // key names ignore case
		{`{"StringEquals":{"aws:username":"Alice"}}`, false},
		{`{"StringEquals":{"aws:username":["bob","alice"]}}`, true}, // values OR
		{`{"StringNotEquals":{"aws:username":["bob","alice"]}}`, false},
		{`{"StringNotEquals":{"aws:username":["bob","carol"]}}`, true},
		{`{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}`, true},
		{`{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}`, false},
		{`{"StringLike":{"aws:username":"a*e"}}`, true},
		{`{"StringLike":{"aws:username":"a?ice"}}`, true},
		{`{"StringLike":{"aws:username":"A*"}}`, false},
		{`{"StringNotLike":{"aws:username":"b*"}}`, true},
		{`{"StringEquals":{"aws:missing":"x"}}`, false},                                             // missing key: positive is false
		{`{"StringNotEquals":{"aws:missing":"x"}}`, true},                                           // negated is true
		{`{"StringEqualsIfExists":{"aws:missing":"x"}}`, true},                                      // IfExists: missing is true
		{`{"StringEqualsIfExists":{"aws:username":"bob"}}`, false},                                  // present: evaluated
		{`{"StringEquals":{"aws:username":"alice"},"Bool":{"aws:SecureTransport":"false"}}`, false}, // operators AND
		{`{"StringEquals":{"aws:username":"alice","aws:PrincipalTag/team":"Payments"}}`, true},      // keys AND, tag key case
		{`{"StringEquals":{"aws:username":"alice","aws:PrincipalTag/team":"payments"}}`, false},
		{`{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}`, true},
		{`{"NumericLessThan":{"aws:MultiFactorAuthAge":3600}}`, true}, // unquoted number
		{`{"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":"120"}}`, true},
		{`{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"120"}}`, false},
		{`{"NumericEquals":{"aws:MultiFactorAuthAge":"120.0"}}`, true},
		{`{"NumericNotEquals":{"aws:MultiFactorAuthAge":"120"}}`, false},
		{`{"NumericLessThanEquals":{"aws:MultiFactorAuthAge":"119"}}`, false},
		{`{"DateGreaterThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}`, true},
		{`{"DateLessThan":{"aws:CurrentTime":"2025-01-01"}}`, false},
		{`{"DateEquals":{"aws:CurrentTime":"1748779200"}}`, true}, // epoch seconds
		{`{"DateLessThanEquals":{"aws:EpochTime":"2025-06-01T12:00:00+00:00"}}`, true},
		{`{"DateNotEquals":{"aws:CurrentTime":"2025-06-01T12:00:00Z"}}`, false},
		{`{"DateGreaterThan":{"aws:CurrentTime":"2025-05"}}`, true},
		{`{"DateEquals":{"aws:CurrentTime":"2025-06-01t12:00:00.000z"}}`, true},
		{`{"DateLessThan":{"aws:CurrentTime":"2025-06-01T13"}}`, true},
		{`{"DateGreaterThanEquals":{"aws:CurrentTime":"2025-06-01T14:00:00+02:00"}}`, true},
		{`{"Bool":{"aws:SecureTransport":"true"}}`, true},
		{`{"Bool":{"aws:SecureTransport":true}}`, true},
		{`{"Bool":{"aws:SecureTransport":"false"}}`, false},
		{`{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, true},
		{`{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, true},
		{`{"IpAddress":{"aws:SourceIp":"10.1.2.3"}}`, true}, // bare address is /32
		{`{"IpAddress":{"aws:SourceIp":["192.168.0.0/16","172.16.0.0/12"]}}`, false},
		{`{"NotIpAddress":{"aws:SourceIp":"192.168.0.0/16"}}`, true},
		{`{"IpAddress":{"aws:SourceIpV6":"2001:db8::/32"}}`, true},
		{`{"IpAddress":{"aws:SourceIpV6":"10.0.0.0/8"}}`, false},
		{`{"NotIpAddress":{"aws:SourceIpV6":"2001:db9::/32"}}`, true},
		{`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/ci-*"}}`, true},
		{`{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/ci-build"}}`, true},
		{`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`, false},
		{`{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`, true},
		{`{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/ci-build"}}`, false},
		{`{"BinaryEquals":{"ecr:Blob":"AQID"}}`, true},
		{`{"BinaryEquals":{"ecr:Blob":"AQIE"}}`, false},
		{`{"Null":{"aws:missing":"true"}}`, true},
		{`{"Null":{"aws:username":"true"}}`, false},
		{`{"Null":{"aws:username":"false"}}`, true},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team","owner"]}}`, true},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, false},
		{`{"ForAllValues:StringEquals":{"aws:missing":["env"]}}`, true}, // absent key: true
		{`{"ForAllValues:StringEquals":{"aws:EmptyList":["env"]}}`, true},
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["team","x"]}}`, true},
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["x"]}}`, false},
		{`{"ForAnyValue:StringEquals":{"aws:missing":["env"]}}`, false}, // absent key: false
		{`{"ForAnyValue:StringEquals":{"aws:EmptyList":["env"]}}`, false},
		{`{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, true},
		{`{"ForAnyValue:StringEqualsIfExists":{"aws:missing":["env"]}}`, true}, // IfExists: absent key is true
		{`{"ForAllValues:StringNotEquals":{"aws:TagKeys":["env"]}}`, false},
		{`{"ForAllValues:StringLike":{"aws:TagKeys":["e*","t*"]}}`, true},
		// Policy variables.
		{`{"StringEquals":{"aws:username":"${aws:username}"}}`, true},
		{`{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/ci-${aws:nothing, 'build'}"}}`, true},
		{`{"StringEquals":{"aws:username":"${aws:nothing}"}}`, false},   // unresolved: positive fails
		{`{"StringNotEquals":{"aws:username":"${aws:nothing}"}}`, true}, // unresolved: negated matches
		{`{"StringLike":{"aws:username":"${aws:PrincipalTag/team}*"}}`, false},
		{`{"StringLike":{"aws:PrincipalTag/team":"${aws:PrincipalTag/TEAM}"}}`, true},
		{`{"StringEquals":{"aws:TagKeys":"${aws:TagKeys}"}}`, false}, // multivalued keys are not variables
	}
	for _, c := range cases {
		if got := condDecision(t, c.cond, ctx); got != c.want {
			t.Errorf("%s: got %v, want %v", c.cond, got, c.want)
		}
	}
}

func TestVariableEscapesAndVersion(t *testing.T) {
	ctx := NewContext().MustSet("aws:username", TypeString, "al*ce").MustSet("aws:literal", TypeString, "a*b?c$")
	escaped := `{"StringLike":{"aws:literal":"a${*}b${?}c${$}"}}`
	if !condDecision(t, escaped, ctx) {
		t.Error("escaped characters should match literally")
	}
	if condDecision(t, `{"StringLike":{"aws:literal":"a${*}b${?}x"}}`, ctx) {
		t.Error("escaped * must not act as a wildcard")
	}
	// Without Version 2012-10-17 variables are literal text.
	old := mustParse(t, KindRepository, `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":{"StringEquals":{"aws:username":"${aws:username}"}}}}`)
	if Evaluate(alice(ctx), &PolicySet{Resource: old}).Allowed() {
		t.Error("a 2008-10-17 policy must not substitute variables")
	}
	literal := NewContext().MustSet("aws:username", TypeString, "${aws:username}")
	if !Evaluate(alice(literal), &PolicySet{Resource: old}).Allowed() {
		t.Error("a 2008-10-17 policy compares the variable text literally")
	}
}

func TestResourceMatching(t *testing.T) {
	ctx := NewContext().MustSet("aws:username", TypeString, "alice")
	cases := []struct {
		pattern, resource string
		want              bool
	}{
		{"*", repoARN, true},
		{"*", "*", true},
		{repoARN, "*", false},
		{"arn:aws:ecr:*:111122223333:repository/team/*", repoARN, true},
		{"arn:aws:ecr:*:*:repository/team/*", repoARN, true},
		{"arn:aws:ecr:us-east-1:111122223333:repository/team", repoARN, false},
		{"arn:aws:ecr:us-east-1:111122223333:repository/team/ap?", repoARN, true},
		{"arn:aws:ecr:us-east-1:111122223333:repository/TEAM/app", repoARN, false}, // case-sensitive
		{"arn:aws:ecr:us-*:111122223333:repository/*", repoARN, true},
		{"arn:aws:ecr:*", repoARN, true}, // a trailing * in the last written segment spans colons
		{"arn:aws:ecr:us-east-1:*", repoARN, true},
		{"arn:aws:*:us-east-1:111122223333:repository/team/app", repoARN, true},
		{"arn:aws:ecr:us-east-1:1111222233*:repository/team/app", repoARN, true},
		{"arn:aws:ecr:*east*:111122223333:*", repoARN, true},
		{"arn:aws:ecr:us-east-1:444455556666:repository/*", repoARN, false},
		{"arn:aws:ecr:us-east-1:111122223333:repository/${aws:username}/*", "arn:aws:ecr:us-east-1:111122223333:repository/alice/x", true},
		{"arn:aws:ecr:us-east-1:111122223333:repository/${aws:username}/*", repoARN, false},
		{"arn:aws:ecr:us-east-1:111122223333:repository/${aws:nothing}/*", "arn:aws:ecr:us-east-1:111122223333:repository//x", false},
	}
	for _, c := range cases {
		p := mustParse(t, KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"`+c.pattern+`"}}`)
		req := alice(ctx)
		req.Resource = c.resource
		if got := Evaluate(req, &PolicySet{Identity: []*Policy{p}}).Allowed(); got != c.want {
			t.Errorf("%s vs %s: got %v, want %v", c.pattern, c.resource, got, c.want)
		}
	}
}

func TestActionMatching(t *testing.T) {
	cases := []struct {
		pattern, action string
		want            bool
	}{
		{"ecr:BatchGetImage", "ecr:BatchGetImage", true},
		{"ECR:batchgetimage", "ecr:BatchGetImage", true},
		{"ecr:Batch*", "ecr:BatchGetImage", true},
		{"ecr:*Image", "ecr:BatchGetImage", true},
		{"ecr:Batch?etImage", "ecr:BatchGetImage", true},
		{"ecr:Batch?Image", "ecr:BatchGetImage", false},
		{"ecr:BatchGet", "ecr:BatchGetImage", false},
		{"*", "ecr:BatchGetImage", true},
		{"ec?:*", "ecr:BatchGetImage", true},
		{"s3:*", "ecr:BatchGetImage", false},
		{"*", "odd", true},
		{"*", "ecr:", true},
		{"ecr:*", "ecr:", true},
		{"ecr:B*", "ecr:", false},
	}
	for _, c := range cases {
		p := mustParse(t, KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"`+c.pattern+`","Resource":"*"}}`)
		req := alice(nil)
		req.Action = c.action
		if got := Evaluate(req, &PolicySet{Identity: []*Policy{p}}).Allowed(); got != c.want {
			t.Errorf("%s vs %s: got %v, want %v", c.pattern, c.action, got, c.want)
		}
	}
	notAction := mustParse(t, KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":["ecr:Delete*","iam:*"],"Resource":"*"}}`)
	for action, want := range map[string]bool{"ecr:BatchGetImage": true, "ecr:DeleteRepository": false, "iam:CreateUser": false} {
		req := alice(nil)
		req.Action = action
		if got := Evaluate(req, &PolicySet{Identity: []*Policy{notAction}}).Allowed(); got != want {
			t.Errorf("NotAction vs %s: got %v, want %v", action, got, want)
		}
	}
}

func TestEvaluationLayers(t *testing.T) {
	allowAll := mustParse(t, KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"}}`)
	s3Only := mustParse(t, KindBoundary, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`)
	denyAll := mustParse(t, KindSCP, `{"Version":"2012-10-17","Statement":{"Sid":"NoEcr","Effect":"Deny","Action":"ecr:*","Resource":"*"}}`)
	scpAll := mustParse(t, KindSCP, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	scpS3 := mustParse(t, KindSCP, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`)
	rcpDeny := mustParse(t, KindRCP, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"ecr:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}}`)
	sessionPull := mustParse(t, KindSession, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"*"}}`)
	sessionPush := mustParse(t, KindSession, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:PutImage","Resource":"*"}}`)
	repo := func(principal string) *Policy {
		return mustParse(t, KindRepository, `{"Version":"2012-10-17","Statement":{"Sid":"Grant","Effect":"Allow","Principal":`+principal+`,"Action":"ecr:*"}}`)
	}
	registryDeny := mustParse(t, KindRegistry, `{"Version":"2012-10-17","Statement":{"Sid":"NoPull","Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage","Resource":"*"}}`)
	registryGrant := func(principal string) *Policy {
		return mustParse(t, KindRegistry, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":`+principal+`,"Action":"ecr:*","Resource":"*"}}`)
	}
	build := session("CIBuild", "build-7", acctA)
	foreign := session("Puller", "p1", acctB)
	cases := []struct {
		name      string
		principal Principal
		set       PolicySet
		want      Outcome
		source    Source
	}{
		{"registry policy deny beats a repository grant", Principal{}, PolicySet{Resource: repo(`{"AWS":"` + aliceRN + `"}`), Registry: registryDeny}, ExplicitDeny, SourceResource},
		{"registry policy deny beats an identity allow", Principal{}, PolicySet{Identity: []*Policy{allowAll}, Registry: registryDeny}, ExplicitDeny, SourceResource},
		{"registry policy grants cross-account without a repository policy", foreign, PolicySet{Identity: []*Policy{allowAll}, Registry: registryGrant(`{"AWS":"444455556666"}`)}, Allowed, SourceIdentity},
		{"registry policy grants beside a repository policy that does not", foreign, PolicySet{Identity: []*Policy{allowAll}, Resource: repo(`{"AWS":"777788889999"}`), Registry: registryGrant(`{"AWS":"444455556666"}`)}, Allowed, SourceIdentity},
		{"neither resource policy grants the other account", foreign, PolicySet{Identity: []*Policy{allowAll}, Resource: repo(`{"AWS":"777788889999"}`), Registry: registryGrant(`{"AWS":"777788889999"}`)}, ImplicitDeny, SourceResource},
		{"registry policy naming the user grants in the same account", Principal{}, PolicySet{Registry: registryGrant(`{"AWS":"` + aliceRN + `"}`)}, Allowed, SourceResource},
		{"RCP deny binds even a named caller", Principal{}, PolicySet{Resource: repo(`{"AWS":"` + aliceRN + `"}`), RCP: [][]*Policy{{rcpDeny}}}, ExplicitDeny, SourceRCP},
		{"RCP level without Allow", Principal{}, PolicySet{Identity: []*Policy{allowAll}, RCP: [][]*Policy{{scpS3}}}, ImplicitDeny, SourceRCP},
		{"RCP full access", Principal{}, PolicySet{Identity: []*Policy{allowAll}, RCP: [][]*Policy{{scpAll}}}, Allowed, SourceIdentity},
		{"RCP binds anonymous callers", Principal{Type: PrincipalAnonymous}, PolicySet{Resource: repo(`"*"`), RCP: [][]*Policy{{rcpDeny}}}, ExplicitDeny, SourceRCP},
		{"SCP deny wins", Principal{}, PolicySet{Identity: []*Policy{allowAll}, SCP: [][]*Policy{{denyAll}}}, ExplicitDeny, SourceSCP},
		{"SCP allows at every level", Principal{}, PolicySet{Identity: []*Policy{allowAll}, SCP: [][]*Policy{{scpAll}, {scpAll}}}, Allowed, SourceIdentity},
		{"SCP level without Allow", Principal{}, PolicySet{Identity: []*Policy{allowAll}, SCP: [][]*Policy{{scpAll}, {scpS3}}}, ImplicitDeny, SourceSCP},
		{"SCP not bypassed by resource policy", Principal{}, PolicySet{Resource: repo(`{"AWS":"` + aliceRN + `"}`), SCP: [][]*Policy{{scpS3}}}, ImplicitDeny, SourceSCP},
		{"session policy limits the role", build, PolicySet{Identity: []*Policy{allowAll}, Session: []*Policy{sessionPush}}, ImplicitDeny, SourceSession},
		{"session policy allows", build, PolicySet{Identity: []*Policy{allowAll}, Session: []*Policy{sessionPull}}, Allowed, SourceIdentity},
		{"session ARN in resource policy not limited by session policy", build, PolicySet{Resource: repo(`{"AWS":"` + build.ARN + `"}`), Session: []*Policy{sessionPush}}, Allowed, SourceResource},
		{"role ARN in resource policy limited by session policy", build, PolicySet{Resource: repo(`{"AWS":"` + build.RoleARN + `"}`), Session: []*Policy{sessionPush}}, ImplicitDeny, SourceSession},
		{"account root needs identity Allow", build, PolicySet{Resource: repo(`{"AWS":"111122223333"}`)}, ImplicitDeny, SourceIdentity},
		{"star principal grants in the same account", build, PolicySet{Resource: repo(`"*"`), Boundary: s3Only}, Allowed, SourceResource},
		{"boundary limits identity", Principal{}, PolicySet{Identity: []*Policy{allowAll}, Boundary: s3Only}, ImplicitDeny, SourceBoundary},
		{"cross-account needs the resource side", foreign, PolicySet{Identity: []*Policy{allowAll}}, ImplicitDeny, SourceResource},
		{"cross-account needs the identity side", foreign, PolicySet{Resource: repo(`{"AWS":"` + foreign.ARN + `"}`)}, ImplicitDeny, SourceIdentity},
		{"cross-account both sides", foreign, PolicySet{Identity: []*Policy{allowAll}, Resource: repo(`{"AWS":"444455556666"}`)}, Allowed, SourceIdentity},
		{"cross-account session policy applies", foreign, PolicySet{Identity: []*Policy{allowAll}, Resource: repo(`{"AWS":"444455556666"}`), Session: []*Policy{sessionPush}}, ImplicitDeny, SourceSession},
		{"anonymous with star principal", Principal{Type: PrincipalAnonymous}, PolicySet{Resource: repo(`"*"`)}, Allowed, SourceResource},
		{"anonymous not covered by account principal", Principal{Type: PrincipalAnonymous}, PolicySet{Resource: repo(`{"AWS":"111122223333"}`)}, ImplicitDeny, SourceResource},
		{"anonymous ignores identity policies", Principal{Type: PrincipalAnonymous}, PolicySet{Identity: []*Policy{allowAll}}, ImplicitDeny, SourceResource},
		{"service principal", Principal{Type: PrincipalService, ARN: "ecs-tasks.amazonaws.com"}, PolicySet{Resource: repo(`{"Service":"ecs-tasks.amazonaws.com"}`)}, Allowed, SourceResource},
		{"other service principal", Principal{Type: PrincipalService, ARN: "lambda.amazonaws.com"}, PolicySet{Resource: repo(`{"Service":"ecs-tasks.amazonaws.com"}`)}, ImplicitDeny, SourceResource},
		{"root user needs no identity policy", Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::111122223333:root", Account: acctA}, PolicySet{}, Allowed, SourceIdentity},
		{"federated user needs a session policy", Principal{Type: PrincipalFederatedUser, ARN: "arn:aws:sts::111122223333:federated-user/bob", Account: acctA}, PolicySet{Identity: []*Policy{allowAll}}, ImplicitDeny, SourceSession},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := alice(nil)
			if c.principal != (Principal{}) || strings.HasPrefix(c.name, "anonymous") {
				req.Principal = c.principal
			}
			d := Evaluate(req, &c.set)
			if d.Outcome != c.want || d.Source != c.source {
				t.Fatalf("got %v/%v, want %v/%v", d.Outcome, d.Source.Phrase(), c.want, c.source.Phrase())
			}
		})
	}
}

func TestTrustPolicies(t *testing.T) {
	trustUser := mustParse(t, KindTrust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"`+aliceRN+`"},"Action":"sts:AssumeRole"}}`)
	trustAccount := mustParse(t, KindTrust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}`)
	canAssume := mustParse(t, KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/*"}}`)
	mfa := NewContext().MustSet("aws:MultiFactorAuthPresent", TypeBool, "true")
	req := func(ctx *Context) *Request {
		r := alice(ctx)
		r.Action, r.Resource = "sts:AssumeRole", "arn:aws:iam::111122223333:role/Admin"
		return r
	}
	cases := []struct {
		name string
		set  PolicySet
		ctx  *Context
		want Outcome
	}{
		{"trust names the user", PolicySet{Resource: trustUser}, nil, Allowed},
		{"trust names the account: identity needed", PolicySet{Resource: trustAccount}, mfa, ImplicitDeny},
		{"trust names the account with identity Allow", PolicySet{Resource: trustAccount, Identity: []*Policy{canAssume}}, mfa, Allowed},
		{"trust condition unmet", PolicySet{Resource: trustAccount, Identity: []*Policy{canAssume}}, nil, ImplicitDeny},
	}
	for _, c := range cases {
		d := Evaluate(req(c.ctx), &c.set)
		if d.Outcome != c.want {
			t.Errorf("%s: got %v, want %v", c.name, d.Outcome, c.want)
		}
	}
	d := Evaluate(req(nil), &PolicySet{Resource: trustAccount, Identity: []*Policy{canAssume}})
	want := "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/Admin because no role trust policy allows the sts:AssumeRole action"
	if got := DeniedMessage(req(nil), d); got != want {
		t.Errorf("message:\n got %s\nwant %s", got, want)
	}
}

// Every policy type's sentence, implicit and explicit, in AWS's wording
// (../shared/reference/iam-ecr-semantics.md, "Access-denied message format").
func TestDeniedMessages(t *testing.T) {
	allowAll := mustParse(t, KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"}}`)
	denyAll := mustParse(t, KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ecr:*","Resource":"*"}}`)
	denyRepo := mustParse(t, KindRepository, `{"Version":"2012-10-17","Statement":{"Sid":"NoPull","Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage"}}`)
	s3Only := mustParse(t, KindBoundary, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`)
	boundaryDeny := mustParse(t, KindBoundary, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"ecr:BatchGetImage","Resource":"*"}]}`)
	sessionS3 := mustParse(t, KindSession, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`)
	sessionDeny := mustParse(t, KindSession, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ecr:*","Resource":"*"}}`)
	scpS3 := mustParse(t, KindSCP, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`)
	scpDeny := mustParse(t, KindSCP, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ecr:*","Resource":"*"}}`)
	rcpS3 := mustParse(t, KindRCP, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}`)
	rcpDeny := mustParse(t, KindRCP, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"ecr:*","Resource":"*"}}`)
	const prefix = "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:111122223333:repository/team/app "
	allowed := []*Policy{allowAll}
	cases := []struct {
		set  PolicySet
		want string
	}{
		{PolicySet{}, prefix + "because no identity-based policy allows the ecr:BatchGetImage action"},
		{PolicySet{Identity: []*Policy{allowAll, denyAll}}, prefix + "with an explicit deny in an identity-based policy"},
		{PolicySet{Identity: allowed, Resource: denyRepo}, prefix + "with an explicit deny in a resource-based policy"},
		{PolicySet{Identity: allowed, Boundary: s3Only}, prefix + "because no permissions boundary allows the ecr:BatchGetImage action"},
		{PolicySet{Identity: allowed, Boundary: boundaryDeny}, prefix + "with an explicit deny in a permissions boundary"},
		{PolicySet{Identity: allowed, Session: []*Policy{sessionS3}}, prefix + "because no session policy allows the ecr:BatchGetImage action"},
		{PolicySet{Identity: allowed, Session: []*Policy{sessionDeny}}, prefix + "with an explicit deny in a session policy"},
		{PolicySet{Identity: allowed, SCP: [][]*Policy{{scpS3}}}, prefix + "because no service control policy allows the ecr:BatchGetImage action"},
		{PolicySet{Identity: allowed, SCP: [][]*Policy{{scpDeny}}}, prefix + "with an explicit deny in a service control policy"},
		{PolicySet{Identity: allowed, RCP: [][]*Policy{{rcpS3}}}, prefix + "because no resource control policy allows the ecr:BatchGetImage action"},
		{PolicySet{Identity: allowed, RCP: [][]*Policy{{rcpDeny}}}, prefix + "with an explicit deny in a resource control policy"},
		{PolicySet{Identity: allowed}, ""},
	}
	for i, c := range cases {
		req := alice(nil)
		if got := DeniedMessage(req, Evaluate(req, &c.set)); got != c.want {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, c.want)
		}
	}
	foreign := alice(nil)
	foreign.Principal = session("Puller", "p1", acctB)
	got := DeniedMessage(foreign, Evaluate(foreign, &PolicySet{Identity: []*Policy{allowAll}}))
	want := "User: arn:aws:sts::444455556666:assumed-role/Puller/p1 is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:111122223333:repository/team/app because no resource-based policy allows the ecr:BatchGetImage action"
	if got != want {
		t.Errorf("cross-account:\n got %s\nwant %s", got, want)
	}
	d := Evaluate(alice(nil), &PolicySet{Identity: []*Policy{allowAll}, Resource: denyRepo})
	if d.Sid() != "NoPull" || d.Policy != denyRepo {
		t.Errorf("deciding statement: %q", d.Sid())
	}
}

func TestSimulate(t *testing.T) {
	doc := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Sid\": \"Pull\", \"Effect\": \"Allow\", \"Action\": \"ecr:BatchGetImage\", \"Resource\": \"*\",\n     \"Condition\": {\"StringEquals\": {\"aws:PrincipalTag/team\": \"app\"}}},\n    {\"Sid\": \"Other\", \"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\", \"Condition\": {\"Bool\": {\"aws:ViaAWSService\": \"true\"}}}\n  ]\n}"
	p := mustParse(t, KindManaged, doc)
	p.Name = "team-pull"
	sim := Simulate(alice(NewContext()), &PolicySet{Identity: []*Policy{p}})
	if sim.Decision.Outcome != ImplicitDeny || len(sim.Matched) != 0 {
		t.Fatalf("without the tag: %+v", sim)
	}
	if len(sim.MissingContextValues) != 1 || sim.MissingContextValues[0] != "aws:PrincipalTag/team" {
		t.Fatalf("missing context values: %v", sim.MissingContextValues)
	}
	sim = Simulate(alice(NewContext().MustSet("aws:PrincipalTag/team", TypeString, "app")), &PolicySet{Identity: []*Policy{p}})
	if !sim.Decision.Allowed() || len(sim.Matched) != 1 || len(sim.MissingContextValues) != 0 {
		t.Fatalf("with the tag: %+v", sim)
	}
	m := sim.Matched[0]
	if m.Sid != "Pull" || m.PolicyName != "team-pull" || m.Source != SourceIdentity || m.Start != (Position{4, 6}) || m.End.Line != 5 {
		t.Fatalf("matched statement: %+v", m)
	}
}

func TestNotPrincipalNeedsTheWholeChain(t *testing.T) {
	allowAll := mustParse(t, KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"}}`)
	build := session("CIBuild", "build-7", acctA)
	cases := []struct {
		name   string
		caller Principal
		listed string
		denied bool
	}{
		{"user and account", alice(nil).Principal, `"` + aliceRN + `","111122223333"`, false},
		{"user without account", alice(nil).Principal, `"` + aliceRN + `"`, true},
		{"account without user", alice(nil).Principal, `"arn:aws:iam::111122223333:root"`, true},
		{"other user", alice(nil).Principal, `"arn:aws:iam::111122223333:user/bob","111122223333"`, true},
		{"role and account spare its sessions", build, `"` + build.RoleARN + `","111122223333"`, false},
		{"session and account", build, `"` + build.ARN + `","111122223333"`, false},
		{"role without account", build, `"` + build.RoleARN + `"`, true},
		{"star", build, `"*"`, false},
	}
	for _, c := range cases {
		repo := mustParse(t, KindRepository, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":[`+c.listed+`]},"Action":"ecr:*"}}`)
		req := alice(nil)
		req.Principal = c.caller
		d := Evaluate(req, &PolicySet{Identity: []*Policy{allowAll}, Resource: repo})
		if (d.Outcome == ExplicitDeny) != c.denied {
			t.Errorf("%s: got %v, want denied=%v", c.name, d.Outcome, c.denied)
		}
	}
}

func TestPrincipalFromARN(t *testing.T) {
	cases := map[string]Principal{
		aliceRN:                          {Type: PrincipalUser, ARN: aliceRN, Account: acctA},
		"arn:aws:iam::111122223333:root": {Type: PrincipalRoot, ARN: "arn:aws:iam::111122223333:root", Account: acctA},
		"arn:aws:sts::111122223333:assumed-role/CIBuild/build-7": session("CIBuild", "build-7", acctA),
		"arn:aws:sts::111122223333:federated-user/bob":           {Type: PrincipalFederatedUser, ARN: "arn:aws:sts::111122223333:federated-user/bob", Account: acctA},
	}
	for arn, want := range cases {
		got, err := PrincipalFromARN(arn)
		if err != nil || got != want {
			t.Errorf("%s: got %+v, %v", arn, got, err)
		}
	}
	for _, bad := range []string{"", "alice", "arn:aws:iam::111122223333:group/g", "arn:aws:sts::111122223333:assumed-role/R", "arn:aws:iam::acct:user/a"} {
		if _, err := PrincipalFromARN(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestLargePolicyWithoutIndex(t *testing.T) {
	var stmts []string
	for i := 0; i < 70; i++ {
		stmts = append(stmts, `{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`)
	}
	allow := `{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"*"}`
	deny := `{"Effect":"Deny","NotAction":"s3:*","Resource":"arn:aws:ecr:*:*:repository/team/*"}`
	small := mustParse(t, KindInlineRole, `{"Version":"2012-10-17","Statement":[`+strings.Join(stmts[:10], ",")+","+allow+`]}`)
	big := mustParse(t, KindInlineRole, `{"Version":"2012-10-17","Statement":[`+strings.Join(stmts, ",")+","+allow+`]}`)
	bigDeny := mustParse(t, KindInlineRole, `{"Version":"2012-10-17","Statement":[`+strings.Join(stmts, ",")+","+allow+","+deny+`]}`)
	if !small.index.ok || big.index.ok {
		t.Fatalf("index used: small %v, big %v", small.index.ok, big.index.ok)
	}
	for _, c := range []struct {
		p    *Policy
		want Outcome
		stmt int
	}{{small, Allowed, 10}, {big, Allowed, 70}, {bigDeny, ExplicitDeny, 71}} {
		d := Evaluate(alice(nil), &PolicySet{Identity: []*Policy{c.p}})
		if d.Outcome != c.want || d.Statement != c.stmt {
			t.Errorf("got %v by statement %d, want %v by %d", d.Outcome, d.Statement, c.want, c.stmt)
		}
	}
}

package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestMalformedMessages(t *testing.T) {
	const ok = `"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"*"`
	cases := []struct {
		name string
		kind Kind
		doc  string
		want string
	}{
		{"not JSON", KindManaged, `{"Version":`, "Syntax errors in policy."},
		{"trailing data", KindManaged, `{"Version":"2012-10-17","Statement":{` + ok + `}} x`, "Syntax errors in policy."},
		{"unknown top-level element", KindManaged, `{"Version":"2012-10-17","Foo":1,"Statement":{` + ok + `}}`, "Syntax errors in policy."},
		{"unknown statement element", KindManaged, `{"Version":"2012-10-17","Statement":{` + ok + `,"Foo":"x"}}`, "Syntax errors in policy."},
		{"missing Statement", KindManaged, `{"Version":"2012-10-17"}`, "Syntax errors in policy."},
		{"empty Statement list", KindManaged, `{"Version":"2012-10-17","Statement":[]}`, "Syntax errors in policy."},
		{"missing Effect", KindManaged, `{"Version":"2012-10-17","Statement":{"Action":"s3:*","Resource":"*"}}`, "Syntax errors in policy."},
		{"bad Effect", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Permit","Action":"s3:*","Resource":"*"}}`, "Syntax errors in policy."},
		{"bad Version", KindManaged, `{"Version":"2012-10-18","Statement":{` + ok + `}}`, "Syntax errors in policy."},
		{"Action and NotAction", KindManaged, `{"Version":"2012-10-17","Statement":{` + ok + `,"NotAction":"s3:*"}}`, "Syntax errors in policy."},
		{"Resource and NotResource", KindManaged, `{"Version":"2012-10-17","Statement":{` + ok + `,"NotResource":"*"}}`, "Syntax errors in policy."},
		{"Condition not an object", KindManaged, `{"Version":"2012-10-17","Statement":{` + ok + `,"Condition":"x"}}`, "Syntax errors in policy."},
		{"unknown condition operator", KindManaged, `{"Version":"2012-10-17","Statement":{` + ok + `,"Condition":{"StringEqualz":{"aws:username":"a"}}}}`, "Syntax errors in policy."},
		{"NullIfExists", KindManaged, `{"Version":"2012-10-17","Statement":{` + ok + `,"Condition":{"NullIfExists":{"aws:username":"true"}}}}`, "Syntax errors in policy."},
		{"duplicate key", KindManaged, `{"Version":"2012-10-17","Statement":{` + ok + `,"Effect":"Deny"}}`, "Syntax errors in policy."},
		{"Action an object", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":{"a":1},"Resource":"*"}}`, "Syntax errors in policy."},
		{"missing Version", KindManaged, `{"Statement":{` + ok + `}}`, "Policy document must be version 2012-10-17 or greater."},
		{"old Version", KindInlineUser, `{"Version":"2008-10-17","Statement":{` + ok + `}}`, "Policy document must be version 2012-10-17 or greater."},
		{"Effect case", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"s3:*","Resource":"*"}}`, "The policy failed legacy parsing"},
		{"short ARN", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3::example_bucket"}}`, "The policy failed legacy parsing"},
		{"bad date", KindManaged, `{"Version":"2012-10-17","Statement":{` + ok + `,"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-13-01T00:00:00Z"}}}}`, "The policy failed legacy parsing"},
		{"duplicate Sid", KindManaged, `{"Version":"2012-10-17","Statement":[{"Sid":"A",` + ok + `},{"Sid":"A",` + ok + `}]}`, "Statement IDs (SID) in a single policy must be unique."},
		{"Sid charset", KindManaged, `{"Version":"2012-10-17","Statement":{"Sid":"a-b",` + ok + `}}`, "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"},
		{"missing Action", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}`, "Policy statement must contain actions."},
		{"empty Action", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, "Policy statement must contain actions."},
		{"missing Resource", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}}`, "Policy statement must contain resources."},
		{"empty Resource", KindBoundary, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":[]}}`, "Policy statement must contain resources."},
		{"not an ARN", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}}`, `Resource bucket must be in ARN format or "*".`},
		{"bad partition", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:foo:s3:::b"}}`, `Partition "foo" is not valid for resource "arn:foo:s3:::b".`},
		{"bare arn:aws", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws"}}`, "Resource vendor must be fully qualified and cannot contain regexes."},
		{"IAM region", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam:us-east-1:111122223333:user/a"}}`, "IAM resource arn:aws:iam:us-east-1:111122223333:user/a cannot contain region information."},
		{"IAM path", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::111122223333:thing/a"}}`, `IAM resource path must either be "*" or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.`},
		{"action without vendor", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"BatchGetImage","Resource":"*"}}`, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
		{"action two colons", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:a:b","Resource":"*"}}`, "Actions/Condition can contain only one colon."},
		{"bad vendor", KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"e c r:Get","Resource":"*"}}`, "Vendor e c r is not valid"},
		{"condition key without vendor", KindManaged, `{"Version":"2012-10-17","Statement":{` + ok + `,"Condition":{"StringEquals":{"username":"a"}}}}`, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
		{"Principal in identity policy", KindManaged, `{"Version":"2012-10-17","Statement":{"Principal":"*",` + ok + `}}`, "Policy document should not specify a principal."},
		{"missing Principal in repository policy", KindRepository, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*"}}`, "Missing required field Principal"},
		{"partial wildcard principal", KindRepository, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"ecr:*"}}`, `Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:user/*"`},
		{"principal not an ARN", KindTrust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["111122223333","alice"]},"Action":"sts:AssumeRole"}}`, `Invalid principal in policy: "AWS":"alice"`},
		{"bad Principal block", KindRepository, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"User":"x"},"Action":"ecr:*"}}`, "Syntax errors in policy."},
		{"Resource in trust policy", KindTrust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole","Resource":"*"}}`, "Has prohibited field Resource."},
		{"non-STS action in trust policy", KindTrust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject"}}`, "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity"},
		{"named Principal in RCP", KindRCP, `{"Version":"2012-10-17","Statement":{"Principal":{"AWS":"111122223333"},` + ok + `}}`, "The provided policy document does not meet the requirements of the specified policy type."},
		{"Principal in SCP", KindSCP, `{"Version":"2012-10-17","Statement":{"Principal":{"AWS":"*"},` + ok + `}}`, "Policy document should not specify a principal."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc), c.kind)
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("got %v, want MalformedError %q", err, c.want)
			}
			if me.Message != c.want || me.Code() != "MalformedPolicyDocument" {
				t.Fatalf("got %q, want %q", me.Message, c.want)
			}
		})
	}
}

func TestValidDocuments(t *testing.T) {
	cases := []struct {
		kind Kind
		doc  string
	}{
		{KindManaged, `{"Version":"2012-10-17","Statement":[{"Sid":"A1","Effect":"Allow","Action":["ecr:Get*","ECR:batch?etimage"],"Resource":"arn:aws:ecr:*:111122223333:repository/${aws:username}/*"}]}`},
		{KindManaged, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"iam:*","NotResource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*"]},"NumericLessThan":{"aws:MultiFactorAuthAge":3600},"Bool":{"aws:SecureTransport":false},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},"Null":{"aws:TokenIssueTime":"true"},"BinaryEquals":{"aws:x":"AQID"},"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/ci-*"}}}}`},
		{KindRepository, `{"Statement":[{"Sid":"pull-access","Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:root"],"Service":"ecs-tasks.amazonaws.com"},"Action":"ecr:BatchGetImage"}]}`},
		{KindRepository, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["AIDAEXAMPLEUSERID0001","arn:aws:sts::111122223333:assumed-role/R/s","arn:aws:iam::111122223333:role/path/R","*"]},"Action":"ecr:*"}}`},
		{KindRepository, `{"Version":"2008-10-17","Id":"x","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/a"},"Action":"ecr:*"}}`},
		{KindTrust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:org/*"}}}}`},
		{KindSCP, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`},
	}
	for i, c := range cases {
		if _, err := Parse([]byte(c.doc), c.kind); err != nil {
			t.Errorf("case %d (%v): %v", i, c.kind, err)
		}
	}
}

// sizedDoc builds a valid document of exactly n characters (counted without whitespace)
// plus pad spaces, for the given kind.
func sizedDoc(kind Kind, n, pad int) []byte {
	head := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::`
	tail := `"}}`
	if kind.resourceBased() {
		head = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:x":"`
		tail = `"}}}}`
	}
	fill := n - len(head) - len(tail)
	return []byte(head + strings.Repeat("a", fill) + tail + strings.Repeat(" ", pad))
}

func TestSizeLimits(t *testing.T) {
	limits := map[Kind]int{KindManaged: 6144, KindBoundary: 6144, KindInlineUser: 2048, KindInlineGroup: 5120,
		KindInlineRole: 10240, KindTrust: 2048, KindSession: 2048, KindRepository: 10240, KindRegistry: 10240, KindSCP: 5120, KindRCP: 5120}
	for kind, limit := range limits {
		if kind.SizeLimit() != limit {
			t.Errorf("%v: limit %d, want %d", kind, kind.SizeLimit(), limit)
		}
		if _, err := Parse(sizedDoc(kind, limit, 0), kind); err != nil {
			t.Errorf("%v: a document of exactly %d characters: %v", kind, limit, err)
		}
		_, err := Parse(sizedDoc(kind, limit+1, 0), kind)
		var se *SizeError
		if !errors.As(err, &se) || se.Limit != limit || se.Size != limit+1 {
			t.Errorf("%v: %d characters: got %v, want SizeError", kind, limit+1, err)
		}
		// Whitespace is free where AWS does not count it, and counted where it does.
		_, err = Parse(sizedDoc(kind, limit, 10), kind)
		if kind.CountsWhitespace() != (err != nil) {
			t.Errorf("%v: padding with whitespace: got %v (counts whitespace: %v)", kind, err, kind.CountsWhitespace())
		}
	}
	// AWS's own managed policies have no limit; they follow the managed policy grammar.
	if KindAWSManaged.SizeLimit() != 0 {
		t.Errorf("aws-managed: limit %d", KindAWSManaged.SizeLimit())
	}
	if _, err := Parse(sizedDoc(KindAWSManaged, 100_000, 0), KindAWSManaged); err != nil {
		t.Errorf("aws-managed: a document of 100000 characters: %v", err)
	}
	if _, err := Parse([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}`), KindAWSManaged); err == nil {
		t.Error("aws-managed: a Principal was accepted")
	}
	if _, err := Parse(sizedDoc(KindManaged, 200, 0), Kind(0)); err == nil {
		t.Error("kind 0 was accepted")
	}
	if _, err := Parse(sizedDoc(KindManaged, 200, 0), KindAWSManaged+1); err == nil {
		t.Error("an unknown kind was accepted")
	}
	err := &SizeError{Kind: KindManaged, Limit: 6144, Size: 7000}
	if err.Error() != "Cannot exceed quota for PolicySize: 6144" || err.Code() != "LimitExceeded" {
		t.Errorf("managed size error: %q %q", err.Error(), err.Code())
	}
}

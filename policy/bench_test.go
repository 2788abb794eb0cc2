package policy

import (
	"fmt"
	"strings"
	"testing"
)

// realisticSet is an ECR pull by a user whose 10 attached policies (from the user and its
// 3 groups) hold 10 statements each with wildcards and conditions, plus a repository policy.
func realisticSet(tb testing.TB) (*Request, *PolicySet) {
	tb.Helper()
	services := []string{"s3", "logs", "ec2", "cloudwatch", "ssm", "kms", "sqs", "sns", "dynamodb"}
	set := &PolicySet{}
	for p := 0; p < 10; p++ {
		var stmts []string
		for s := 0; s < 10; s++ {
			svc := services[(p+s)%len(services)]
			stmt := fmt.Sprintf(`{"Sid":"P%dS%d","Effect":"Allow","Action":["%s:Get*","%s:List*","%s:Describe?tems"],"Resource":"arn:aws:%s:*:111122223333:thing/%d/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"team%d"},"Bool":{"aws:SecureTransport":"true"}}}`,
				p, s, svc, svc, svc, svc, s, s)
			switch {
			case p == 3 && s == 9:
				stmt = `{"Sid":"EcrPull","Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"],"Resource":"arn:aws:ecr:*:111122223333:repository/team/*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]},"StringEquals":{"aws:PrincipalTag/team":"${aws:ResourceTag/team}"}}}`
			case p == 7 && s == 0:
				stmt = `{"Sid":"NoDeletes","Effect":"Deny","Action":["ecr:Delete*","ecr:BatchDeleteImage"],"Resource":"*"}`
			case p == 8 && s == 5:
				stmt = `{"Sid":"Region","Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}}`
			case s == 4:
				stmt = fmt.Sprintf(`{"Sid":"Ecr%d","Effect":"Allow","Action":"ecr:Describe*","Resource":"arn:aws:ecr:us-east-1:111122223333:repository/other%d/*"}`, p, p)
			}
			stmts = append(stmts, stmt)
		}
		doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
		pol, err := Parse([]byte(doc), KindManaged)
		if err != nil {
			tb.Fatalf("policy %d: %v", p, err)
		}
		pol.Name = fmt.Sprintf("arn:aws:iam::111122223333:policy/p%d", p)
		set.Identity = append(set.Identity, pol)
	}
	repo, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[
		{"Sid":"Pull","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::444455556666:root","arn:aws:iam::111122223333:role/CI"]},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]},
		{"Sid":"TLS","Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
		{"Sid":"Org","Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}]}`), KindRepository)
	if err != nil {
		tb.Fatal(err)
	}
	set.Resource = repo
	ctx := NewContext().
		MustSet("aws:PrincipalArn", TypeString, "arn:aws:iam::111122223333:user/alice").
		MustSet("aws:PrincipalAccount", TypeString, "111122223333").
		MustSet("aws:PrincipalType", TypeString, "User").
		MustSet("aws:username", TypeString, "alice").
		MustSet("aws:userid", TypeString, "AIDAEXAMPLEUSERID0001").
		MustSet("aws:PrincipalTag/team", TypeString, "app").
		MustSet("aws:PrincipalOrgID", TypeString, "o-a1b2c3d4e5").
		MustSet("aws:SourceIp", TypeIP, "10.1.2.3").
		MustSet("aws:SecureTransport", TypeBool, "true").
		MustSet("aws:CurrentTime", TypeDate, "2025-06-01T12:00:00Z").
		MustSet("aws:RequestedRegion", TypeString, "us-east-1").
		MustSet("aws:ResourceAccount", TypeString, "111122223333").
		MustSet("aws:ResourceTag/team", TypeString, "app").
		MustSet("ecr:ResourceTag/team", TypeString, "app")
	req := &Request{
		Principal:       Principal{Type: PrincipalUser, ARN: "arn:aws:iam::111122223333:user/alice", Account: "111122223333"},
		Action:          "ecr:BatchGetImage",
		Resource:        "arn:aws:ecr:us-east-1:111122223333:repository/team/app",
		ResourceAccount: "111122223333",
		Context:         ctx,
	}
	return req, set
}

func TestRealisticSetDecides(t *testing.T) {
	req, set := realisticSet(t)
	d := Evaluate(req, set)
	if d.Outcome != Allowed || d.Sid() != "EcrPull" {
		t.Fatalf("got %v by %q, want allowed by EcrPull", d.Outcome, d.Sid())
	}
	if n := testing.AllocsPerRun(100, func() { Evaluate(req, set) }); n != 0 {
		t.Fatalf("Evaluate allocates %v times per decision, want 0", n)
	}
}

// BenchmarkDecision measures one realistic ECR authorization decision.
// Run: go test -run '^$' -bench Decision -benchtime 2s ./policy/
func BenchmarkDecision(b *testing.B) {
	req, set := realisticSet(b)
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		if !Evaluate(req, set).Allowed() {
			b.Fatal("not allowed")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	if cpu := processCPU() - cpu0; cpu > 0 {
		// CPU time, not wall time: decisions per second of one busy core.
		b.ReportMetric(float64(b.N)/(float64(cpu)/1e9), "decisions/cpu-s")
	}
}

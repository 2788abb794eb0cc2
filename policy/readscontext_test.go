package policy

import (
	"testing"

	"github.com/coffer-registry/coffer/internal/policycases"
	"pgregory.net/rapid"
)

// readsContext reports whether some policy of set reads the context for action.
func setReadsContext(set *PolicySet, action string) bool {
	ps := append([]*Policy{set.Resource, set.Registry, set.Boundary}, set.Identity...)
	ps = append(ps, set.Session...)
	for _, level := range append(append([][]*Policy{}, set.SCP...), set.RCP...) {
		ps = append(ps, level...)
	}
	for _, p := range ps {
		if p.ReadsContext(action) {
			return true
		}
	}
	return false
}

// otherContexts are contexts that differ from any request's in every key conditions read.
func otherContexts() []*Context {
	return []*Context{
		NewContext(),
		NewContext().MustSet("aws:SecureTransport", TypeBool, "false").MustSet("aws:SourceIp", TypeIP, "203.0.113.9").
			MustSet("aws:CurrentTime", TypeDate, "1999-01-01T00:00:00Z").MustSet("aws:username", TypeString, "mallory").
			MustSet("aws:PrincipalTag/team", TypeString, "nobody").MustSet("aws:MultiFactorAuthAge", TypeNumeric, "999999").
			MustSet("aws:TagKeys", TypeStringList).MustSet("aws:ResourceAccount", TypeString, "999999999999"),
	}
}

// TestReadsContextFalseMeansContextFree: when no policy of a set reads the context for
// the request's action, every context gets the same decision (the premise of authz's
// decision cache).
func TestReadsContextFalseMeansContextFree(t *testing.T) {
	free := 0
	rapid.Check(t, func(t *rapid.T) {
		c := drawCase(t)
		set := c.set(t)
		if setReadsContext(set, c.req.Action) {
			return
		}
		free++
		want := Evaluate(c.req, set)
		for i, ctx := range otherContexts() {
			req := *c.req
			req.Context = ctx
			if got := Evaluate(&req, set); got != want {
				t.Fatalf("ReadsContext is false for %s, yet context %d decides %+v instead of %+v", c.req.Action, i, got, want)
			}
		}
	})
	if free == 0 {
		t.Fatal("no generated case was context-free: the property was never checked")
	}
}

func TestReadsContextCorpus(t *testing.T) {
	for _, file := range []string{"policy-cases.json", "policy-cases-classic.json"} {
		cases := policycases.Load(t, file)
		free := 0
		for i := range cases {
			c := &cases[i]
			req, set, err := buildCase(c)
			if err != nil || setReadsContext(set, req.Action) {
				continue
			}
			free++
			want := Evaluate(req, set)
			for j, ctx := range otherContexts() {
				r := *req
				r.Context = ctx
				if got := Evaluate(&r, set); got != want {
					t.Errorf("%s: ReadsContext is false, yet context %d decides %+v instead of %+v", c.ID, j, got, want)
				}
			}
		}
		t.Logf("%s: %d of %d cases context-free", file, free, len(cases))
	}
}

func TestReadsContext(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"*"},
		{"Effect":"Deny","Action":"ecr:PutImage","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
		{"Effect":"Allow","Action":"ecr:List*","Resource":"arn:aws:ecr:*:*:repository/${aws:username}/*"},
		{"Effect":"Deny","NotAction":["ecr:*","s3:*"],"Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
		{"Effect":"Allow","Action":"s3:Get*","NotResource":"arn:aws:s3:::${aws:PrincipalTag/b}/*"}]}`
	p, err := Parse([]byte(doc), KindManaged)
	if err != nil {
		t.Fatal(err)
	}
	for action, want := range map[string]bool{
		"ecr:BatchGetImage":               false,
		"ECR:batchgetimage":               false,
		"ecr:PutImage":                    true,  // conditioned Deny
		"ecr:putimage":                    true,  // actions match case-insensitively
		"ecr:ListImages":                  true,  // variable in Resource
		"ecr:DescribeRepositories":        false, // nothing conditioned admits it
		"iam:CreateUser":                  true,  // the NotAction Deny admits it
		"s3:GetObject":                    true,  // variable in NotResource
		"s3:PutObject":                    false,
		"ecr:GetDownloadUrlForLayer":      false,
		"ecr:BatchCheckLayerAvailability": false,
	} {
		if got := p.ReadsContext(action); got != want {
			t.Errorf("ReadsContext(%s) = %v, want %v", action, got, want)
		}
	}
	var none *Policy
	if none.ReadsContext("ecr:PutImage") {
		t.Error("a nil policy reads the context")
	}
	repo, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"ecr:*"},
		{"Effect":"Deny","Principal":"*","Action":"ecr:PutImage","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"111122223333"}}}]}`), KindRepository)
	if err != nil {
		t.Fatal(err)
	}
	if repo.ReadsContext("ecr:BatchGetImage") || !repo.ReadsContext("ecr:PutImage") {
		t.Error("repository policy: want only ecr:PutImage to read the context")
	}
}

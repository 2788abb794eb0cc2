package policy

import (
	"encoding/json"
	"testing"

	"pgregory.net/rapid"
)

// Generators over a small alphabet so that random statements often apply to random requests.

var (
	genActions = []string{"ecr:BatchGetImage", "ecr:*", "ecr:Batch*", "ECR:putimage", "*", "s3:*",
		"ecr:Get?ownloadUrlForLayer", "ecr:PutImage", "ecr:GetAuthorizationToken"}
	genResources = []string{"*", repoARN, "arn:aws:ecr:*:111122223333:repository/team/*",
		"arn:aws:ecr:us-east-1:111122223333:repository/other", "arn:aws:ecr:*:*:repository/${aws:username}/*",
		"arn:aws:ecr:us-east-1:444455556666:repository/*"}
	genConditions = []map[string]map[string]any{
		{"StringEquals": {"aws:username": "alice"}},
		{"StringNotEquals": {"aws:PrincipalTag/team": []any{"app", "ops"}}},
		{"StringLikeIfExists": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}},
		{"Bool": {"aws:SecureTransport": "false"}},
		{"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}},
		{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
		{"NotIpAddress": {"aws:SourceIp": []any{"192.168.0.0/16", "2001:db8::/32"}}},
		{"NumericLessThan": {"aws:MultiFactorAuthAge": 3600}},
		{"DateGreaterThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}},
		{"ForAllValues:StringEquals": {"aws:TagKeys": []any{"env", "team"}}},
		{"ForAnyValue:StringLike": {"aws:TagKeys": "t*"}},
		{"Null": {"aws:PrincipalTag/team": "true"}},
		{"StringEquals": {"aws:PrincipalAccount": "${aws:ResourceAccount}"}},
		{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:*"}},
	}
	genPrincipals = []any{"*", map[string]any{"AWS": acctA}, map[string]any{"AWS": aliceRN},
		map[string]any{"AWS": "arn:aws:iam::111122223333:role/CIBuild"},
		map[string]any{"AWS": "arn:aws:sts::111122223333:assumed-role/CIBuild/build-7"},
		map[string]any{"AWS": []any{acctB, "arn:aws:iam::444455556666:role/Puller"}},
		map[string]any{"Service": "ecs-tasks.amazonaws.com"}}
)

func genStatement(t *rapid.T, resourceBased bool, label string) map[string]any {
	st := map[string]any{"Effect": rapid.SampledFrom([]string{"Allow", "Allow", "Allow", "Deny"}).Draw(t, label+"effect")}
	actions := rapid.SliceOfNDistinct(rapid.SampledFrom(genActions), 1, 3, rapid.ID[string]).Draw(t, label+"actions")
	if rapid.IntRange(0, 5).Draw(t, label+"notaction") == 0 {
		st["NotAction"] = actions
	} else {
		st["Action"] = actions
	}
	if resourceBased {
		key := "Principal"
		if rapid.IntRange(0, 6).Draw(t, label+"notprincipal") == 0 {
			key = "NotPrincipal"
		}
		p := rapid.SampledFrom(genPrincipals).Draw(t, label+"principal")
		if key == "NotPrincipal" && p == "*" {
			p = genPrincipals[1]
		}
		st[key] = p
	}
	if !resourceBased || rapid.IntRange(0, 3).Draw(t, label+"hasresource") == 0 {
		resources := rapid.SliceOfNDistinct(rapid.SampledFrom(genResources), 1, 2, rapid.ID[string]).Draw(t, label+"resources")
		if rapid.IntRange(0, 6).Draw(t, label+"notresource") == 0 {
			st["NotResource"] = resources
		} else {
			st["Resource"] = resources
		}
	}
	if n := rapid.IntRange(0, 2).Draw(t, label+"nconds"); n > 0 {
		cond := map[string]map[string]any{}
		for i := 0; i < n; i++ {
			for op, kv := range rapid.SampledFrom(genConditions).Draw(t, label+"cond") {
				if cond[op] == nil {
					cond[op] = map[string]any{}
				}
				for k, v := range kv {
					cond[op][k] = v
				}
			}
		}
		st["Condition"] = cond
	}
	return st
}

func policyDoc(stmts []map[string]any) []byte {
	doc, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": stmts})
	if err != nil {
		panic(err)
	}
	return doc
}

type genCase struct {
	identity [][]map[string]any
	boundary []map[string]any
	resource []map[string]any
	req      *Request
}

func drawCase(t *rapid.T) genCase {
	var c genCase
	nPol := rapid.IntRange(0, 3).Draw(t, "npolicies")
	for i := 0; i < nPol; i++ {
		n := rapid.IntRange(1, 4).Draw(t, "nstmts")
		var stmts []map[string]any
		for j := 0; j < n; j++ {
			stmts = append(stmts, genStatement(t, false, "id."))
		}
		c.identity = append(c.identity, stmts)
	}
	if rapid.Bool().Draw(t, "hasboundary") {
		c.boundary = []map[string]any{genStatement(t, false, "b.")}
	}
	if rapid.Bool().Draw(t, "hasresource") {
		n := rapid.IntRange(1, 3).Draw(t, "nres")
		for j := 0; j < n; j++ {
			c.resource = append(c.resource, genStatement(t, true, "res."))
		}
	}
	principals := []Principal{alice(nil).Principal, session("CIBuild", "build-7", acctA), session("Puller", "p1", acctB)}
	p := rapid.SampledFrom(principals).Draw(t, "caller")
	ctx := NewContext().MustSet("aws:PrincipalArn", TypeString, p.ARN).MustSet("aws:PrincipalAccount", TypeString, p.Account).
		MustSet("aws:ResourceAccount", TypeString, acctA)
	if p.Type == PrincipalUser {
		ctx.MustSet("aws:username", TypeString, "alice")
	}
	if rapid.Bool().Draw(t, "tls") {
		ctx.MustSet("aws:SecureTransport", TypeBool, "true")
	} else {
		ctx.MustSet("aws:SecureTransport", TypeBool, "false")
	}
	ctx.MustSet("aws:SourceIp", TypeIP, rapid.SampledFrom([]string{"10.1.2.3", "192.168.1.1", "2001:db8::1"}).Draw(t, "ip"))
	if rapid.Bool().Draw(t, "team") {
		ctx.MustSet("aws:PrincipalTag/team", TypeString, rapid.SampledFrom([]string{"app", "data"}).Draw(t, "teamv"))
	}
	if rapid.Bool().Draw(t, "mfa") {
		ctx.MustSet("aws:MultiFactorAuthPresent", TypeBool, "true").MustSet("aws:MultiFactorAuthAge", TypeNumeric, "100")
	}
	ctx.MustSet("aws:CurrentTime", TypeDate, "2025-06-01T12:00:00Z")
	if rapid.Bool().Draw(t, "tags") {
		ctx.MustSet("aws:TagKeys", TypeStringList, rapid.SliceOfN(rapid.SampledFrom([]string{"env", "team", "owner"}), 0, 2).Draw(t, "tagkeys")...)
	}
	c.req = &Request{Principal: p, Context: ctx, ResourceAccount: acctA,
		Action:   rapid.SampledFrom([]string{"ecr:BatchGetImage", "ecr:PutImage", "ecr:GetAuthorizationToken", "s3:GetObject"}).Draw(t, "action"),
		Resource: rapid.SampledFrom([]string{repoARN, "arn:aws:ecr:us-east-1:111122223333:repository/alice/x", "*"}).Draw(t, "resource")}
	return c
}

func (c genCase) set(t *rapid.T) *PolicySet {
	set := &PolicySet{}
	for _, stmts := range c.identity {
		set.Identity = append(set.Identity, mustParseT(t, KindManaged, policyDoc(stmts)))
	}
	if c.boundary != nil {
		set.Boundary = mustParseT(t, KindBoundary, policyDoc(c.boundary))
	}
	if c.resource != nil {
		set.Resource = mustParseT(t, KindRepository, policyDoc(c.resource))
	}
	return set
}

func mustParseT(t *rapid.T, kind Kind, doc []byte) *Policy {
	p, err := Parse(doc, kind)
	if err != nil {
		t.Fatalf("generated policy rejected: %v\n%s", err, doc)
	}
	return p
}

func permute[T any](t *rapid.T, s []T, label string) []T {
	return rapid.Permutation(s).Draw(t, label)
}

func TestPropertyStatementAndPolicyOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawCase(t)
		before := Evaluate(c.req, c.set(t))
		shuffled := c
		shuffled.identity = permute(t, c.identity, "policyorder")
		for i := range shuffled.identity {
			shuffled.identity[i] = permute(t, shuffled.identity[i], "stmtorder")
		}
		if c.resource != nil {
			shuffled.resource = permute(t, c.resource, "resorder")
		}
		after := Evaluate(c.req, shuffled.set(t))
		if before.Outcome != after.Outcome || before.Source != after.Source {
			t.Fatalf("order changed the decision: %v/%v -> %v/%v", before.Outcome, before.Source, after.Outcome, after.Source)
		}
	})
}

// addStatement puts st into a random identity policy, the boundary or the resource policy.
func addStatement(t *rapid.T, c genCase, effect string) genCase {
	where := rapid.IntRange(0, 2).Draw(t, "where")
	out := c
	switch {
	case where == 0 || (where == 1 && c.boundary == nil) || (where == 2 && c.resource == nil):
		st := genStatement(t, false, "add.")
		st["Effect"] = effect
		out.identity = append(append([][]map[string]any{}, c.identity...), []map[string]any{st})
		if len(c.identity) > 0 && rapid.Bool().Draw(t, "samepolicy") {
			out.identity = append([][]map[string]any{}, c.identity...)
			i := rapid.IntRange(0, len(c.identity)-1).Draw(t, "which")
			out.identity[i] = append(append([]map[string]any{}, c.identity[i]...), st)
		}
	case where == 1:
		st := genStatement(t, false, "add.")
		st["Effect"] = effect
		out.boundary = append(append([]map[string]any{}, c.boundary...), st)
	default:
		st := genStatement(t, true, "add.")
		st["Effect"] = effect
		out.resource = append(append([]map[string]any{}, c.resource...), st)
	}
	return out
}

func TestPropertyAddingDenyNeverAllows(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawCase(t)
		before := Evaluate(c.req, c.set(t))
		after := Evaluate(c.req, addStatement(t, c, "Deny").set(t))
		if before.Outcome != Allowed && after.Outcome == Allowed {
			t.Fatalf("adding a Deny turned %v into allowed", before.Outcome)
		}
		if before.Outcome == ExplicitDeny && after.Outcome != ExplicitDeny {
			t.Fatalf("adding a Deny removed an explicit deny: %v", after.Outcome)
		}
	})
}

func TestPropertyAddingAllowNeverDenies(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawCase(t)
		before := Evaluate(c.req, c.set(t))
		after := Evaluate(c.req, addStatement(t, c, "Allow").set(t))
		if before.Outcome == Allowed && after.Outcome != Allowed {
			t.Fatalf("adding an Allow turned allowed into %v", after.Outcome)
		}
	})
}

func TestPropertyReserializedDecidesAlike(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawCase(t)
		set := c.set(t)
		round := &PolicySet{}
		again := func(p *Policy) *Policy {
			doc, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			q := mustParseT(t, p.Kind(), doc)
			doc2, _ := json.Marshal(q)
			if string(doc) != string(doc2) {
				t.Fatalf("MarshalJSON is not stable:\n%s\n%s", doc, doc2)
			}
			return q
		}
		for _, p := range set.Identity {
			round.Identity = append(round.Identity, again(p))
		}
		if set.Boundary != nil {
			round.Boundary = again(set.Boundary)
		}
		if set.Resource != nil {
			round.Resource = again(set.Resource)
		}
		a, b := Evaluate(c.req, set), Evaluate(c.req, round)
		if a.Outcome != b.Outcome || a.Source != b.Source || a.Statement != b.Statement {
			t.Fatalf("re-serialized policies decide differently: %+v vs %+v", a, b)
		}
	})
}

// A long Action list, matched through its index by service, matches exactly the actions
// the list matches pattern by pattern.
func TestActionIndexMatchesEveryPattern(t *testing.T) {
	services := []string{"ecr", "ECR", "s3", "iam", "e*", "?3", "*", "kms", "sts", "ec2"}
	names := []string{"BatchGetImage", "Get*", "get?ownloadUrlForLayer", "PutImage", "*", "List*", "Describe*", "CreateUser"}
	requests := []string{"ecr:BatchGetImage", "ECR:GetDownloadUrlForLayer", "ecr:PutImage", "s3:GetObject", "iam:CreateUser",
		"kms:Decrypt", "ec2:DescribeInstances", "sts:GetCallerIdentity", "eks:ListClusters", "\u212ams:Decrypt", "nocolon", ":Get"}
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(actionIndexFrom, 60).Draw(rt, "n")
		var actions []string
		for i := range n {
			svc := rapid.SampledFrom(services).Draw(rt, "svc")
			name := rapid.SampledFrom(names).Draw(rt, "name")
			a := svc + ":" + name
			if svc == "*" && i%7 == 0 {
				a = "*"
			}
			actions = append(actions, a)
		}
		doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": map[string]any{
			"Effect": "Allow", "Action": actions, "Resource": "*"}})
		p, err := Parse(doc, KindManaged)
		if err != nil {
			rt.Fatal(err)
		}
		st := &p.stmts[0]
		if !st.actionIndex.ok {
			rt.Fatal("no index")
		}
		for _, action := range requests {
			req := &Request{Action: action}
			r := newEvalReq(req, &PolicySet{})
			linear := false
			for i := range st.actions {
				linear = linear || st.actions[i].matches(action)
			}
			if got := st.matchAction(&r); got != linear {
				rt.Fatalf("%s: indexed %v, pattern by pattern %v (%v)", action, got, linear, actions)
			}
		}
	})
}

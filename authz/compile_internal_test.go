package authz

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/coffer-registry/coffer/policy"
)

// A document over the size limit, cut into parts, decides every action as the whole would:
// an Allow list and a conditional Deny list, both far larger than one part may be.
func TestCompileInPartsKeepsDecisions(t *testing.T) {
	allowList := make([]string, 1500)
	denyList := make([]string, 1500)
	for i := range allowList {
		allowList[i] = fmt.Sprintf("svc:Read%04d", i)
		denyList[i] = fmt.Sprintf("svc:Write%04d", i)
	}
	doc, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Sid": "Reads", "Effect": "Allow", "Action": allowList, "Resource": "*"},
		map[string]any{"Sid": "AllWrites", "Effect": "Allow", "Action": "svc:Write*", "Resource": "*"},
		map[string]any{"Sid": "NoPlainWrites", "Effect": "Deny", "Action": denyList, "Resource": "*",
			"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policy.Parse(doc, policy.KindManaged); err == nil {
		t.Fatal("the document is meant to be too large")
	}
	parts, err := compileInParts(string(doc), policy.KindManaged)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 4 {
		t.Fatalf("%d parts", len(parts))
	}
	set := &policy.PolicySet{Identity: parts}
	principal := policy.Principal{Type: policy.PrincipalUser, ARN: "arn:aws:iam::111122223333:user/u", Account: "111122223333"}
	decide := func(action string, secure bool) policy.Outcome {
		c := policy.NewContext().MustSet("aws:SecureTransport", policy.TypeBool, fmt.Sprint(secure))
		return policy.Evaluate(&policy.Request{Principal: principal, Action: action, Resource: "*", Context: c}, set).Outcome
	}
	for i := range allowList {
		if got := decide(allowList[i], false); got != policy.Allowed {
			t.Fatalf("%s: %v", allowList[i], got)
		}
		if got := decide(denyList[i], false); got != policy.ExplicitDeny {
			t.Fatalf("%s over plain HTTP: %v", denyList[i], got)
		}
		if got := decide(denyList[i], true); got != policy.Allowed {
			t.Fatalf("%s over TLS: %v", denyList[i], got)
		}
	}
	if got := decide("svc:Delete", true); got != policy.ImplicitDeny {
		t.Fatalf("svc:Delete: %v", got)
	}

	notAction := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":` + string(mustJSON(t, allowList)) + `,"Resource":"*"}]}`
	if _, err := compileInParts(notAction, policy.KindManaged); err == nil {
		t.Fatal("a NotAction list was cut into parts")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

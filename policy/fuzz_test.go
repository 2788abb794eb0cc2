package policy

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics and that every accepted document
// re-serializes into a document that parses again to the same canonical form.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"}}`), uint8(KindManaged))
	f.Add([]byte(`{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333"]},"NotAction":"ecr:Get*","Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":["a*",1,true]}}}]}`), uint8(KindRepository))
	f.Fuzz(func(t *testing.T, doc []byte, k uint8) {
		kind := Kind(k%uint8(KindAWSManaged)) + 1
		p, err := Parse(doc, kind)
		if err != nil {
			var me *MalformedError
			var se *SizeError
			if !errors.As(err, &me) && !errors.As(err, &se) {
				t.Fatalf("Parse returned %T: %v", err, err)
			}
			return
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		q, err := Parse(out, kind)
		if err != nil {
			var se *SizeError
			if errors.As(err, &se) {
				return // escaping (e.g. U+2028) can lengthen a document at its size limit
			}
			t.Fatalf("re-serialized document rejected: %v\n%s", err, out)
		}
		again, _ := json.Marshal(q)
		if string(again) != string(out) {
			t.Fatalf("re-serialization is not stable:\n%s\n%s", out, again)
		}
		// Evaluating the compiled policy must not panic whatever it holds.
		req := alice(NewContext().MustSet("aws:username", TypeString, "alice"))
		set := &PolicySet{}
		switch {
		case kind.resourceBased():
			set.Resource = p
		case kind == KindBoundary:
			set.Boundary = p
		case kind == KindSession:
			set.Session = []*Policy{p}
		case kind == KindSCP:
			set.SCP = [][]*Policy{{p}}
		case kind == KindRCP:
			set.RCP = [][]*Policy{{p}}
		default:
			set.Identity = []*Policy{p}
		}
		Evaluate(req, set)
		Simulate(req, set)
	})
}

// twinOperators pairs each positive operator with its negation.
var twinOperators = [][2]string{
	{"StringEquals", "StringNotEquals"}, {"StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"},
	{"StringLike", "StringNotLike"}, {"NumericEquals", "NumericNotEquals"}, {"DateEquals", "DateNotEquals"},
	{"IpAddress", "NotIpAddress"}, {"ArnEquals", "ArnNotEquals"}, {"ArnLike", "ArnNotLike"},
	{"NumericLessThan", "NumericGreaterThanEquals"}, {"DateGreaterThan", "DateLessThanEquals"},
}

var fuzzTypes = []ValueType{TypeString, TypeStringList, TypeNumeric, TypeBool, TypeDate, TypeIP, TypeBinary}

// FuzzCondition evaluates one condition against one context value. It checks that nothing
// panics and that, for a single-valued key, an operator and its negation never agree.
func FuzzCondition(f *testing.F) {
	f.Add(uint8(0), "aws:username", "al*", uint8(0), "alice", uint8(0))
	f.Add(uint8(5), "aws:SourceIp", "10.0.0.0/8", uint8(5), "10.1.2.3", uint8(0))
	f.Add(uint8(4), "aws:CurrentTime", "2025-01-01T00:00:00Z", uint8(4), "2025-06-01T12:00:00Z", uint8(0))
	f.Add(uint8(2), "aws:TagKeys", "${aws:username}", uint8(1), "env", uint8(1))
	f.Fuzz(fuzzConditionBody)
}

func fuzzConditionBody(t *testing.T, opIndex uint8, key, value string, typeIndex uint8, ctxValue string, qual uint8) {
	{
		pairIndex := int(opIndex) % len(twinOperators)
		pair := twinOperators[pairIndex]
		prefix := [...]string{"", "ForAllValues:", "ForAnyValue:", ""}[qual%4]
		suffix := ""
		if qual%4 == 3 {
			suffix = "IfExists"
		}
		if !utf8.ValidString(key) {
			return // JSON would rewrite the key, so the policy would name another key
		}
		typ := fuzzTypes[int(typeIndex)%len(fuzzTypes)]
		ctx := NewContext()
		if err := ctx.Set(key, typ, ctxValue); err != nil {
			return
		}
		decide := func(op string) (bool, bool) {
			doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": map[string]any{
				"Effect": "Allow", "Action": "ecr:*", "Resource": "*",
				"Condition": map[string]any{prefix + op + suffix: map[string]any{key: value}}}})
			p, err := Parse(doc, KindInlineRole)
			if err != nil {
				return false, false
			}
			return Evaluate(alice(ctx), &PolicySet{Identity: []*Policy{p}}).Allowed(), true
		}
		pos, ok1 := decide(pair[0])
		neg, ok2 := decide(pair[1])
		// The last two pairs are complements only for values that parse; the others always are.
		if ok1 && ok2 && prefix == "" && pairIndex < 8 && pos == neg {
			t.Fatalf("%s and %s agree (%v) on %s=%q vs %q", pair[0], pair[1], pos, key, ctxValue, value)
		}
	}
}

package iamapi

import (
	"context"
	"encoding/json"
	"strings"

	sdk "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/policy"
)

type contextKeysIn struct {
	PolicySourceArn *string // GetContextKeysForPrincipalPolicy only
	PolicyInputList []string
}

func (a *api) registerContextKeys(e *awsproto.Endpoint) {
	op(e, "GetContextKeysForCustomPolicy", func(ctx context.Context, in *contextKeysIn) (*sdk.GetContextKeysForCustomPolicyOutput, error) {
		if in.PolicyInputList == nil {
			return nil, awsproto.ValidationFailed(awsproto.ProtocolQuery, []awsproto.Violation{{Path: "policyInputList", Constraint: "Member must not be null"}})
		}
		if _, _, err := a.start(ctx, "GetContextKeysForCustomPolicy", "*"); err != nil {
			return nil, err
		}
		var docs []string
		for _, doc := range in.PolicyInputList {
			if _, err := policy.Parse([]byte(doc), policy.KindManaged); err != nil {
				return nil, err
			}
			docs = append(docs, doc)
		}
		return &sdk.GetContextKeysForCustomPolicyOutput{ContextKeyNames: contextKeyNames(docs)}, nil
	})

	op(e, "GetContextKeysForPrincipalPolicy", func(ctx context.Context, in *contextKeysIn) (*sdk.GetContextKeysForPrincipalPolicyOutput, error) {
		if err := required("policySourceArn", in.PolicySourceArn); err != nil {
			return nil, err
		}
		_, account, err := a.start(ctx, "GetContextKeysForPrincipalPolicy", *in.PolicySourceArn)
		if err != nil {
			return nil, err
		}
		sim := &simulation{}
		if _, err := a.principalPolicies(ctx, account, *in.PolicySourceArn, sim); err != nil {
			return nil, err
		}
		var docs []string
		for _, p := range sim.identity {
			docs = append(docs, p.Document())
		}
		if sim.boundary != nil {
			docs = append(docs, sim.boundary.Document())
		}
		for _, doc := range in.PolicyInputList {
			if _, err := policy.Parse([]byte(doc), policy.KindManaged); err != nil {
				return nil, err
			}
			docs = append(docs, doc)
		}
		return &sdk.GetContextKeysForPrincipalPolicyOutput{ContextKeyNames: contextKeyNames(docs)}, nil
	})
}

// contextKeyNames lists the condition keys and policy-variable keys that valid documents
// reference, each once (ignoring case), in order of appearance.
func contextKeyNames(docs []string) []string {
	names := []string{}
	seen := map[string]bool{}
	add := func(key string) {
		key = strings.TrimSpace(key)
		if key == "" || key == "*" || key == "?" || key == "$" || seen[strings.ToLower(key)] {
			return
		}
		seen[strings.ToLower(key)] = true
		names = append(names, key)
	}
	for _, doc := range docs {
		var tree struct {
			Statement json.RawMessage
		}
		if json.Unmarshal([]byte(doc), &tree) != nil {
			continue
		}
		for _, st := range statements(tree.Statement) {
			for _, field := range []string{"Resource", "NotResource"} {
				for _, s := range stringsOf(st[field]) {
					variablesIn(s, add)
				}
			}
			var cond map[string]map[string]json.RawMessage
			if json.Unmarshal(st["Condition"], &cond) != nil {
				continue
			}
			for _, byKey := range cond {
				for key, values := range byKey {
					add(key)
					for _, s := range stringsOf(values) {
						variablesIn(s, add)
					}
				}
			}
		}
	}
	return names
}

// statements reads a Statement element, a single object or a list of them.
func statements(raw json.RawMessage) []map[string]json.RawMessage {
	var list []map[string]json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one map[string]json.RawMessage
	if json.Unmarshal(raw, &one) == nil {
		return []map[string]json.RawMessage{one}
	}
	return nil
}

// stringsOf reads a string or a list of strings (other values are skipped).
func stringsOf(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	return nil
}

// variablesIn calls add with the key of every ${key} or ${key, 'default'} in s.
func variablesIn(s string, add func(string)) {
	for {
		start := strings.Index(s, "${")
		if start < 0 {
			return
		}
		end := strings.IndexByte(s[start:], '}')
		if end < 0 {
			return
		}
		inner := s[start+2 : start+end]
		if comma := strings.IndexByte(inner, ','); comma >= 0 {
			inner = inner[:comma]
		}
		add(inner)
		s = s[start+end+1:]
	}
}

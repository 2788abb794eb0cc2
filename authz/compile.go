package authz

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/policy"
)

// maxCompiled bounds the compiled-document cache; it starts over when full.
const maxCompiled = 1 << 14

// compileCache holds compiled policy documents by kind, label and text, across store
// generations: a document that did not change is compiled once, and a document shared by
// many principals (an AWS managed policy, a group's policy) is one compiled object.
type compileCache struct {
	mu       sync.Mutex
	policies map[compileKey][]*policy.Policy
}

type compileKey struct {
	kind       policy.Kind
	name, text string
}

// policySet compiles the documents of an identity-side policy set.
func (c *compileCache) policySet(docs *iam.PolicySet) (policy.PolicySet, error) {
	var set policy.PolicySet
	for i := range docs.Identity {
		d := &docs.Identity[i]
		ps, err := c.compile(d, identityKind(d))
		if err != nil {
			return set, err
		}
		set.Identity = append(set.Identity, ps...)
	}
	if docs.Boundary != nil {
		ps, err := c.compile(docs.Boundary, policy.KindBoundary)
		if err != nil {
			return set, err
		}
		if len(ps) != 1 {
			return set, fmt.Errorf("authz: permissions boundary %s is larger than a boundary may be", docs.Boundary.ARN)
		}
		set.Boundary = ps[0]
	}
	for i := range docs.Session {
		d := &docs.Session[i]
		kind := policy.KindManaged
		if d.Source == iam.SourceSession {
			kind = policy.KindSession
		}
		ps, err := c.compile(d, kind)
		if err != nil {
			return set, err
		}
		set.Session = append(set.Session, ps...)
	}
	if docs.HasSessionPolicy && len(set.Session) == 0 {
		// The session's policies are gone: the session keeps the limit, which now allows nothing.
		set.Session = []*policy.Policy{allowsNothing}
	}
	return set, nil
}

var allowsNothing = func() *policy.Policy {
	p, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"*","Resource":"*"}]}`), policy.KindSession)
	if err != nil {
		panic(err)
	}
	p.Name = "deleted session policy"
	return p
}()

// identityKind is the kind an identity document was validated as when it was stored.
func identityKind(d *iam.PolicyDocument) policy.Kind {
	if d.Source == iam.SourceManaged {
		return policy.KindManaged
	}
	switch r, _ := iam.ParseIAMARN(d.OwnerARN); r.Type {
	case "group":
		return policy.KindInlineGroup
	case "role":
		return policy.KindInlineRole
	default:
		return policy.KindInlineUser
	}
}

// label is the name a compiled policy reports in decisions: the managed policy's ARN, or
// the inline policy's name.
func label(d *iam.PolicyDocument) string {
	switch {
	case d.ARN != "":
		return d.ARN
	case d.Name != "":
		return d.Name
	case d.Source == iam.SourceSession:
		return "session policy"
	}
	return ""
}

// compile returns the compiled form of d, usually one policy. AWS managed documents
// larger than customers may write (ReadOnlyAccess) come back as several policies that
// together decide every request as the whole document would.
func (c *compileCache) compile(d *iam.PolicyDocument, kind policy.Kind) ([]*policy.Policy, error) {
	key := compileKey{kind: kind, name: label(d), text: d.Document}
	c.mu.Lock()
	ps, ok := c.policies[key]
	c.mu.Unlock()
	if ok {
		return ps, nil
	}
	p, err := policy.Parse([]byte(d.Document), kind)
	var tooBig *policy.SizeError
	switch {
	case err == nil:
		ps = []*policy.Policy{p}
	case errors.As(err, &tooBig) && iam.IsAWSManagedPolicyARN(d.ARN):
		if ps, err = compileInParts(d.Document, kind); err != nil {
			return nil, fmt.Errorf("authz: AWS managed policy %s: %w", d.ARN, err)
		}
	default:
		return nil, fmt.Errorf("authz: stored policy %q of %s does not compile: %w", key.name, d.OwnerARN, err)
	}
	for _, p := range ps {
		p.Name = key.name
	}
	c.mu.Lock()
	if c.policies == nil || len(c.policies) >= maxCompiled {
		c.policies = make(map[compileKey][]*policy.Policy)
	}
	c.policies[key] = ps
	c.mu.Unlock()
	return ps, nil
}

// compileInParts splits an identity policy that exceeds its kind's size limit into
// policies under the limit. Identity policies combine by "any Allow, unless any Deny",
// so statements may go to separate policies, and a statement whose Action is a list may
// be cut into statements over parts of the list; statements with NotAction, or too large
// for another reason, are refused.
func compileInParts(doc string, kind policy.Kind) ([]*policy.Policy, error) {
	var whole struct {
		Version   string
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &whole); err != nil {
		return nil, err
	}
	var stmts []map[string]json.RawMessage
	if err := json.Unmarshal(whole.Statement, &stmts); err != nil {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(whole.Statement, &one); err != nil {
			return nil, err
		}
		stmts = []map[string]json.RawMessage{one}
	}
	limit := kind.SizeLimit() * 3 / 4 // room for the envelope and for escapes
	var out []*policy.Policy
	for _, st := range stmts {
		parts, err := splitStatement(st, limit)
		if err != nil {
			return nil, err
		}
		for _, part := range parts {
			text, err := json.Marshal(map[string]any{"Version": whole.Version, "Statement": []any{part}})
			if err != nil {
				return nil, err
			}
			p, err := policy.Parse(text, kind)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

func splitStatement(st map[string]json.RawMessage, limit int) ([]map[string]json.RawMessage, error) {
	if whole, err := json.Marshal(st); err != nil || len(whole) <= limit {
		return []map[string]json.RawMessage{st}, err
	}
	var actions []string
	if err := json.Unmarshal(st["Action"], &actions); err != nil || len(actions) < 2 {
		return nil, errors.New("a statement too large to split")
	}
	rest := make(map[string]json.RawMessage, len(st))
	for k, v := range st {
		if k != "Action" {
			rest[k] = v
		}
	}
	overhead, err := json.Marshal(rest)
	if err != nil {
		return nil, err
	}
	budget := limit - len(overhead) - len(`,"Action":[]`)
	var out []map[string]json.RawMessage
	for len(actions) > 0 {
		n, size := 0, 0
		for n < len(actions) && size+len(actions[n])+3 <= budget {
			size += len(actions[n]) + 3
			n++
		}
		if n == 0 {
			return nil, errors.New("a statement too large to split")
		}
		list, err := json.Marshal(actions[:n])
		if err != nil {
			return nil, err
		}
		part := make(map[string]json.RawMessage, len(st))
		for k, v := range rest {
			part[k] = v
		}
		part["Action"] = list
		out = append(out, part)
		actions = actions[n:]
	}
	return out, nil
}

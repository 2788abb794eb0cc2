package authz

import (
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
	policies map[compileKey]*policy.Policy
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
		p, err := c.compile(d, identityKind(d))
		if err != nil {
			return set, err
		}
		set.Identity = append(set.Identity, p)
	}
	if docs.Boundary != nil {
		p, err := c.compile(docs.Boundary, managedKind(docs.Boundary, policy.KindBoundary))
		if err != nil {
			return set, err
		}
		set.Boundary = p
	}
	for i := range docs.Session {
		d := &docs.Session[i]
		kind := managedKind(d, policy.KindManaged)
		if d.Source == iam.SourceSession {
			kind = policy.KindSession
		}
		p, err := c.compile(d, kind)
		if err != nil {
			return set, err
		}
		set.Session = append(set.Session, p)
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
		return managedKind(d, policy.KindManaged)
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

// managedKind is KindAWSManaged for the document of a built-in AWS managed policy, which
// no size limit binds (ReadOnlyAccess is larger than customers may write), else kind.
func managedKind(d *iam.PolicyDocument, kind policy.Kind) policy.Kind {
	if aws, ok := iam.LookupAWSManagedPolicy(d.ARN); ok && aws.Document == d.Document {
		return policy.KindAWSManaged
	}
	return kind
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

// compile returns the compiled form of d.
func (c *compileCache) compile(d *iam.PolicyDocument, kind policy.Kind) (*policy.Policy, error) {
	key := compileKey{kind: kind, name: label(d), text: d.Document}
	c.mu.Lock()
	p, ok := c.policies[key]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := policy.Parse([]byte(d.Document), kind)
	if err != nil {
		return nil, fmt.Errorf("authz: stored policy %q of %s does not compile: %w", key.name, d.OwnerARN, err)
	}
	p.Name = key.name
	c.mu.Lock()
	if c.policies == nil || len(c.policies) >= maxCompiled {
		c.policies = make(map[compileKey]*policy.Policy)
	}
	c.policies[key] = p
	c.mu.Unlock()
	return p, nil
}

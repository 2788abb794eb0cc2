package policy

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/coffer-registry/coffer/internal/policycases"
)

// corpusCase is one case of the policy corpus.
type corpusCase = policycases.Case

// knownDisagreements lists corpus cases whose stated decision the engine deliberately does
// not reproduce, with the AWS documentation that says otherwise. Each is printed on every
// run; the test fails if an unlisted case fails or a listed case starts to agree.
var knownDisagreements = map[string]string{}

// buildCase turns a case into a request and policy set.
func buildCase(c *corpusCase) (*Request, *PolicySet, error) {
	p, err := PrincipalFromARN(c.CallerArn)
	if err != nil {
		return nil, nil, err
	}
	ctx := NewContext()
	for _, e := range c.ContextEntries {
		typ, err := ParseValueType(e.ContextKeyType)
		if err != nil {
			return nil, nil, err
		}
		if err := ctx.Set(e.ContextKeyName, typ, e.ContextKeyValues...); err != nil {
			return nil, nil, err
		}
	}
	owner := strings.SplitN(c.ResourceOwner, ":", 6)
	if len(owner) != 6 {
		return nil, nil, fmt.Errorf("bad ResourceOwner %q", c.ResourceOwner)
	}
	req := &Request{Principal: p, Action: c.ActionName, Resource: c.ResourceArn, ResourceAccount: owner[4], Context: ctx}
	set := &PolicySet{}
	for i, doc := range c.PolicyInputList {
		pol, err := Parse([]byte(doc), KindManaged)
		if err != nil {
			return nil, nil, fmt.Errorf("identity policy %d: %w", i, err)
		}
		pol.Name = fmt.Sprintf("identity-%d", i)
		set.Identity = append(set.Identity, pol)
	}
	if len(c.PermissionsBoundaryPolicyInputList) > 0 {
		pol, err := Parse([]byte(c.PermissionsBoundaryPolicyInputList[0]), KindBoundary)
		if err != nil {
			return nil, nil, fmt.Errorf("boundary: %w", err)
		}
		pol.Name = "boundary"
		set.Boundary = pol
	}
	if c.ResourcePolicy != "" {
		pol, err := Parse([]byte(c.ResourcePolicy), KindRepository)
		if err != nil {
			return nil, nil, fmt.Errorf("resource policy: %w", err)
		}
		pol.Name = "repository"
		set.Resource = pol
	}
	return req, set, nil
}

func caseFamily(c *corpusCase) string {
	for _, f := range c.Features {
		if strings.HasPrefix(f, "family:") {
			return strings.TrimPrefix(f, "family:")
		}
	}
	if c.Contested {
		return "classic-contested"
	}
	return "classic"
}

func runCorpus(t *testing.T, file string) {
	cases := policycases.Load(t, file)
	type tally struct{ pass, total int }
	families := map[string]*tally{}
	var failures []string
	for i := range cases {
		c := &cases[i]
		fam := caseFamily(c)
		if families[fam] == nil {
			families[fam] = &tally{}
		}
		families[fam].total++
		got := "error"
		req, set, err := buildCase(c)
		if err == nil {
			d := Evaluate(req, set)
			got = d.Outcome.String()
			// The simulator view must agree and name the deciding statement.
			sim := Simulate(req, set)
			if sim.Decision != d {
				t.Errorf("%s: Simulate decided %+v, Evaluate %+v", c.ID, sim.Decision, d)
			}
			if d.Outcome != ImplicitDeny && len(sim.Matched) == 0 {
				t.Errorf("%s: %v without a matched statement", c.ID, d.Outcome)
			}
			if d.Outcome != Allowed && !strings.Contains(DeniedMessage(req, d), " is not authorized to perform: "+c.ActionName) {
				t.Errorf("%s: message %q", c.ID, DeniedMessage(req, d))
			}
		}
		agree := got == c.EvalDecision
		reason, listed := knownDisagreements[c.ID]
		switch {
		case listed && agree:
			t.Errorf("%s: listed in knownDisagreements but now agrees (%s); remove it from the list", c.ID, got)
		case listed:
			t.Logf("KNOWN DISAGREEMENT %s: corpus %s, engine %s: %s", c.ID, c.EvalDecision, got, reason)
		case agree:
			families[fam].pass++
		default:
			msg := fmt.Sprintf("%s: want %s, got %s (%s)", c.ID, c.EvalDecision, got, c.Name)
			if err != nil {
				msg += ": " + err.Error()
			}
			failures = append(failures, msg)
		}
	}
	names := make([]string, 0, len(families))
	for f := range families {
		names = append(names, f)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, f := range names {
		fmt.Fprintf(&b, " %s=%d/%d", f, families[f].pass, families[f].total)
	}
	t.Logf("%s per family:%s", file, b.String())
	for _, f := range failures {
		t.Error(f)
	}
}

func TestCorpusGenerated(t *testing.T) { runCorpus(t, "policy-cases.json") }

func TestCorpusClassic(t *testing.T) { runCorpus(t, "policy-cases-classic.json") }

package policy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpusCase is one case of ../shared/reference/policy-cases*.json (SimulateCustomPolicy shape).
type corpusCase struct {
	ID                                 string
	Name                               string `json:"name"`
	CallerArn                          string
	ActionName                         string
	ResourceArn                        string
	ResourceOwner                      string
	PolicyInputList                    []string
	PermissionsBoundaryPolicyInputList []string
	ResourcePolicy                     string
	ContextEntries                     []struct {
		ContextKeyName   string
		ContextKeyValues []string
		ContextKeyType   string
	}
	EvalDecision   string
	Features       []string `json:"features"`
	Contested      bool     `json:"contested"`
	OracleDecision string   `json:"oracleDecision"`
}

// knownDisagreements lists corpus cases whose stated decision the engine deliberately does
// not reproduce, with the AWS documentation that says otherwise. Each is printed on every
// run; the test fails if an unlisted case fails or a listed case starts to agree.
var knownDisagreements = map[string]string{}

// referenceDir finds ../shared/reference relative to the module root.
func referenceDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("policy tests: go.mod not found above the package directory")
		}
		dir = parent
	}
	ref := filepath.Join(dir, "..", "shared", "reference")
	if _, err := os.Stat(ref); err != nil {
		t.Fatalf("policy tests need the reference corpus at %s (checkout of shared/ beside the module): %v", ref, err)
	}
	return ref
}

func loadCases(t testing.TB, name string) []corpusCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(referenceDir(t), name))
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	var cases []corpusCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s holds no cases", name)
	}
	return cases
}

// build turns a case into a request and policy set.
func (c *corpusCase) build() (*Request, *PolicySet, error) {
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
	cases := loadCases(t, file)
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
		req, set, err := c.build()
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

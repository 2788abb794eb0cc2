// Package policycases reads the policy decision corpus, ../shared/reference/policy-cases*.json
// beside the module, for the tests that replay it.
package policycases

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Files are the corpus files: the generated cases and the classic ones.
var Files = []string{"policy-cases.json", "policy-cases-classic.json"}

// Case is one case of the corpus, in the shape of SimulateCustomPolicy's input, with the
// decision IAM gave and the corpus's own notes on it.
type Case struct {
	ID                                 string `json:"id"`
	Name                               string `json:"name"`
	CallerArn                          string
	ActionName                         string
	ResourceArn                        string
	ResourceOwner                      string
	PolicyInputList                    []string
	PermissionsBoundaryPolicyInputList []string
	ResourcePolicy                     string
	ContextEntries                     []ContextEntry
	EvalDecision                       string
	Features                           []string `json:"features"`
	Contested                          bool     `json:"contested"`
	OracleDecision                     string   `json:"oracleDecision"`
}

// ContextEntry is one condition key of a case and its values.
type ContextEntry struct {
	ContextKeyName   string
	ContextKeyValues []string
	ContextKeyType   string
}

// Dir is ../shared/reference beside the module root; the test fails when it is missing.
func Dir(t testing.TB) string {
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
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
	ref := filepath.Join(dir, "..", "shared", "reference")
	if _, err := os.Stat(ref); err != nil {
		t.Fatalf("the policy corpus tests need the reference corpus at %s (shared/ beside the module): %v", ref, err)
	}
	return ref
}

// Load reads the cases of one corpus file; the test fails when it holds none.
func Load(t testing.TB, name string) []Case {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Dir(t), name))
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	var cases []Case
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s holds no cases", name)
	}
	return cases
}

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// corpusCase is one case of ../shared/reference/policy-cases*.json, in the shape of
// SimulateCustomPolicy's input.
type corpusCase struct {
	ID                                 string `json:"id"`
	CallerArn                          string
	ActionName                         string
	ResourceArn                        string
	ResourceOwner                      string
	PolicyInputList                    []string
	PermissionsBoundaryPolicyInputList []string
	ResourcePolicy                     string
	ContextEntries                     []json.RawMessage
	EvalDecision                       string
}

// cliInput is the case as `aws iam simulate-custom-policy --cli-input-json` takes it.
func (c corpusCase) cliInput() map[string]any {
	in := map[string]any{"PolicyInputList": c.PolicyInputList, "ActionNames": []string{c.ActionName},
		"ResourceArns": []string{c.ResourceArn}, "ResourceOwner": c.ResourceOwner, "CallerArn": c.CallerArn}
	if c.PolicyInputList == nil {
		in["PolicyInputList"] = []string{}
	}
	if len(c.PermissionsBoundaryPolicyInputList) > 0 {
		in["PermissionsBoundaryPolicyInputList"] = c.PermissionsBoundaryPolicyInputList
	}
	if c.ResourcePolicy != "" {
		in["ResourcePolicy"] = c.ResourcePolicy
	}
	if len(c.ContextEntries) > 0 {
		in["ContextEntries"] = c.ContextEntries
	}
	return in
}

// loadCorpus reads one corpus file of ../shared/reference (beside the repository).
func loadCorpus(t *testing.T, name string) []corpusCase {
	t.Helper()
	path := filepath.Join(repoRoot, "..", "shared", "reference", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the simulator replay needs the reference corpus: %v", err)
	}
	var cases []corpusCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cases
}

// The policy corpus replayed through `aws iam simulate-custom-policy` against the binary: every
// classic case and 50 generated ones spread over the file (iamapi replays all 2042 in-process).
func TestSimulateCustomPolicyCorpusWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the aws CLI 92 times")
	}
	srv := startCoffer(t, "")
	root := newAWSCLI(t, srv)
	classic := loadCorpus(t, "policy-cases-classic.json")
	generated := loadCorpus(t, "policy-cases.json")
	if len(classic) != 42 || len(generated) != 2000 {
		t.Fatalf("corpus sizes %d and %d, want 42 and 2000", len(classic), len(generated))
	}
	sample := append([]corpusCase{}, classic...)
	for i := 0; i < 50; i++ {
		sample = append(sample, generated[i*len(generated)/50+i%(len(generated)/50)])
	}

	dir := t.TempDir()
	files := map[string]string{}
	for _, c := range sample {
		data, err := json.Marshal(c.cliInput())
		if err != nil {
			t.Fatal(err)
		}
		files[c.ID] = writeFileArg(t, dir, c.ID+".json", string(data))
	}
	cases := make(chan corpusCase)
	var wg sync.WaitGroup
	var mu sync.Mutex
	decisions := map[string]int{}
	for range 3 { // three CLIs at a time: each spends most of its life starting Python
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range cases {
				out, stderr, err := root.try("iam", "simulate-custom-policy", "--cli-input-json", files[c.ID])
				if err != nil {
					t.Errorf("%s: %v\n%s", c.ID, err, stderr)
					continue
				}
				got := str(out, "EvaluationResults", 0, "EvalDecision")
				if got != c.EvalDecision {
					t.Errorf("%s: coffer says %s, the corpus says %s", c.ID, got, c.EvalDecision)
				}
				mu.Lock()
				decisions[got]++
				mu.Unlock()
			}
		}()
	}
	for _, c := range sample {
		cases <- c
	}
	close(cases)
	wg.Wait()
	if n := decisions["allowed"] + decisions["explicitDeny"] + decisions["implicitDeny"]; n != 92 {
		t.Errorf("%d decisions for 92 cases: %v", n, decisions)
	}
	t.Logf("decisions: %v", decisions)
}

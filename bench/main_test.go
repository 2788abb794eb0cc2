package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSideBySide runs the command end to end, tiny sizes, one round per registry order:
// real Coffer (built from ./cmd/coffer) and real Distribution processes on loopback.
// Distribution comes from scripts/install-bench-tools.sh; without it the test is skipped.
func TestSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("starts registry processes and builds coffer")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(root, ".tools", "bin", "registry")
	if _, err := os.Stat(dist); err != nil {
		t.Skip("Distribution not installed; run scripts/install-bench-tools.sh")
	}
	only := "coffer,distribution"
	if os.Getenv("BENCH_TEST_ONLY") != "" { // e.g. distribution, while Coffer does not build
		only = os.Getenv("BENCH_TEST_ONLY")
	}
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	var out, errs strings.Builder
	code := run([]string{"--only", only, "--rounds", "2", "--distribution", dist,
		"--big-size", "8MiB", "--rss-size", "16MiB", "--pattern-size", "1MiB",
		"--small-count", "50", "--small-size", "4KiB", "--small-concurrency", "4",
		"--manifest-concurrency", "4", "--warmup", "100ms", "--duration", "300ms",
		"--workdir", t.TempDir(), "--json", jsonPath}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errs.String())
	}
	var rep report
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	names := strings.Split(only, ",")
	if len(rep.Rounds) != 2 || len(rep.Rounds[0].Results) != len(scenarios())*len(names) {
		t.Fatalf("rounds: %+v", rep.Rounds)
	}
	if len(names) == 2 && rep.Rounds[0].Order[0] == rep.Rounds[1].Order[0] {
		t.Errorf("the second round did not swap the order: %v, %v", rep.Rounds[0].Order, rep.Rounds[1].Order)
	}
	for _, row := range rep.Summary {
		for _, n := range names {
			if !(row.Medians[n] > 0) {
				t.Errorf("%s %s on %s: median %v", row.Scenario, row.Metric, n, row.Medians[n])
			}
		}
		if len(names) == 2 && (row.Ratio == nil || !(*row.Ratio > 0)) {
			t.Errorf("%s %s: no ratio", row.Scenario, row.Metric)
		}
	}
	if !strings.Contains(out.String(), "Medians over 2 round(s)") {
		t.Errorf("no summary table:\n%s", out.String())
	}
}

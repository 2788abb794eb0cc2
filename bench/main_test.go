package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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
	only := "coffer,coffer-auth,distribution"
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
	if len(names) > 1 && rep.Rounds[0].Order[0] == rep.Rounds[1].Order[0] {
		t.Errorf("the second round did not swap the order: %v, %v", rep.Rounds[0].Order, rep.Rounds[1].Order)
	}
	for _, row := range rep.Summary {
		for _, n := range names {
			if !(row.Medians[n] > 0) {
				t.Errorf("%s %s on %s: median %v", row.Scenario, row.Metric, n, row.Medians[n])
			}
		}
		if slices.Contains(names, subject) && slices.Contains(names, baseline) && (row.Ratio == nil || !(*row.Ratio > 0)) {
			t.Errorf("%s %s: no ratio", row.Scenario, row.Metric)
		}
	}
	if len(names) == 3 {
		var issue5 int
		for _, g := range rep.Goals {
			if g.Issue == 5 && g.Measured > 0 {
				issue5++
			}
		}
		if issue5 != 4 { // two ratios for each of manifest-head and manifest-get
			t.Errorf("issue #5 goals: %+v", rep.Goals)
		}
	}
	if !strings.Contains(out.String(), "Medians over 2 round(s)") {
		t.Errorf("no summary table:\n%s", out.String())
	}
}

// TestCofferAuthTarget starts the coffer-auth target from a real coffer binary: the setup
// (root key from DATA/credentials, CreateRepository, an IAM user with an inline policy, its
// token) must let the manifest scenario push and pull, while the same requests without the
// token are refused.
func TestCofferAuthTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds coffer and starts it")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "coffer")
	build := exec.Command("go", "build", "-o", bin, "./cmd/coffer")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/coffer: %v\n%s", err, b)
	}
	tg := &target{Name: "coffer-auth", Kind: kindCoffer, Bin: bin, Repo: "bench/app", ECRAuth: true}
	ctx := context.Background()
	inst, err := tg.start(ctx, t.TempDir(), 4, false)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.stop()
	if slices.Contains(tg.lastCommand, "--insecure-no-auth") {
		t.Fatalf("coffer-auth ran %v", tg.lastCommand)
	}
	if !regexp.MustCompile(`^[0-9]{12}/bench/app$`).MatchString(inst.repo) {
		t.Fatalf("repository %q, want ACCOUNT/bench/app", inst.repo)
	}
	e := &env{cfg: tinyConfig(), firstPass: true}
	sc := manifestScenario("manifest-get", http.MethodGet)
	if err := e.payloads([]*scenario{sc}); err != nil {
		t.Fatal(err)
	}
	res, _, err := measure(ctx, e, sc, inst)
	if err != nil {
		t.Fatal(err)
	}
	if !(res["req_s"] > 0) {
		t.Errorf("manifest-get: %v", res)
	}

	anon, err := newClient("anonymous", inst.base, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.close()
	err = anon.manifest(ctx, http.MethodGet, inst.repo, manifestTag, e.manifest.spec)
	var se *statusError
	if !errors.As(err, &se) || se.got != http.StatusUnauthorized {
		t.Errorf("GET of the manifest without a token: %v, want status 401", err)
	}
}

// Over six rounds every target of three runs in every position twice and all six orders
// come up; two targets alternate.
func TestRoundOrderBalancesPositions(t *testing.T) {
	targets := []string{"a", "b", "c"}
	seen := map[string]bool{}
	positions := map[string][3]int{}
	for r := range 6 {
		order := roundOrder(targets, r)
		seen[strings.Join(order, "")] = true
		for i, name := range order {
			p := positions[name]
			p[i]++
			positions[name] = p
		}
	}
	if len(seen) != 6 {
		t.Errorf("orders over six rounds: %v, want all six", seen)
	}
	for name, p := range positions {
		if p != [3]int{2, 2, 2} {
			t.Errorf("%s ran in positions %v times, want 2 each", name, p)
		}
	}
	var two []string
	for r := range 4 {
		two = append(two, strings.Join(roundOrder([]string{"x", "y"}, r), ""))
	}
	if strings.Join(two, " ") != "xy yx yx xy" {
		t.Errorf("two targets: %v", two)
	}
	if got := roundOrder(targets, 0); strings.Join(targets, "") != "abc" || strings.Join(got, "") != "abc" {
		t.Errorf("roundOrder changed its input or round 0: %v %v", targets, got)
	}
}

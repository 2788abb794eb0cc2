package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestMedianAndPercentile(t *testing.T) {
	if m := median([]float64{5, 1, 3}); m != 3 {
		t.Errorf("median odd = %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median even = %v", m)
	}
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Millisecond
	}
	if p := percentile(lat, 50); p != 50*time.Millisecond {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(lat, 99); p != 99*time.Millisecond {
		t.Errorf("p99 = %v", p)
	}
	if p := percentile(lat, 100); p != 100*time.Millisecond {
		t.Errorf("p100 = %v", p)
	}
	if p := percentile(lat[:1], 99); p != time.Millisecond {
		t.Errorf("p99 of one = %v", p)
	}
}

// TestSummarizeRatiosAndGoals checks that the ratio is the median of per-round ratios (not
// the ratio of medians) and that goals pass and miss on the right side.
func TestSummarizeRatiosAndGoals(t *testing.T) {
	sc := &scenario{
		Name:    "s",
		Metrics: []metric{{"x", "MB/s", true}, {"p99_ms", "p99 ms", false}},
		Goals: []goal{
			{Metric: "x", Ratio: true, Value: 1.4},
			{Metric: "x", Value: 900},
			{Metric: "p99_ms", AtMost: true, Value: 10},
		},
	}
	mk := func(n int, c, d, p99 float64) round {
		return round{Round: n, Results: []result{
			{Scenario: "s", Target: "coffer", Metrics: map[string]float64{"x": c, "p99_ms": p99}},
			{Scenario: "s", Target: "distribution", Metrics: map[string]float64{"x": d, "p99_ms": 1}},
		}}
	}
	rep := &report{Rounds: []round{mk(1, 1000, 500, 12), mk(2, 900, 900, 8), mk(3, 1500, 1000, 9)}}
	rep.summarize([]*scenario{sc}, []string{"coffer", "distribution"})

	// Per-round ratios 2.0, 1.0, 1.5 → median 1.5; ratio of medians would be 1000/900.
	x := rep.Summary[0]
	if x.Ratio == nil || math.Abs(*x.Ratio-1.5) > 1e-9 {
		t.Fatalf("ratio = %v, want 1.5", x.Ratio)
	}
	if x.Medians["coffer"] != 1000 || x.Medians["distribution"] != 900 {
		t.Errorf("medians = %v", x.Medians)
	}
	if len(rep.Goals) != 3 {
		t.Fatalf("goals = %+v", rep.Goals)
	}
	want := []bool{true, true, true} // 1.5 ≥ 1.4, 1000 ≥ 900, p99 median 9 ≤ 10
	for i, g := range rep.Goals {
		if g.Pass != want[i] {
			t.Errorf("goal %q measured %v: pass %v, want %v", g.Goal, g.Measured, g.Pass, want[i])
		}
	}

	rep.Rounds = []round{mk(1, 800, 1000, 20)}
	rep.summarize([]*scenario{sc}, []string{"coffer", "distribution"})
	for _, g := range rep.Goals {
		if g.Pass {
			t.Errorf("goal %q measured %v passed", g.Goal, g.Measured)
		}
	}
	var b strings.Builder
	printSummary(&b, rep, []string{"coffer", "distribution"})
	for _, s := range []string{"0.80×", "coffer/distribution MB/s ≥ 1.40×", "coffer p99 ms ≤ 10", "MISS"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, b.String())
		}
	}

	// Without the baseline there is no ratio and no ratio goal.
	rep.Rounds = []round{{Round: 1, Results: rep.Rounds[0].Results[:1]}}
	rep.summarize([]*scenario{sc}, []string{"coffer"})
	if rep.Summary[0].Ratio != nil || len(rep.Goals) != 2 {
		t.Errorf("coffer alone: ratio %v, goals %+v", rep.Summary[0].Ratio, rep.Goals)
	}
}

// TestGoalsBetweenOtherRegistries checks the issue-#5 kind of goal: a ratio of two named
// registries, taken per round, shown with the names, and absent when one of them did not run.
func TestGoalsBetweenOtherRegistries(t *testing.T) {
	sc := &scenario{
		Name:    "m",
		Metrics: []metric{{"req_s", "req/s", true}},
		Goals: []goal{
			{Metric: "req_s", Ratio: true, Value: 0.9, Of: "coffer-auth", Over: "coffer", Issue: 5},
			{Metric: "req_s", Ratio: true, Value: 2.5, Of: "coffer-auth", Over: "distribution", Issue: 5},
		},
	}
	mk := func(n int, c, a, d float64) round {
		return round{Round: n, Results: []result{
			{Scenario: "m", Target: "coffer", Metrics: map[string]float64{"req_s": c}},
			{Scenario: "m", Target: "coffer-auth", Metrics: map[string]float64{"req_s": a}},
			{Scenario: "m", Target: "distribution", Metrics: map[string]float64{"req_s": d}},
		}}
	}
	names := []string{"coffer", "coffer-auth", "distribution"}
	// auth/coffer per round: 0.8, 0.95, 0.92 → 0.92; auth/distribution: 4, 1.9, 2.3 → 2.3.
	rep := &report{Rounds: []round{mk(1, 1000, 800, 200), mk(2, 1000, 950, 500), mk(3, 1000, 920, 400)}}
	rep.summarize([]*scenario{sc}, names)
	if len(rep.Goals) != 2 {
		t.Fatalf("goals = %+v", rep.Goals)
	}
	if g := rep.Goals[0]; math.Abs(g.Measured-0.92) > 1e-9 || !g.Pass || g.Issue != 5 {
		t.Errorf("coffer-auth/coffer goal = %+v", g)
	}
	if g := rep.Goals[1]; math.Abs(g.Measured-2.3) > 1e-9 || g.Pass {
		t.Errorf("coffer-auth/distribution goal = %+v", g)
	}
	var b strings.Builder
	printSummary(&b, rep, names)
	for _, s := range []string{"coffer-auth/coffer ≥ 0.90×", "coffer-auth/coffer req/s ≥ 0.90×", "0.92×",
		"coffer-auth/distribution req/s ≥ 2.50×", "2.30×", "#5"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, b.String())
		}
	}

	rep.Rounds = []round{{Round: 1, Results: mk(1, 1000, 900, 300).Results[1:]}}
	rep.summarize([]*scenario{sc}, names)
	if len(rep.Goals) != 1 || rep.Goals[0].Metric != "req_s" || math.Abs(rep.Goals[0].Measured-3) > 1e-9 {
		t.Errorf("without coffer: goals %+v", rep.Goals)
	}
}

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

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// baseline is the registry every ratio divides by; subject is the one the goals judge.
const (
	baseline = "distribution"
	subject  = "coffer"
)

// result is one scenario measured once on one registry.
type result struct {
	Scenario string             `json:"scenario"`
	Target   string             `json:"registry"`
	Metrics  map[string]float64 `json:"metrics"`
	CPU      cpuUse             `json:"cpu"`
}

// round is every result of one round, in the order they were measured.
type round struct {
	Round   int      `json:"round"`
	Order   []string `json:"order"`
	Load    string   `json:"loadavg_at_start"`
	Results []result `json:"results"`
}

// summaryRow is the median of one metric of one scenario over the rounds.
type summaryRow struct {
	Scenario string             `json:"scenario"`
	Metric   string             `json:"metric"`
	Unit     string             `json:"unit"`
	Medians  map[string]float64 `json:"medians"`
	// Ratio is the median over rounds of subject/baseline; absent without both registries.
	Ratio        *float64 `json:"ratio,omitempty"`
	HigherBetter bool     `json:"higher_is_better"`
}

// goalRow is one target of the project issue checked against the medians.
type goalRow struct {
	Scenario string  `json:"scenario"`
	Metric   string  `json:"metric"`
	Goal     string  `json:"goal"`
	Measured float64 `json:"measured"`
	Ratio    bool    `json:"is_ratio"`
	Pass     bool    `json:"pass"`
	Issue    int     `json:"issue,omitempty"`
	Short    string  `json:"-"` // the goal without names, for the medians table: "≥ 1.40×"
}

// hostInfo describes the machine, since figures only compare within one machine.
type hostInfo struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	LoadBefore string `json:"loadavg_before"`
	LoadAfter  string `json:"loadavg_after"`
	// SHA256 is one core's SHA-256 speed in MB/s (the issue's 900 MB/s push target is half
	// of it on the reference machine); DiskWrite is how fast a plain program writes a big
	// file in the work directory, fsync included: no registry can store a blob faster.
	SHA256    float64 `json:"sha256_mb_s"`
	DiskWrite float64 `json:"workdir_write_mb_s,omitempty"`
	// SmallFiles is how many small-push-sized files a plain program publishes per second in
	// the work directory the way a registry that fsyncs must (write, fsync, rename, fsync of
	// the directory), with the small-push concurrency: the ceiling of such a registry there.
	SmallFiles float64 `json:"workdir_small_files_s,omitempty"`
	WorkDir    string  `json:"workdir"`
}

// registryInfo says how one registry was run, so a reader can repeat it.
type registryInfo struct {
	Name    string   `json:"name"`
	Program string   `json:"program"`
	Version string   `json:"version"`
	Command []string `json:"command"` // of the first instance; ports and directories vary
	Env     []string `json:"env,omitempty"`
	Config  string   `json:"config,omitempty"` // Distribution's config.yml, likewise
}

// report is the whole run; it is also the JSON written by --json.
type report struct {
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
	Command  string         `json:"command"`
	Host     hostInfo       `json:"host"`
	Registry []registryInfo `json:"registries"`
	Config   config         `json:"config"`
	Rounds   []round        `json:"rounds"`
	Summary  []summaryRow   `json:"summary"`
	Goals    []goalRow      `json:"goals"`
}

// median returns the middle of xs (the mean of the two middle values for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// find returns the metrics of scenario on target in a round, or nil.
func (r *round) find(scenario, target string) map[string]float64 {
	for _, res := range r.Results {
		if res.Scenario == scenario && res.Target == target {
			return res.Metrics
		}
	}
	return nil
}

// summarize fills Summary and Goals from Rounds.
func (rep *report) summarize(scs []*scenario, targets []string) {
	rep.Summary, rep.Goals = nil, nil
	for _, sc := range scs {
		for _, m := range sc.Metrics {
			row := summaryRow{Scenario: sc.Name, Metric: m.Key, Unit: m.Unit, Medians: map[string]float64{}, HigherBetter: m.HigherBetter}
			var ratios []float64
			for _, t := range targets {
				var vals []float64
				for i := range rep.Rounds {
					if ms := rep.Rounds[i].find(sc.Name, t); ms != nil {
						vals = append(vals, ms[m.Key])
					}
				}
				if len(vals) > 0 {
					row.Medians[t] = median(vals)
				}
			}
			for i := range rep.Rounds {
				s, b := rep.Rounds[i].find(sc.Name, subject), rep.Rounds[i].find(sc.Name, baseline)
				if s != nil && b != nil && b[m.Key] != 0 {
					ratios = append(ratios, s[m.Key]/b[m.Key])
				}
			}
			if len(ratios) > 0 {
				r := median(ratios)
				row.Ratio = &r
			}
			if len(row.Medians) > 0 {
				rep.Summary = append(rep.Summary, row)
			}
		}
		for _, g := range sc.Goals {
			unit := ""
			for _, m := range sc.Metrics {
				if m.Key == g.Metric {
					unit = m.Unit
				}
			}
			if v, ok := rep.goalValue(sc.Name, g); ok {
				rep.Goals = append(rep.Goals, goalRow{Scenario: sc.Name, Metric: g.Metric, Short: g.short(), Goal: g.String(unit),
					Issue: g.Issue, Measured: v, Ratio: g.Ratio, Pass: g.met(v)})
			}
		}
	}
}

// goalValue is what goal g of scenario is judged on: for a ratio, the median over rounds of
// the per-round ratio of its two registries; otherwise the median of its registry. ok is
// false when the run lacks a registry the goal needs.
func (rep *report) goalValue(scenario string, g goal) (float64, bool) {
	if !g.Ratio {
		for _, row := range rep.Summary {
			if row.Scenario == scenario && row.Metric == g.Metric {
				v, ok := row.Medians[g.of()]
				return v, ok
			}
		}
		return 0, false
	}
	var ratios []float64
	for i := range rep.Rounds {
		a, b := rep.Rounds[i].find(scenario, g.of()), rep.Rounds[i].find(scenario, g.over())
		if a != nil && b != nil && b[g.Metric] != 0 {
			ratios = append(ratios, a[g.Metric]/b[g.Metric])
		}
	}
	if len(ratios) == 0 {
		return 0, false
	}
	return median(ratios), true
}

// printRound writes one round's table: each metric per registry and the ratio.
func printRound(w io.Writer, r *round, scs []*scenario, targets []string) {
	fmt.Fprintf(w, "\nRound %d (order: %s; load average at start %s)\n", r.Round, strings.Join(r.Order, ", "), r.Load)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header(tw, targets)
	fmt.Fprintln(tw)
	for _, sc := range scs {
		for _, m := range sc.Metrics {
			vals := map[string]float64{}
			for _, t := range targets {
				if ms := r.find(sc.Name, t); ms != nil {
					vals[t] = ms[m.Key]
				}
			}
			if len(vals) == 0 {
				continue
			}
			var ratio *float64
			if s, ok := vals[subject]; ok {
				if b, ok := vals[baseline]; ok && b != 0 {
					x := s / b
					ratio = &x
				}
			}
			row(tw, sc.Name, m.Unit, targets, vals, ratio)
			fmt.Fprintln(tw)
		}
	}
	tw.Flush()
}

// printSummary writes the medians and the goals.
func printSummary(w io.Writer, rep *report, targets []string) {
	fmt.Fprintf(w, "\nMedians over %d round(s); ratio = median over rounds of %s/%s\n", len(rep.Rounds), subject, baseline)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header(tw, targets)
	fmt.Fprintf(tw, "target\tresult\t\n")
	for _, s := range rep.Summary {
		row(tw, s.Scenario, s.Unit, targets, s.Medians, s.Ratio)
		var goals, verdicts []string
		for _, g := range rep.Goals {
			if g.Scenario == s.Scenario && g.Metric == s.Metric {
				goals = append(goals, g.Short)
				verdicts = append(verdicts, verdict(g.Pass))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", strings.Join(goals, " and "), strings.Join(verdicts, ", "))
	}
	tw.Flush()
	fmt.Fprintf(w, "load average before %s, after %s on %d CPUs; one core hashes SHA-256 at %.0f MB/s",
		rep.Host.LoadBefore, rep.Host.LoadAfter, rep.Host.CPUs, rep.Host.SHA256)
	if rep.Host.DiskWrite > 0 {
		fmt.Fprintf(w, "; the work directory takes a big file at %.0f MB/s", rep.Host.DiskWrite)
	}
	if rep.Host.SmallFiles > 0 {
		fmt.Fprintf(w, "; publishes small files with fsync at %.0f files/s", rep.Host.SmallFiles)
	}
	if busy(rep.Host.LoadBefore, rep.Host.CPUs) {
		fmt.Fprintf(w, "\nWARNING: the machine was busy with other work before the start; these figures are noise")
	}
	fmt.Fprintln(w)
	if len(rep.Goals) == 0 {
		return
	}
	fmt.Fprintf(w, "\nTargets of the project issues; a ratio is the median over rounds of the two registries' ratio\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "issue\tscenario\ttarget\tmeasured\tresult\t\n")
	for _, g := range rep.Goals {
		measured := num(g.Measured)
		if g.Ratio {
			measured = fmt.Sprintf("%.2f×", g.Measured)
		}
		issue := "-"
		if g.Issue != 0 {
			issue = fmt.Sprintf("#%d", g.Issue)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", issue, g.Scenario, g.Goal, measured, verdict(g.Pass))
	}
	tw.Flush()
}

// busy reports a 1-minute load average above half the CPUs. Only the load before the start
// tells about other work: during the run the benchmark itself keeps the CPUs busy.
func busy(loadavg string, cpus int) bool {
	f := strings.Fields(loadavg)
	if len(f) == 0 {
		return false
	}
	l, err := strconv.ParseFloat(f[0], 64)
	return err == nil && l > float64(cpus)/2
}

func verdict(pass bool) string {
	if pass {
		return "PASS"
	}
	return "MISS"
}

// header writes the column names up to "ratio"; the caller ends the line.
func header(tw *tabwriter.Writer, targets []string) {
	fmt.Fprintf(tw, "scenario\tunit\t")
	for _, t := range targets {
		fmt.Fprintf(tw, "%s\t", t)
	}
	fmt.Fprintf(tw, "ratio\t")
}

// row writes one line's cells up to the ratio; the caller ends the line.
func row(tw *tabwriter.Writer, scenario, unit string, targets []string, vals map[string]float64, ratio *float64) {
	fmt.Fprintf(tw, "%s\t%s\t", scenario, unit)
	for _, t := range targets {
		if v, ok := vals[t]; ok {
			fmt.Fprintf(tw, "%s\t", num(v))
		} else {
			fmt.Fprintf(tw, "-\t")
		}
	}
	if ratio != nil {
		fmt.Fprintf(tw, "%.2f×\t", *ratio)
	} else {
		fmt.Fprintf(tw, "-\t")
	}
}

// num prints a figure with three significant digits or more.
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// writeJSON writes the report to path.
func writeJSON(path string, rep *report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

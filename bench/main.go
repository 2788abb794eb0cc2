// Command bench measures Coffer side by side with the CNCF Distribution registry: blob push
// and pull, many small blobs, manifest HEAD/GET under load and peak memory (`go run ./bench`).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	if cfg.List {
		for _, s := range scenarios() {
			fmt.Fprintf(stdout, "%-14s %s\n", s.Name, s.About)
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench(ctx, cfg, args, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if cfg.JSON != "" {
		if err := writeJSON(cfg.JSON, rep); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", cfg.JSON)
	}
	return 0
}

// bench prepares the registries and payloads, runs the rounds and prints the tables.
func bench(ctx context.Context, cfg config, args []string, out io.Writer) (*report, error) {
	rep := &report{
		Started: time.Now().UTC(),
		Command: "go run ./bench " + strings.Join(args, " "),
		Config:  cfg,
		Host:    host(),
	}
	work := cfg.WorkDir
	if work == "" {
		dir, err := os.MkdirTemp("", "coffer-bench-")
		if err != nil {
			return nil, err
		}
		work = dir
		if !cfg.Keep {
			defer os.RemoveAll(dir)
		}
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}

	defer removeRetired()
	targets, err := makeTargets(ctx, &cfg, work, out)
	if err != nil {
		return nil, err
	}
	rep.Config = cfg
	var names []string
	for _, t := range targets {
		names = append(names, t.Name)
	}

	var scs []*scenario
	for _, s := range scenarios() {
		if slices.Contains(cfg.Scenarios, s.Name) {
			scs = append(scs, s)
		}
	}
	e := &env{cfg: cfg}
	fmt.Fprintf(out, "preparing payloads (random data, digests) ...\n")
	if err := e.payloads(scs); err != nil {
		return nil, err
	}
	rep.Host.WorkDir = work
	rep.Host.SHA256 = sha256Speed(e.pattern())
	if slices.Contains(cfg.Scenarios, "big-push") || slices.Contains(cfg.Scenarios, "rss-upload") {
		mbs, err := writeSpeed(work, e.pattern(), cfg.BigSize)
		if err != nil {
			return nil, err
		}
		rep.Host.DiskWrite = mbs
	}
	if slices.Contains(cfg.Scenarios, "small-push") {
		fps, err := smallFileSpeed(work, int(cfg.SmallSize), cfg.SmallCount, cfg.SmallConcurrency)
		if err != nil {
			return nil, err
		}
		rep.Host.SmallFiles = fps
	}
	fmt.Fprintf(out, "registries: %s; scenarios: %s; %d round(s); load average %s\n",
		strings.Join(names, ", "), strings.Join(cfg.Scenarios, ", "), cfg.Rounds, rep.Host.LoadBefore)
	fmt.Fprintf(out, "one core hashes SHA-256 at %.0f MB/s", rep.Host.SHA256)
	if rep.Host.DiskWrite > 0 {
		fmt.Fprintf(out, "; %s takes a %s file (fsync included) at %.0f MB/s", work, formatSize(cfg.BigSize), rep.Host.DiskWrite)
	}
	if rep.Host.SmallFiles > 0 {
		fmt.Fprintf(out, "; a plain program publishes %d files of %s there (write, fsync, rename into one of 256 directories, fsync of it; %d writers) at %.0f files/s",
			cfg.SmallCount, formatSize(cfg.SmallSize), cfg.SmallConcurrency, rep.Host.SmallFiles)
	}
	fmt.Fprintln(out)

	for r := range cfg.Rounds {
		order := roundOrder(targets, r)
		e.firstPass = r == 0
		rd, err := runRound(ctx, e, r+1, order, scs, work, out)
		if err != nil {
			return nil, err
		}
		rep.Rounds = append(rep.Rounds, *rd)
		printRound(out, rd, scs, names)
	}
	rep.Host.LoadAfter = loadavg()
	for _, t := range targets {
		info := registryInfo{Name: t.Name, Program: t.Bin, Command: t.lastCommand, Env: t.Env, Config: t.lastConfig}
		switch t.Kind {
		case kindCoffer:
			info.Version = programVersion(t.Bin, "version")
			if t.built {
				info.Version += ", built from the working tree at " + gitRevision()
			}
		case kindDistribution:
			info.Version = programVersion(t.Bin, "--version")
		}
		rep.Registry = append(rep.Registry, info)
	}
	rep.Finished = time.Now().UTC()
	rep.summarize(scs, names)
	printSummary(out, rep, names)
	return rep, nil
}

// runRound measures every scenario once on every target, in the given order. Shared
// instances start when first needed and stop at the end of the round.
func runRound(ctx context.Context, e *env, n int, order []*target, scs []*scenario, work string, out io.Writer) (*round, error) {
	rd := &round{Round: n, Load: loadavg()}
	for _, t := range order {
		rd.Order = append(rd.Order, t.Name)
	}
	fmt.Fprintf(out, "\nround %d: %s first\n", n, order[0].Name)
	conns := max(e.cfg.SmallConcurrency, e.cfg.ManifestConcurrency)
	shared := map[string]*instance{}
	defer func() {
		for _, inst := range shared {
			inst.stop()
		}
	}()
	for _, sc := range scs {
		for _, t := range order {
			inst := shared[t.Name]
			if sc.Fresh || inst == nil {
				var err error
				inst, err = t.start(ctx, work, conns, e.cfg.Keep)
				if err != nil {
					return nil, err
				}
				if !sc.Fresh {
					shared[t.Name] = inst
				}
			}
			e.round = n
			res, cpu, err := measure(ctx, e, sc, inst)
			if sc.Fresh {
				inst.stop()
			}
			if err != nil {
				return nil, fmt.Errorf("round %d, %s on %s: %w", n, sc.Name, t.Name, err)
			}
			rd.Results = append(rd.Results, result{Scenario: sc.Name, Target: t.Name, Metrics: res, CPU: cpu})
			var parts []string
			for _, m := range sc.Metrics {
				parts = append(parts, num(res[m.Key])+" "+m.Unit)
			}
			fmt.Fprintf(out, "  %-14s %-13s %-42s cpu: server %.2f s, client %.2f s\n",
				sc.Name, t.Name, strings.Join(parts, ", "), cpu.Server, cpu.Client)
		}
	}
	return rd, nil
}

// measure prepares and runs one scenario on one instance, then flushes written data to disk
// so the next measurement starts from the same state, and checks the server is still up.
// With --perf, a CPU profile of Coffer is recorded while the scenario runs.
func measure(ctx context.Context, e *env, sc *scenario, inst *instance) (map[string]float64, cpuUse, error) {
	if sc.Prepare != nil {
		if err := sc.Prepare(ctx, e, inst); err != nil {
			return nil, cpuUse{}, withAlive(err, inst)
		}
	}
	var prof *profiler
	if e.cfg.PerfDir != "" && inst.target.Kind == kindCoffer {
		var err error
		name := fmt.Sprintf("round%d-%s-%s", e.round, sc.Name, inst.target.Name)
		if prof, err = startPerf(e.cfg.PerfDir, name, inst.pid); err != nil {
			return nil, cpuUse{}, err
		}
	}
	meter := startCPU(inst.pid)
	res, err := sc.Run(ctx, e, inst)
	cpu := meter.stop()
	if prof != nil {
		if _, perr := prof.stop(); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return nil, cpu, withAlive(err, inst)
	}
	flush()
	if err := inst.alive(); err != nil {
		return nil, cpu, err
	}
	return res, cpu, nil
}

// withAlive adds the server's exit and last output to err when the server died.
func withAlive(err error, inst *instance) error {
	time.Sleep(50 * time.Millisecond)
	if dead := inst.alive(); dead != nil {
		return fmt.Errorf("%w\n%v", err, dead)
	}
	return err
}

// makeTargets resolves the programs (building Coffer when --coffer is not given) and returns
// the selected targets in a fixed order.
func makeTargets(ctx context.Context, cfg *config, work string, out io.Writer) ([]*target, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	var targets []*target
	if slices.Contains(cfg.Only, "coffer") || slices.Contains(cfg.Only, "coffer-auth") {
		built := cfg.CofferBin == ""
		if built {
			bin := filepath.Join(work, "coffer")
			fmt.Fprintf(out, "building ./cmd/coffer ...\n")
			cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/coffer")
			cmd.Dir = root
			if b, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("go build ./cmd/coffer: %v\n%s", err, b)
			}
			cfg.CofferBin = bin
		}
		if slices.Contains(cfg.Only, "coffer") {
			t := &target{Name: "coffer", Kind: kindCoffer, Bin: cfg.CofferBin, Args: cfg.CofferArgs,
				Repo: cfg.Account + "/" + cfg.Repo, built: built}
			if cfg.CofferUser != "" {
				t.Creds = &credentials{User: cfg.CofferUser, Password: cfg.CofferPassword}
			}
			targets = append(targets, t)
		}
		if slices.Contains(cfg.Only, "coffer-auth") {
			// The same program with authorization on; the account is the one its first start
			// creates, so the repository is prefixed per instance.
			targets = append(targets, &target{Name: "coffer-auth", Kind: kindCoffer, Bin: cfg.CofferBin,
				Args: cfg.CofferArgs, Repo: cfg.Repo, ECRAuth: true, built: built})
		}
	}
	if slices.Contains(cfg.Only, "distribution") {
		bin := cfg.DistributionBin
		if !filepath.IsAbs(bin) {
			if _, err := os.Stat(bin); err != nil {
				bin = filepath.Join(root, bin)
			}
		}
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("distribution registry %s: %w (run scripts/install-bench-tools.sh)", bin, err)
		}
		cfg.DistributionBin = bin
		// Distribution always traces every request; without a collector its default OTLP
		// exporter would retry sends to localhost. "none" keeps the spans, drops the export.
		targets = append(targets, &target{Name: "distribution", Kind: kindDistribution, Bin: bin,
			Args: cfg.DistributionArgs, Env: []string{"OTEL_TRACES_EXPORTER=none"}, Repo: cfg.Repo})
	}
	for _, t := range targets {
		if abs, err := filepath.Abs(t.Bin); err == nil {
			t.Bin = abs
		}
	}
	return targets, nil
}

// moduleRoot finds the directory of go.mod from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod here or above: run from the Coffer repository")
		}
		dir = parent
	}
}

func host() hostInfo {
	h := hostInfo{CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadBefore: loadavg()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				h.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return h
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func gitRevision() string {
	b, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func programVersion(bin, arg string) string {
	b, err := exec.Command(bin, arg).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// roundOrder is the order in which round r (from 0) measures the targets: rotated by one
// every second round and reversed every other one, so that over rounds each target runs in
// every position and before and after each other one equally often (all six orders of three
// targets in six rounds). Plain alternation kept the middle one of three in the middle: it
// never ran first, right after the pause between scenarios, nor last.
func roundOrder[T any](targets []T, r int) []T {
	k := (r / 2) % len(targets)
	order := slices.Concat(targets[k:], targets[:k])
	if r%2 == 1 {
		slices.Reverse(order)
	}
	return order
}

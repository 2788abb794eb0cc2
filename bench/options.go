package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// config is everything the command line sets.
type config struct {
	Scenarios           []string      `json:"scenarios"`
	Only                []string      `json:"targets"`
	Rounds              int           `json:"rounds"`
	BigSize             int64         `json:"big_size"`
	RSSSize             int64         `json:"rss_size"`
	PatternSize         int64         `json:"pattern_size"`
	SmallCount          int           `json:"small_count"`
	SmallSize           int64         `json:"small_size"`
	SmallConcurrency    int           `json:"small_concurrency"`
	ManifestConcurrency int           `json:"manifest_concurrency"`
	Warmup              time.Duration `json:"warmup_ns"`
	Duration            time.Duration `json:"duration_ns"`
	Account             string        `json:"account"`
	Repo                string        `json:"repo"`

	CofferBin        string   `json:"coffer_bin"`
	CofferArgs       []string `json:"coffer_args,omitempty"`
	CofferUser       string   `json:"-"`
	CofferPassword   string   `json:"-"`
	DistributionBin  string   `json:"distribution_bin"`
	DistributionArgs []string `json:"distribution_args,omitempty"`

	JSON    string `json:"-"`
	WorkDir string `json:"-"`
	Keep    bool   `json:"-"`
	PerfDir string `json:"perf_dir,omitempty"`
	List    bool   `json:"-"`
}

// size is a byte count flag that accepts 1073741824, 1GiB, 64KiB, 512MiB, 1GB, 10MB.
type size struct{ p *int64 }

func (s size) String() string {
	if s.p == nil {
		return ""
	}
	return formatSize(*s.p)
}

func (s size) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s.p = n
	return nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1},
}

// parseSize reads a byte count with an optional unit suffix.
func parseSize(v string) (int64, error) {
	num, mult := strings.TrimSpace(v), int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive count of bytes such as 1GiB or 65536", v)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q is too large", v)
	}
	return n * mult, nil
}

// formatSize renders n with the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range sizeUnits[:3] {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// list is a comma-separated flag.
type list struct{ p *[]string }

func (l list) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l list) Set(v string) error {
	*l.p = nil
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l.p = append(*l.p, s)
		}
	}
	return nil
}

// repeated is a flag that may be given many times, each adding one value.
type repeated struct{ p *[]string }

func (r repeated) String() string {
	if r.p == nil {
		return ""
	}
	return strings.Join(*r.p, " ")
}

func (r repeated) Set(v string) error { *r.p = append(*r.p, v); return nil }

// parseFlags reads the command line into a config.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	all := scenarioNames()
	c := config{
		Scenarios:           all,
		Only:                []string{"coffer", "coffer-auth", "distribution"},
		Rounds:              5,
		BigSize:             1 << 30,
		RSSSize:             2 << 30,
		PatternSize:         64 << 20,
		SmallCount:          1000,
		SmallSize:           64 << 10,
		SmallConcurrency:    16,
		ManifestConcurrency: 32,
		Warmup:              time.Second,
		Duration:            5 * time.Second,
		Account:             "111122223333",
		Repo:                "bench/app",
		DistributionBin:     ".tools/bin/registry",
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: go run ./bench [flags]

Starts Coffer (without and with authorization) and CNCF Distribution side by side on
loopback, each with a fresh data directory, runs the scenarios on all, changing their order every
round (each takes every position in turn; all six orders of three in six rounds), and reports the medians and the median ratios against the
project's targets.

Scenarios (--scenarios, default all):
`)
		for _, s := range scenarios() {
			fmt.Fprintf(stderr, "  %-14s %s\n", s.Name, s.About)
		}
		fmt.Fprintf(stderr, "\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.Var(list{&c.Scenarios}, "scenarios", "comma-separated scenarios to run")
	fs.Var(list{&c.Only}, "only", "comma-separated registries to run: coffer (--insecure-no-auth), coffer-auth (tokens from ECR GetAuthorizationToken, an IAM user's policy evaluated on every request), distribution")
	fs.IntVar(&c.Rounds, "rounds", c.Rounds, "rounds; each measures every scenario on every registry once")
	fs.Var(size{&c.BigSize}, "big-size", "size of the big blob (big-push, big-pull)")
	fs.Var(size{&c.RSSSize}, "rss-size", "size of the blob uploaded while peak memory is watched (rss-upload)")
	fs.Var(size{&c.PatternSize}, "pattern-size", "random block that big blobs repeat")
	fs.IntVar(&c.SmallCount, "small-count", c.SmallCount, "number of small blobs")
	fs.Var(size{&c.SmallSize}, "small-size", "size of each small blob")
	fs.IntVar(&c.SmallConcurrency, "small-concurrency", c.SmallConcurrency, "concurrent clients for small blobs")
	fs.IntVar(&c.ManifestConcurrency, "manifest-concurrency", c.ManifestConcurrency, "concurrent clients for manifest requests")
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "unmeasured load before each manifest measurement")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "measured load per manifest scenario")
	fs.StringVar(&c.Account, "account", c.Account, "12-digit account id that starts Coffer repository names")
	fs.StringVar(&c.Repo, "repo", c.Repo, "repository name (Coffer: ACCOUNT/REPO)")
	fs.StringVar(&c.CofferBin, "coffer", "", "coffer program; default: go build ./cmd/coffer into a temporary directory")
	fs.Var(repeated{&c.CofferArgs}, "coffer-arg", "extra `argument` for 'coffer serve' (repeatable)")
	fs.StringVar(&c.CofferUser, "coffer-user", "", "user name, when Coffer asks for credentials")
	fs.StringVar(&c.CofferPassword, "coffer-password", "", "password, when Coffer asks for credentials")
	fs.StringVar(&c.DistributionBin, "distribution", c.DistributionBin, "Distribution registry program (scripts/install-bench-tools.sh installs it)")
	fs.Var(repeated{&c.DistributionArgs}, "distribution-arg", "extra `argument` for 'registry serve' (repeatable)")
	fs.StringVar(&c.JSON, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&c.WorkDir, "workdir", "", "where data directories go (default: a new temporary directory)")
	fs.BoolVar(&c.Keep, "keep", false, "keep data directories and server logs")
	fs.StringVar(&c.PerfDir, "perf", "", "record a CPU profile of Coffer with 'perf record' during each scenario into this `directory` (slows Coffer: figures from such a run are not comparable)")
	fs.BoolVar(&c.List, "list", false, "list the scenarios and exit")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, c.validate()
}

func scenarioNames() []string {
	var names []string
	for _, s := range scenarios() {
		names = append(names, s.Name)
	}
	return names
}

func (c *config) validate() error {
	known := scenarioNames()
	if len(c.Scenarios) == 0 {
		return fmt.Errorf("--scenarios: none given; choose from %s", strings.Join(known, ", "))
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(known, s) {
			return fmt.Errorf("--scenarios: unknown %q; choose from %s", s, strings.Join(known, ", "))
		}
	}
	if len(c.Only) == 0 {
		return fmt.Errorf("--only: no registry given")
	}
	for _, t := range c.Only {
		if t != "coffer" && t != "coffer-auth" && t != "distribution" {
			return fmt.Errorf("--only: unknown registry %q; choose coffer, coffer-auth, distribution", t)
		}
	}
	if c.Rounds < 1 {
		return fmt.Errorf("--rounds %d: want at least 1", c.Rounds)
	}
	if c.SmallCount < 1 || c.SmallConcurrency < 1 || c.ManifestConcurrency < 1 {
		return fmt.Errorf("--small-count, --small-concurrency and --manifest-concurrency must be positive")
	}
	if c.SmallSize > 64<<20 || int64(c.SmallCount)*c.SmallSize > 4<<30 {
		return fmt.Errorf("small blobs are held in memory: --small-count × --small-size must stay under 4GiB")
	}
	if c.PatternSize > 1<<30 {
		return fmt.Errorf("--pattern-size %s: at most 1GiB", formatSize(c.PatternSize))
	}
	if c.Duration <= 0 || c.Warmup < 0 {
		return fmt.Errorf("--duration must be positive and --warmup not negative")
	}
	if len(c.Account) != 12 || strings.Trim(c.Account, "0123456789") != "" {
		return fmt.Errorf("--account %q: want 12 digits", c.Account)
	}
	if (c.CofferUser == "") != (c.CofferPassword == "") {
		return fmt.Errorf("--coffer-user and --coffer-password go together")
	}
	return nil
}

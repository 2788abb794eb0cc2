package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"1":      1,
		"65536":  65536,
		"64KiB":  64 << 10,
		"512MiB": 512 << 20,
		"1GiB":   1 << 30,
		"2 GiB":  2 << 30,
		"10MB":   10e6,
		"3kB":    3000,
		"100B":   100,
	}
	for in, want := range good {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "1.5GiB", "GiB", "1TiB", "99999999999GiB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
	for _, n := range []int64{1, 1000, 64 << 10, 1 << 30, 3 << 20} {
		back, err := parseSize(formatSize(n))
		if err != nil || back != n {
			t.Errorf("formatSize(%d) = %q does not parse back", n, formatSize(n))
		}
	}
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rounds != 5 || c.BigSize != 1<<30 || c.RSSSize != 2<<30 || c.SmallCount != 1000 ||
		c.SmallSize != 64<<10 || c.SmallConcurrency != 16 || c.ManifestConcurrency != 32 ||
		len(c.Scenarios) != len(scenarios()) || strings.Join(c.Only, ",") != "coffer,coffer-auth,distribution" {
		t.Errorf("defaults differ from the issue's: %+v", c)
	}

	c, err = parseFlags([]string{"--scenarios", "big-push, manifest-get", "--only", "distribution",
		"--rounds", "3", "--big-size", "256MiB", "--duration", "2s", "--coffer-arg", "--a", "--coffer-arg", "b"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Scenarios, ",") != "big-push,manifest-get" || strings.Join(c.Only, ",") != "distribution" ||
		c.Rounds != 3 || c.BigSize != 256<<20 || c.Duration != 2*time.Second || strings.Join(c.CofferArgs, " ") != "--a b" {
		t.Errorf("flags not applied: %+v", c)
	}

	bad := map[string][]string{
		"unknown scenario":  {"--scenarios", "big-push,nope"},
		"unknown registry":  {"--only", "zot"},
		"zero rounds":       {"--rounds", "0"},
		"short account":     {"--account", "1234"},
		"user, no password": {"--coffer-user", "AWS"},
		"bad size":          {"--big-size", "lots"},
		"stray argument":    {"extra"},
	}
	for name, args := range bad {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%s: %q accepted", name, args)
		}
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// threeValues gives, for every option, a distinct valid value for each layer: config file,
// environment, flag. The file value is YAML; env and flag values are command-line text.
var threeValues = map[string]struct {
	file, env, flag string
	want            func(o Options) any
	fileWant        any
	envWant         any
	flagWant        any
}{
	"listen": {"127.0.0.2:1", "127.0.0.3:2", "127.0.0.4:3", func(o Options) any { return o.Listen },
		"127.0.0.2:1", "127.0.0.3:2", "127.0.0.4:3"},
	"data": {"/f", "/e", "/g", func(o Options) any { return o.Data }, "/f", "/e", "/g"},
	"region": {"eu-west-1", "ap-south-2", "us-gov-west-1", func(o Options) any { return o.Region },
		"eu-west-1", "ap-south-2", "us-gov-west-1"},
	"tls-cert": {"f.pem", "e.pem", "g.pem", func(o Options) any { return o.TLSCert }, "f.pem", "e.pem", "g.pem"},
	"tls-key":  {"f.key", "e.key", "g.key", func(o Options) any { return o.TLSKey }, "f.key", "e.key", "g.key"},
	"create-on-push": {"false", "true", "false", func(o Options) any { return o.CreateOnPush },
		false, true, false},
	"ecr-host-names": {"true", "false", "true", func(o Options) any { return o.ECRHostNames },
		true, false, true},
	"insecure-no-auth": {"true", "false", "true", func(o Options) any { return o.InsecureNoAuth },
		true, false, true},
	"gc-interval": {"1m", "2h", "3s", func(o Options) any { return o.GCInterval },
		time.Minute, 2 * time.Hour, 3 * time.Second},
	"gc-grace": {"7m", "8h", "0s", func(o Options) any { return o.GCGrace },
		7 * time.Minute, 8 * time.Hour, time.Duration(0)},
	"durability": {"fsync", "process", "fsync", func(o Options) any { return o.Durability }, "fsync", "process", "fsync"},
	"shutdown-timeout": {"4s", "5s", "6s", func(o Options) any { return o.ShutdownTimeout },
		4 * time.Second, 5 * time.Second, 6 * time.Second},
	"log-level":  {"debug", "warn", "error", func(o Options) any { return o.LogLevel }, "debug", "warn", "error"},
	"log-format": {"json", "text", "json", func(o Options) any { return o.LogFormat }, "json", "text", "json"},
	"audit-retention": {"24h", "48h", "0s", func(o Options) any { return o.AuditRetention },
		24 * time.Hour, 48 * time.Hour, time.Duration(0)},
	"trusted-proxies": {"[10.0.0.0/8, 10.1.2.3]", "192.168.0.0/16", "172.16.0.0/12,127.0.0.1",
		func(o Options) any { return []string(o.TrustedProxies) },
		[]string{"10.0.0.0/8", "10.1.2.3"}, []string{"192.168.0.0/16"}, []string{"172.16.0.0/12", "127.0.0.1"}},
}

// resolveWith parses args for cmd and resolves its options with env as the environment.
func resolveWith(t *testing.T, cmd *cobra.Command, o *Options, args []string, env map[string]string) error {
	t.Helper()
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("ParseFlags(%q): %v", args, err)
	}
	return resolveOptions(cmd, o, func(k string) string { return env[k] })
}

// newOptionCommand builds a command carrying every option, like serve does.
func newOptionCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{Use: "t"}
	var names []string
	for name := range threeValues {
		names = append(names, name)
	}
	optionFlags(cmd, o, names...)
	return cmd
}

func TestEveryOptionHasFlagEnvAndConfigKey(t *testing.T) {
	var o Options
	cmd := newOptionCommand(&o)
	keys := map[string]bool{}
	typ := reflect.TypeOf(Options{})
	for i := range typ.NumField() {
		keys[typ.Field(i).Tag.Get("yaml")] = true
	}
	if len(keys) != len(threeValues) {
		t.Errorf("Options has %d yaml keys, the test table %d: keep them in step", len(keys), len(threeValues))
	}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == configFlag {
			return
		}
		if !keys[f.Name] {
			t.Errorf("flag --%s has no yaml key %q in Options", f.Name, f.Name)
		}
		if !strings.Contains(f.Usage, envName(f.Name)) {
			t.Errorf("flag --%s: help %q does not name %s", f.Name, f.Usage, envName(f.Name))
		}
	})
	for key := range keys {
		if cmd.Flags().Lookup(key) == nil {
			t.Errorf("yaml key %q has no flag", key)
		}
	}
}

// TestPrecedence checks the one rule for every option: flag > environment > file > default.
func TestPrecedence(t *testing.T) {
	for name, v := range threeValues {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "coffer.yaml")
			if err := os.WriteFile(cfg, []byte(name+": "+v.file+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{envName(name): v.env}
			pairTLS := func(env map[string]string) {
				// tls-cert and tls-key must come together; give the partner a value.
				if name == "tls-cert" {
					env["COFFER_TLS_KEY"] = "k"
				}
				if name == "tls-key" {
					env["COFFER_TLS_CERT"] = "c"
				}
			}
			pairTLS(env)

			check := func(label string, args []string, env map[string]string, want any) {
				t.Helper()
				var o Options
				cmd := newOptionCommand(&o)
				if err := resolveWith(t, cmd, &o, args, env); err != nil {
					t.Fatalf("%s: %v", label, err)
				}
				if got := v.want(o); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %s = %v, want %v", label, name, got, want)
				}
			}
			noEnv := map[string]string{}
			pairTLS(noEnv)
			def := v.want(defaultOptions())
			if name != "tls-cert" && name != "tls-key" {
				check("default", nil, noEnv, def)
			}
			check("file only", []string{"--config", cfg}, noEnv, v.fileWant)
			check("file via COFFER_CONFIG", nil, map[string]string{"COFFER_CONFIG": cfg, "COFFER_TLS_KEY": noEnv["COFFER_TLS_KEY"], "COFFER_TLS_CERT": noEnv["COFFER_TLS_CERT"]}, v.fileWant)
			check("env over file", []string{"--config", cfg}, env, v.envWant)
			check("flag over env and file", []string{"--config", cfg, "--" + name + "=" + v.flag}, env, v.flagWant)
		})
	}
}

func TestFlagEqualToDefaultStillWins(t *testing.T) {
	// A flag given explicitly wins even when its value is the default.
	var o Options
	cmd := newOptionCommand(&o)
	err := resolveWith(t, cmd, &o, []string{"--region", "us-east-1"}, map[string]string{"COFFER_REGION": "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Region != "us-east-1" {
		t.Errorf("region = %q, want the flag's us-east-1", o.Region)
	}
}

func TestEmptyEnvIsUnset(t *testing.T) {
	var o Options
	cmd := newOptionCommand(&o)
	if err := resolveWith(t, cmd, &o, nil, map[string]string{"COFFER_REGION": ""}); err != nil {
		t.Fatal(err)
	}
	if o.Region != "us-east-1" {
		t.Errorf("region = %q, want default us-east-1", o.Region)
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ yaml, want string }{
		"unknown key":    {"listen: 127.0.0.1:1\nlistn: x\n", "field listn not found"},
		"wrong type":     {"create-on-push: maybe\n", "line 1: cannot unmarshal"},
		"bad duration":   {"gc-interval: soon\n", "line 1: cannot unmarshal"},
		"bad region":     {"region: Mars\n", "region"},
		"bad log level":  {"log-level: loud\n", "log-level"},
		"half TLS":       {"tls-cert: c.pem\n", "--tls-cert and --tls-key"},
		"negative gc":    {"gc-interval: -1s\n", "gc-interval"},
		"not a mapping":  {"- a\n- b\n", "cannot unmarshal"},
		"missing file":   {"", "no such file"},
		"bad log format": {"log-format: xml\n", "log-format"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
			if c.yaml != "" {
				if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var o Options
			cmd := newOptionCommand(&o)
			err := resolveWith(t, cmd, &o, []string{"--config", path}, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestEmptyConfigFileKeepsDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var o Options
	cmd := newOptionCommand(&o)
	if err := resolveWith(t, cmd, &o, []string{"--config", path}, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o, defaultOptions()) {
		t.Errorf("options = %+v, want defaults %+v", o, defaultOptions())
	}
}

func TestBadEnvValueNamesTheVariable(t *testing.T) {
	var o Options
	cmd := newOptionCommand(&o)
	err := resolveWith(t, cmd, &o, nil, map[string]string{"COFFER_GC_INTERVAL": "often"})
	if err == nil || !strings.Contains(err.Error(), "COFFER_GC_INTERVAL") {
		t.Errorf("err = %v, want it to name COFFER_GC_INTERVAL", err)
	}
}

func TestHelpExplainsEveryOption(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"gc", "--help"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb, func(string) string { return "" }); code != 0 {
			t.Fatalf("%q: exit %d, stderr %s", args, code, errb.String())
		}
		help := out.String()
		if args[0] == "--help" {
			for _, s := range []string{"serve", "gc", "version", "COFFER_", "flag wins over the environment"} {
				if !strings.Contains(help, s) {
					t.Errorf("coffer --help lacks %q:\n%s", s, help)
				}
			}
			continue
		}
		cmd, _, err := newRootCommand(&out, &errb, os.Getenv).Find(args[:1])
		if err != nil {
			t.Fatal(err)
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !strings.Contains(help, "--"+f.Name) {
				t.Errorf("coffer %s --help lacks --%s", args[0], f.Name)
			}
			if f.Name != "help" && f.Name != "dry-run" && !strings.Contains(help, envName(f.Name)) {
				t.Errorf("coffer %s --help lacks %s", args[0], envName(f.Name))
			}
		})
	}
}

func TestServeWithoutAuthRefusesNonLoopback(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:5000", ":5000", "[::]:5000", "192.0.2.7:5000"} {
		var out, errb bytes.Buffer
		code := run([]string{"serve", "--insecure-no-auth", "--listen", listen, "--data", t.TempDir()}, &out, &errb, func(string) string { return "" })
		if code == 0 || !strings.Contains(errb.String(), "refusing to listen on") || !strings.Contains(errb.String(), "loopback") {
			t.Errorf("serve --listen %s: exit %d, stderr %q; want a refusal that explains loopback", listen, code, errb.String())
		}
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb, func(string) string { return "" }); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "coffer dev go1.") {
		t.Errorf("version output %q", out.String())
	}
}

func TestServeRefusesBadTrustedProxies(t *testing.T) {
	for _, v := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0.1,nope"} {
		var out, errb bytes.Buffer
		code := run([]string{"serve", "--trusted-proxies", v, "--data", t.TempDir()}, &out, &errb, func(string) string { return "" })
		if code == 0 || !strings.Contains(errb.String(), "--trusted-proxies") || !strings.Contains(errb.String(), "neither an IP address nor a CIDR") {
			t.Errorf("serve --trusted-proxies %s: exit %d, stderr %q", v, code, errb.String())
		}
	}
}

func TestTrustedProxiesInTheConfigFileAsOneString(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.yaml")
	if err := os.WriteFile(path, []byte("trusted-proxies: 10.0.0.0/8, 192.0.2.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var o Options
	if err := resolveWith(t, newOptionCommand(&o), &o, []string{"--config", path}, nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.0/8", "192.0.2.1"}; !reflect.DeepEqual([]string(o.TrustedProxies), want) {
		t.Errorf("trusted-proxies = %q, want %q", o.TrustedProxies, want)
	}
}

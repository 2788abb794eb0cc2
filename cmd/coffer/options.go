package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Options holds every setting of every subcommand. Each field has exactly one name, used
// three ways: the flag --NAME, the environment variable COFFER_NAME (upper case, '-' → '_')
// and the key NAME in the YAML file given by --config.
//
// Precedence, highest first: a flag given on the command line, then the environment
// variable, then the config file, then the built-in default.
type Options struct {
	Listen          string        `yaml:"listen"`
	Data            string        `yaml:"data"`
	Region          string        `yaml:"region"`
	TLSCert         string        `yaml:"tls-cert"`
	TLSKey          string        `yaml:"tls-key"`
	CreateOnPush    bool          `yaml:"create-on-push"`
	ECRHostNames    bool          `yaml:"ecr-host-names"`
	TrustedProxies  stringList    `yaml:"trusted-proxies"`
	InsecureNoAuth  bool          `yaml:"insecure-no-auth"`
	AuditRetention  time.Duration `yaml:"audit-retention"`
	GCInterval      time.Duration `yaml:"gc-interval"`
	GCGrace         time.Duration `yaml:"gc-grace"`
	Durability      string        `yaml:"durability"`
	ShutdownTimeout time.Duration `yaml:"shutdown-timeout"`
	LogLevel        string        `yaml:"log-level"`
	LogFormat       string        `yaml:"log-format"`
}

// defaultOptions returns the built-in defaults.
func defaultOptions() Options {
	return Options{
		Listen:          "127.0.0.1:5000",
		Data:            "./coffer-data",
		Region:          "us-east-1",
		GCInterval:      10 * time.Minute,
		GCGrace:         24 * time.Hour,
		Durability:      "process",
		ShutdownTimeout: 30 * time.Second,
		LogLevel:        "info",
		LogFormat:       "text",
	}
}

// stringList is a list option: a comma-separated flag or environment value, a YAML
// sequence in the config file. Setting it replaces the whole list (so that a flag given
// again over the environment or the file does not add to what they said).
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Type() string   { return "list" }
func (l *stringList) Set(s string) error {
	*l = nil
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// UnmarshalYAML takes a sequence or, like the flag, one comma-separated string.
func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return l.Set(n.Value)
	}
	var items []string
	if err := n.Decode(&items); err != nil {
		return err
	}
	*l = items
	return nil
}

// configFlag names the flag (and COFFER_CONFIG) that points at the YAML file.
const configFlag = "config"

// envPrefix starts every environment variable Coffer reads.
const envPrefix = "COFFER_"

// envName returns the environment variable for a flag name: tls-cert → COFFER_TLS_CERT.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// optionFlags registers the named options as flags of cmd, bound to o. Every flag's help text
// ends with its environment variable, so --help documents all three spellings.
func optionFlags(cmd *cobra.Command, o *Options, names ...string) {
	fs := cmd.Flags()
	d := defaultOptions()
	for _, name := range names {
		switch name {
		case "listen":
			fs.StringVar(&o.Listen, name, d.Listen, "address to listen on, host:port (0.0.0.0:5000 for every interface; use TLS then)")
		case "data":
			fs.StringVar(&o.Data, name, d.Data, "data directory: blobs/ (image content), meta.db (SQLite metadata); created when missing")
		case "region":
			fs.StringVar(&o.Region, name, d.Region, "AWS region this registry presents; part of every ARN")
		case "tls-cert":
			fs.StringVar(&o.TLSCert, name, d.TLSCert, "PEM certificate (chain) file; serve HTTPS when given together with --tls-key")
		case "tls-key":
			fs.StringVar(&o.TLSKey, name, d.TLSKey, "PEM private key file for --tls-cert")
		case "create-on-push":
			fs.BoolVar(&o.CreateOnPush, name, d.CreateOnPush, "create a repository when an image is first pushed to it; off: only ECR CreateRepository creates them")
		case "ecr-host-names":
			fs.BoolVar(&o.ECRHostNames, name, d.ECRHostNames, "name registries as ECR does in ECR API answers (repositoryUri ACCOUNT.dkr.ecr.REGION.amazonaws.com[:PORT]/NAME, proxyEndpoint https://ACCOUNT.dkr.ecr.REGION.amazonaws.com) for docker-credential-ecr-login; those names must resolve to this server")
		case "trusted-proxies":
			o.TrustedProxies = d.TrustedProxies
			fs.Var(&o.TrustedProxies, name, "reverse proxies or load balancers in front of Coffer, as addresses or CIDR networks (comma-separated or repeated): their X-Forwarded-For and X-Forwarded-Proto headers give aws:SourceIp and aws:SecureTransport; from anyone else those headers are ignored")
		case "insecure-no-auth":
			fs.BoolVar(&o.InsecureNoAuth, name, d.InsecureNoAuth, "serve the registry without authentication or authorization (anyone may read and write every repository); loopback addresses only; for local experiments")
		case "audit-retention":
			fs.DurationVar(&o.AuditRetention, name, d.AuditRetention, "delete audit trail files (DATA/audit, one or more per UTC day) of days that ended longer ago than this, e.g. 2160h for 90 days; 0 keeps the trail forever")
		case "gc-interval":
			fs.DurationVar(&o.GCInterval, name, d.GCInterval, "pause between background garbage-collection passes; 0 turns the background collector off")
		case "gc-grace":
			fs.DurationVar(&o.GCGrace, name, d.GCGrace, "how long an untagged manifest or unreferenced blob is kept before garbage collection may delete it; 0: no wait")
		case "durability":
			fs.StringVar(&o.Durability, name, d.Durability, "what an acknowledged push survives: process (a killed process or crash; the last metadata writes may be lost on power loss) or fsync (power loss too: an fsync per metadata commit, slower small pushes); blob files are fsynced either way")
		case "shutdown-timeout":
			fs.DurationVar(&o.ShutdownTimeout, name, d.ShutdownTimeout, "on SIGTERM/SIGINT, how long requests in flight may take to finish")
		case "log-level":
			fs.StringVar(&o.LogLevel, name, d.LogLevel, "log level: debug, info, warn or error")
		case "log-format":
			fs.StringVar(&o.LogFormat, name, d.LogFormat, "log format: text or json")
		default:
			panic("optionFlags: unknown option " + name)
		}
		f := fs.Lookup(name)
		f.Usage += " (env " + envName(name) + ")"
	}
	fs.String(configFlag, "", "YAML file with settings, keys named like the flags (env "+envName(configFlag)+")")
}

// resolveOptions fills o for cmd after its flags were parsed, applying the precedence rule:
// flag > environment > config file > default. getenv is os.Getenv outside tests.
func resolveOptions(cmd *cobra.Command, o *Options, getenv func(string) string) error {
	fs := cmd.Flags()

	// Remember what the command line said, then rebuild o from the bottom layer up.
	given := map[string]string{}
	fs.Visit(func(f *pflag.Flag) { given[f.Name] = f.Value.String() })

	*o = defaultOptions()

	path := given[configFlag]
	if path == "" {
		path = getenv(envName(configFlag))
	}
	if path != "" {
		if err := loadConfigFile(path, o); err != nil {
			return err
		}
	}

	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Name == configFlag || f.Name == "help" {
			return
		}
		if v, ok := lookupEnv(getenv, envName(f.Name)); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("environment variable %s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	if err != nil {
		return err
	}
	for name, v := range given {
		if name == configFlag {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if e := f.Value.Set(v); e != nil {
				return fmt.Errorf("flag --%s: %w", name, e)
			}
		}
	}
	return o.validate()
}

// lookupEnv reports a variable as set when it is non-empty: an empty COFFER_X means "unset",
// so that `COFFER_X= coffer ...` can clear an exported value.
func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// loadConfigFile decodes the YAML file at path over o. Unknown keys are an error, so a typo
// never silently falls back to a default.
func loadConfigFile(path string, o *Options) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(o); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// regionPattern matches AWS region names: us-east-1, eu-central-2, us-gov-west-1, cn-north-1.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// validate checks values no flag type checks by itself.
func (o *Options) validate() error {
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key must be given together")
	}
	if !regionPattern.MatchString(o.Region) {
		return fmt.Errorf("--region %q: want an AWS region name such as us-east-1", o.Region)
	}
	if o.Data == "" {
		return errors.New("--data must not be empty")
	}
	if o.AuditRetention < 0 {
		return errors.New("--audit-retention must not be negative")
	}
	if o.GCInterval < 0 {
		return errors.New("--gc-interval must not be negative")
	}
	if o.GCGrace < 0 {
		return errors.New("--gc-grace must not be negative")
	}
	if o.Durability != "process" && o.Durability != "fsync" {
		return fmt.Errorf("--durability %q: want process or fsync", o.Durability)
	}
	switch strings.ToLower(o.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", o.LogLevel)
	}
	switch o.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format %q: want text or json", o.LogFormat)
	}
	return nil
}

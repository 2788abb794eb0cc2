package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// awsEnv is what a fresh coffer printed on stdout for its users: the export lines.
type awsEnv struct {
	CredentialsFile string // AWS_SHARED_CREDENTIALS_FILE
	EndpointURL     string // AWS_ENDPOINT_URL
	Region          string // AWS_REGION
	DefaultRegion   string // AWS_DEFAULT_REGION, the one botocore (aws CLI v1, boto3) reads
}

// printedEnv waits for the export lines of a started coffer and parses them.
func printedEnv(t *testing.T, c *coffer) awsEnv {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := parseExports(c.Stdout.String())
		if m["AWS_DEFAULT_REGION"] != "" || time.Now().After(deadline) {
			return awsEnv{CredentialsFile: m["AWS_SHARED_CREDENTIALS_FILE"], EndpointURL: m["AWS_ENDPOINT_URL"],
				Region: m["AWS_REGION"], DefaultRegion: m["AWS_DEFAULT_REGION"]}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// parseExports reads `export NAME=value` lines (value possibly in single quotes).
func parseExports(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(rest, "=")
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = strings.ReplaceAll(v[1:len(v)-1], `'\''`, `'`)
		}
		m[k] = v
	}
	return m
}

// awsCreds are credentials a test signs with instead of the credentials file's.
type awsCreds struct{ ID, Secret, Token string }

// awsCLI runs the aws CLI against one coffer, isolated from the machine's AWS settings: its
// environment holds only the exported lines (and the credentials of as, when set).
type awsCLI struct {
	t            *testing.T
	bin          string
	base         []string // the environment without any AWS_ variable
	env          awsEnv
	creds        *awsCreds
	endpointFlag bool // pass --endpoint-url as well as AWS_ENDPOINT_URL
}

func newAWSCLI(t *testing.T, c *coffer) *awsCLI {
	t.Helper()
	bin := tool(t, "aws")
	home := t.TempDir()
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
			base = append(base, kv)
		}
	}
	base = append(base, "HOME="+home, "AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard")
	env := printedEnv(t, c)
	if env.CredentialsFile == "" || env.EndpointURL == "" || env.Region == "" || env.DefaultRegion != env.Region {
		t.Fatalf("coffer printed no complete AWS environment:\n%s", c.Stdout.String())
	}
	return &awsCLI{t: t, bin: bin, base: base, env: env, endpointFlag: true}
}

// as returns a CLI that signs with creds (the environment wins over the credentials file).
func (a *awsCLI) as(creds awsCreds) *awsCLI {
	b := *a
	b.creds = &creds
	return &b
}

func (a *awsCLI) environ() []string {
	env := append([]string{}, a.base...)
	env = append(env, "AWS_SHARED_CREDENTIALS_FILE="+a.env.CredentialsFile,
		"AWS_ENDPOINT_URL="+a.env.EndpointURL, "AWS_REGION="+a.env.Region, "AWS_DEFAULT_REGION="+a.env.DefaultRegion)
	if a.creds != nil {
		env = append(env, "AWS_ACCESS_KEY_ID="+a.creds.ID, "AWS_SECRET_ACCESS_KEY="+a.creds.Secret)
		if a.creds.Token != "" {
			env = append(env, "AWS_SESSION_TOKEN="+a.creds.Token)
		}
	}
	return env
}

// command is the aws CLI with args in the test's environment.
func (a *awsCLI) command(args ...string) *exec.Cmd {
	cmd := exec.Command(a.bin, args...)
	cmd.Env = a.environ()
	return cmd
}

// try runs `aws args... --output json` and returns the decoded output, or stderr and the error.
func (a *awsCLI) try(args ...string) (map[string]any, string, error) {
	a.t.Helper()
	full := append([]string{}, args...)
	if a.endpointFlag {
		full = append(full, "--endpoint-url", a.env.EndpointURL)
	}
	full = append(full, "--output", "json")
	cmd := a.command(full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, errb.String(), err
	}
	var v map[string]any
	if strings.TrimSpace(out.String()) != "" {
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			return nil, "aws printed no JSON: " + out.String(), err
		}
	}
	return v, errb.String(), nil
}

// run is try that fails the test on an error.
func (a *awsCLI) run(args ...string) map[string]any {
	a.t.Helper()
	v, stderr, err := a.try(args...)
	if err != nil {
		a.t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return v
}

// fail runs a command that must fail with AWS error code, and returns its stderr.
func (a *awsCLI) fail(code string, args ...string) string {
	a.t.Helper()
	_, stderr, err := a.try(args...)
	if err == nil || !strings.Contains(stderr, "("+code+")") {
		a.t.Fatalf("aws %s: got %v %s, want error %s", strings.Join(args, " "), err, stderr, code)
	}
	return stderr
}

// str digs a string out of decoded JSON.
func str(v any, path ...any) string {
	s, _ := dig(v, path...).(string)
	return s
}

// dig walks decoded JSON by member names and list indexes.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k < 0 || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// writeFileArg writes a file in dir and returns its file:// argument for the CLI.
func writeFileArg(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + p
}

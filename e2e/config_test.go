package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSettingsPrecedence starts the real binary with the region given in a config file, in
// COFFER_REGION and as a flag, and reads the region it announces (the AWS_REGION line it
// prints on stdout): a flag beats the environment, which beats the config file.
func TestSettingsPrecedence(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(t.TempDir(), "coffer.yaml")
	yaml := "listen: 127.0.0.1:0\ndata: " + dir + "\nlog-format: json\nregion: eu-west-1\n"
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"config file", nil, nil, "eu-west-1"},
		{"environment over config file", []string{"COFFER_REGION=ap-south-1"}, nil, "ap-south-1"},
		{"flag over environment", []string{"COFFER_REGION=ap-south-1"}, []string{"--region", "us-west-2"}, "us-west-2"},
		{"config file named by COFFER_CONFIG", []string{"COFFER_CONFIG=" + config}, nil, "eu-west-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"serve"}
			if !strings.Contains(strings.Join(c.env, " "), "COFFER_CONFIG=") {
				args = append(args, "--config", config)
			}
			if got := announcedRegion(t, append(cofferEnv(), c.env...), append(args, c.args...)...); got != c.want {
				t.Errorf("region = %q, want %q", got, c.want)
			}
		})
	}
}

// announcedRegion runs coffer with env and args until it serves, stops it with SIGTERM and
// returns the region of its `export AWS_REGION=` line.
func announcedRegion(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(cofferBin, args...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan bool, 1)
	var log syncBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		found := false
		for sc.Scan() {
			log.Write(append(sc.Bytes(), '\n'))
			var rec struct{ Msg string }
			if !found && json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "coffer serving" {
				found = true
				serving <- true
			}
		}
		if !found {
			serving <- false
		}
	}()
	region := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		r := ""
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "export AWS_REGION="); ok {
				r = v
			}
		}
		region <- r
	}()
	select {
	case ok := <-serving:
		if !ok {
			cmd.Wait()
			t.Fatalf("coffer %s exited without serving:\n%s", strings.Join(args, " "), log.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("coffer did not serve within 60s:\n%s", log.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	r := <-region
	if err := cmd.Wait(); err != nil {
		t.Errorf("coffer exited with %v after SIGTERM:\n%s", err, log.String())
	}
	return r
}

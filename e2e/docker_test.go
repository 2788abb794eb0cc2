package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dockerDaemon returns the docker CLI when a daemon answers, or skips the test saying why.
func dockerDaemon(t *testing.T) string {
	t.Helper()
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker CLI not installed: skipping the docker push/pull/run test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, docker, "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no Docker daemon answers (docker info: %v: %s): skipping the docker push/pull/run test",
			err, strings.TrimSpace(string(out)))
	}
	return docker
}

// TestDocker builds an image FROM scratch holding a tiny static Go program, pushes it to Coffer,
// removes it locally, pulls it back and runs it.
func TestDocker(t *testing.T) {
	docker := dockerDaemon(t)
	srv := startCoffer(t, "")

	dir := t.TempDir()
	const greeting = "hello from an image served by coffer"
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module hello\n\ngo 1.22\n")
	write("main.go", "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\""+greeting+"\") }\n")
	write("Dockerfile", "FROM scratch\nCOPY hello /hello\nENTRYPOINT [\"/hello\"]\n")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", "hello", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the hello program: %v\n%s", err, out)
	}

	ref := srv.Ref("e2e/hello", ":1")
	home := t.TempDir() // a private docker config: no credential helpers of the machine
	dockerRun := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(docker, args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		cmd := exec.Command(docker, "rmi", "-f", ref)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+home)
		cmd.Run()
	})

	dockerRun("build", "-t", ref, dir)
	dockerRun("push", ref)
	dockerRun("rmi", ref)
	if out, err := exec.Command(docker, "image", "inspect", ref).CombinedOutput(); err == nil {
		t.Fatalf("image still present locally after rmi: %s", out)
	}
	dockerRun("pull", ref)
	if got := dockerRun("run", "--rm", ref); strings.TrimSpace(got) != greeting {
		t.Errorf("docker run printed %q, want %q", got, greeting)
	}
}

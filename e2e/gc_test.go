package e2e

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// runCoffer runs a coffer subcommand (not serve) and returns its stdout.
func runCoffer(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(cofferBin, args...)
	cmd.Env = cofferEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("coffer %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	if strings.Contains(stderr.String(), "WARNING: DATA RACE") {
		t.Errorf("coffer %s: data race:\n%s", strings.Join(args, " "), stderr.String())
	}
	return string(out)
}

// TestGCDryRunReportsUntaggedImage pushes an image, moves its tag to a second image so the
// first is untagged and unreferenced, and checks that `coffer gc --dry-run` reports it (and
// only it) without deleting anything, and that `coffer gc` then deletes it, all while the
// server runs on the same data directory.
func TestGCDryRunReportsUntaggedImage(t *testing.T) {
	dir := t.TempDir()
	srv := startCoffer(t, dir, "--gc-grace", "0", "--gc-interval", "0")

	old, current := randomImage(t, 50, 1, 1000), randomImage(t, 51, 1, 1000)
	oldDigest, currentDigest := digestOf(t, old), digestOf(t, current)
	tag, err := name.NewTag(srv.Ref("e2e/gc", ":latest"), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, old); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, current); err != nil {
		t.Fatal(err)
	}

	for range 2 { // twice: a dry run deletes nothing, so the second one reports the same
		report := runCoffer(t, "gc", "--dry-run", "--data", dir, "--gc-grace", "0")
		if !strings.Contains(report, "would delete manifest") || !strings.Contains(report, oldDigest) {
			t.Fatalf("dry run does not report the untagged manifest %s:\n%s", oldDigest, report)
		}
		if strings.Contains(report, currentDigest) {
			t.Fatalf("dry run reports the tagged manifest %s:\n%s", currentDigest, report)
		}
	}
	manifestPath := "/v2/" + account + "/e2e/gc/manifests/"
	if resp, _, err := srv.get(manifestPath+oldDigest, "application/vnd.oci.image.manifest.v1+json"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after the dry runs the untagged manifest is gone: %v %v", statusOf(resp), err)
	}

	report := runCoffer(t, "gc", "--data", dir, "--gc-grace", "0")
	if !strings.Contains(report, "deleted manifest") || !strings.Contains(report, oldDigest) {
		t.Fatalf("gc does not report deleting %s:\n%s", oldDigest, report)
	}
	if resp, _, err := srv.get(manifestPath+oldDigest, "application/vnd.oci.image.manifest.v1+json"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("after gc the untagged manifest answers %v %v, want 404", statusOf(resp), err)
	}
	resp, body, err := srv.get(manifestPath+"latest", "application/vnd.oci.image.manifest.v1+json")
	if err != nil || resp.StatusCode != http.StatusOK || sha256Digest(body) != currentDigest {
		t.Errorf("after gc the tagged image answers %v %v", statusOf(resp), err)
	}
}

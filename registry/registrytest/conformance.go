// Package registrytest runs the OCI Distribution conformance suite against a registry on
// loopback, for the tests of the registry and of what wraps it (authentication, authorization).
package registrytest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ConformanceVersion is the OCI conformance suite the tests run with:
//
//	GOBIN=$PWD/.tools/bin go install github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111
const ConformanceVersion = "v0.0.0-20260831232431-97274622c111"

// Conformance says where the suite runs.
type Conformance struct {
	Registry           string // host:port, plain HTTP
	Repo1, Repo2       string // existing repositories, ACCOUNT/NAME
	Username, Password string // Basic credentials; empty for none
}

// RunConformance runs the suite with all four workflows (pull, push, content discovery,
// content management) and every data type but "sparse" (a manifest must not reference
// content the repository lacks), and fails t unless every line passed.
func RunConformance(t *testing.T, c Conformance) {
	t.Helper()
	if testing.Short() {
		t.Skip("conformance suite skipped in -short mode")
	}
	bin := conformanceBinary(t)
	results := t.TempDir()
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OCI_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"OCI_REGISTRY="+c.Registry,
		"OCI_TLS=disabled",
		"OCI_REPO1="+c.Repo1,
		"OCI_REPO2="+c.Repo2,
		"OCI_USERNAME="+c.Username,
		"OCI_PASSWORD="+c.Password,
		"OCI_VERSION=dev", // every optional API the spec defines
		"OCI_RESULTS_DIR="+results,
		"OCI_LOG=warn",
		"OCI_API_PING=true", "OCI_API_PULL=true", "OCI_API_PUSH=true", "OCI_API_REFERRER=true",
		"OCI_API_BLOBS_ATOMIC=true", "OCI_API_BLOBS_DELETE=true", "OCI_API_BLOBS_DIGEST_HEADER=true",
		"OCI_API_BLOBS_MOUNT_ANONYMOUS=true", "OCI_API_BLOBS_UPLOAD_CANCEL=true",
		"OCI_API_MANIFESTS_ATOMIC=true", "OCI_API_MANIFESTS_DELETE=true",
		"OCI_API_MANIFESTS_DIGEST_HEADER=true", "OCI_API_MANIFESTS_TAG_PARAM=true",
		"OCI_API_TAGS_ATOMIC=true", "OCI_API_TAGS_DELETE=true", "OCI_API_TAGS_LIST=true",
		"OCI_DATA_IMAGE=true", "OCI_DATA_INDEX=true", "OCI_DATA_INDEX_LIST=true", "OCI_DATA_SPARSE=false",
		"OCI_DATA_ARTIFACT=true", "OCI_DATA_SUBJECT=true", "OCI_DATA_SUBJECT_MISSING=true",
		"OCI_DATA_ARTIFACT_LIST=true", "OCI_DATA_SUBJECT_LIST=true", "OCI_DATA_DATA_FIELD=true",
		"OCI_DATA_NONDISTRIBUTABLE=true", "OCI_DATA_CUSTOM_FIELDS=true", "OCI_DATA_NO_LAYERS=true",
		"OCI_DATA_EMPTY_BLOB=true", "OCI_DATA_SHA512=true",
	)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = env
	cmd.Dir = results // no stray oci-conformance.yaml is picked up
	out, err := cmd.CombinedOutput()
	t.Logf("conformance suite output:\n%s", out)
	if err != nil {
		if report, rerr := os.ReadFile(filepath.Join(results, "results.yaml")); rerr == nil {
			t.Logf("results.yaml:\n%s", report)
		}
		t.Fatalf("conformance suite failed: %v", err)
	}
	// The suite must really have run the workflows: every API and data line passed (only
	// "sparse" is disabled), and nothing was skipped or failed.
	CheckConformanceSummary(t, string(out))
}

// CheckConformanceSummary fails t unless the suite's summary says every line passed.
func CheckConformanceSummary(t testing.TB, out string) {
	t.Helper()
	if !strings.Contains(out, "OCI Conformance Result: Pass") {
		t.Fatal("the suite did not report an overall Pass")
	}
	lines := 0
	for _, line := range strings.Split(out, "\n") {
		name, value, ok := strings.Cut(strings.TrimSpace(line), "..:")
		if !ok {
			continue
		}
		name, value = strings.TrimRight(name, "."), strings.TrimSpace(value)
		lines++
		switch name {
		case "Skip", "FAIL", "Error", "Disabled":
			if value != "0" {
				t.Errorf("%s: %s", name, value)
			}
		case "Pass", "Total":
		case "Sparse Manifests":
			if value != "Disabled" {
				t.Errorf("%s: %s", name, value)
			}
		default:
			if value != "Pass" {
				t.Errorf("%s: %s", name, value)
			}
		}
	}
	if lines < 30 {
		t.Errorf("summary has %d result lines; output format changed?", lines)
	}
}

// conformanceBinary finds the suite: $COFFER_CONFORMANCE, then "conformance" on PATH, then
// <module root>/.tools/bin/conformance. Missing, the test is skipped, unless CI is set.
func conformanceBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("COFFER_CONFORMANCE"); p != "" {
		return p
	}
	if p, err := exec.LookPath("conformance"); err == nil {
		return p
	}
	if root, err := moduleRoot(); err == nil {
		p := filepath.Join(root, ".tools", "bin", "conformance")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	msg := "OCI conformance suite not found: set COFFER_CONFORMANCE, put \"conformance\" on PATH, or run " +
		"GOBIN=$PWD/.tools/bin go install github.com/opencontainers/distribution-spec/conformance@" + ConformanceVersion +
		" in the module root"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

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
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}

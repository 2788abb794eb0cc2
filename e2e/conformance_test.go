package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestOCIConformance runs the OCI distribution-spec conformance suite (all four workflows:
// pull, push, content discovery, content management) against the real binary.
func TestOCIConformance(t *testing.T) {
	conformance := tool(t, "conformance")
	srv := startCoffer(t, "")
	results := t.TempDir()
	cmd := exec.Command(conformance)
	cmd.Dir = results
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+srv.Host,
		"OCI_TLS=disabled",
		"OCI_REPO1="+account+"/conformance/repo1",
		"OCI_REPO2="+account+"/conformance/repo2",
		"OCI_VERSION=1.1",
		"OCI_RESULTS_DIR="+results,
		"OCI_LOG=warn",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		junit, _ := os.ReadFile(filepath.Join(results, "junit.xml"))
		t.Fatalf("conformance suite failed: %v\n%s\n(junit.xml: %d bytes in %s)", err, out, len(junit), results)
	}
	t.Logf("conformance suite passed:\n%s", out)
}

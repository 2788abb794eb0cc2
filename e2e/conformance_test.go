package e2e

import (
	"os"
	"os/exec"
	"testing"
)

// TestOCIConformance runs the OCI distribution-spec conformance suite (all four workflows:
// pull, push, content discovery, content management) against the real binary.
func TestOCIConformance(t *testing.T) {
	conformance := tool(t, "conformance")
	// The suite asks for referrers before it pushes anything, so the repositories must exist
	// beforehand (create-on-push only creates them on a push).
	dir := t.TempDir()
	createRepositories(t, dir, "conformance/repo1", "conformance/repo2")
	srv := startCoffer(t, dir)
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
		t.Fatalf("conformance suite failed: %v\n%s", err, out)
	}
}

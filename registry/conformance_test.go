package registry

import (
	"context"
	"strings"
	"testing"

	"github.com/coffer-registry/coffer/registry/registrytest"
)

// TestOCIConformance runs the OCI Distribution conformance suite (all four workflows: pull,
// push, content discovery, content management; every data type but "sparse", which the
// issue rules out: a manifest must not reference content the repository lacks) against the
// handler over loopback with the real stores.
func TestOCIConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("conformance suite skipped in -short mode")
	}
	tr := newTestRegistry(t, nil)
	ctx := context.Background()
	for _, name := range []string{"conformance/repo1", "conformance/repo2"} {
		if _, err := tr.meta.CreateRepository(ctx, testAccount, name); err != nil {
			t.Fatal(err)
		}
	}
	registrytest.RunConformance(t, registrytest.Conformance{
		Registry: strings.TrimPrefix(tr.srv.URL, "http://"),
		Repo1:    testAccount + "/conformance/repo1",
		Repo2:    testAccount + "/conformance/repo2",
	})
}

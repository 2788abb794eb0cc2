package registryauth_test

import (
	"strings"
	"testing"

	"github.com/coffer-registry/coffer/registry/registrytest"
)

// TestOCIConformanceWithCredentials runs the OCI conformance suite through the whole
// authentication and authorization path: Basic AWS:<token> of a user whose identity policy
// allows ECR on the two repositories only, the audit trail recording every request.
func TestOCIConformanceWithCredentials(t *testing.T) {
	w := newWorld(t, false)
	A := w.acctA
	w.repo(A, "conformance/repo1")
	w.repo(A, "conformance/repo2")
	token := w.user(A, "conformance", []string{allow("ecr:*",
		"arn:aws:ecr:"+region+":"+A+":repository/conformance/*")})
	registrytest.RunConformance(t, registrytest.Conformance{
		Registry: strings.TrimPrefix(w.srv.URL, "http://"),
		Repo1:    A + "/conformance/repo1",
		Repo2:    A + "/conformance/repo2",
		Username: "AWS",
		Password: token,
	})
	if n := len(w.events(auditFilterRepo(A + "/conformance/repo1"))); n < 100 {
		t.Errorf("only %d audit events for the conformance run on repo1", n)
	}
}

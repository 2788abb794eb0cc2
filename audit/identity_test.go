package audit

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
)

// A registry event's identity, encoded once per caller, is what encoding the event's
// UserIdentity writes, for every kind of caller and on every use of the cache.
func TestCachedIdentityEncodesAsTheEvent(t *testing.T) {
	issued := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	callers := []*auth.Caller{
		nil,
		auth.NewCaller(auth.Anonymous, nil, 0),
		auth.NewCaller(auth.RegistryToken, &iam.Principal{Type: iam.PrincipalUser, AccessKeyID: "AKIAEXAMPLE0000001",
			AccountID: "111122223333", ARN: "arn:aws:iam::111122223333:user/alice", UserID: "AIDAEXAMPLE1", UserName: "alice"}, 3),
		auth.NewCaller(auth.RegistryToken, &iam.Principal{Type: iam.PrincipalUser, AccessKeyID: "AKIAEXAMPLE0000002",
			AccountID: "111122223333", ARN: "arn:aws:iam::111122223333:user/<bob&co>", UserID: "AIDAEXAMPLE2", UserName: "<bob&co>"}, 3),
		auth.NewCaller(auth.RegistryToken, &iam.Principal{Type: iam.PrincipalAssumedRole, AccessKeyID: "ASIAEXAMPLE0000003",
			AccountID: "444455556666", ARN: "arn:aws:sts::444455556666:assumed-role/Deploy/ecs", UserID: "AROAEXAMPLE:ecs",
			RoleName: "Deploy", RoleARN: "arn:aws:iam::444455556666:role/Deploy", RoleID: "AROAEXAMPLE", SessionName: "ecs",
			Temporary: true, MFAAuthTime: issued, TokenIssueTime: issued, SourceIdentity: "ci"}, 4),
		auth.NewCaller(auth.SigV4, &iam.Principal{Type: iam.PrincipalRoot, AccessKeyID: "AKIAROOT", AccountID: "111122223333",
			ARN: "arn:aws:iam::111122223333:root", UserID: "111122223333"}, 5),
	}
	var ids identityCache
	cfg := RegistryConfig{Region: "us-east-1"}
	for round := range 3 {
		for i, c := range callers {
			r := httptest.NewRequest(http.MethodGet, "/v2/111122223333/app/manifests/latest", nil)
			if i%2 == 0 {
				r.TLS = &tls.ConnectionState{}
			}
			n := &note{caller: c}
			e := registryEvent(cfg, r, awsproto.RequestContext{ReceivedAt: issued}, n, &statusWriter{status: 200}, &ids)
			if (e.identityJSON != nil) != (c != nil && c.Principal != nil) {
				t.Fatalf("round %d, caller %d: cached identity %q", round, i, e.identityJSON)
			}
			want, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendEvent(nil, e); !bytes.Equal(got, want) {
				t.Fatalf("round %d, caller %d:\n got %s\nwant %s", round, i, got, want)
			}
		}
	}
}

package registryauth_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/coffer-registry/coffer/audit"
	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/auth/registrytoken"
)

// principal kinds of the authorization matrix.
const (
	pNone     = "no credentials"
	pExpired  = "expired token"
	pTampered = "tampered token"
	pOther    = "other account without grant"
	pNoPolicy = "same account without policy"
	pDeny     = "explicit deny"
	pAllowed  = "allowed"
)

var principals = []string{pNone, pExpired, pTampered, pOther, pNoPolicy, pDeny, pAllowed}

// matrixRoute is one registry route: how to call it, its ECR action and its status when allowed.
type matrixRoute struct {
	name    string
	action  string // "" for ping and catalog
	allowed int
	// request returns method, path, body and headers; prepare (for the allowed caller) may
	// create what the request acts on.
	request func(m *matrix, p string) (string, string, []byte, []string)
}

type matrix struct {
	w      *world
	tokens map[string]string
	repo   string // /v2/A/matrix/app
	img    image
}

func (m *matrix) upload(p string) string {
	if p != pAllowed {
		return m.repo + "/blobs/uploads/" + "denied-before-lookup"
	}
	r := m.w.do(m.tokens[pAllowed], "POST", m.repo+"/blobs/uploads/", nil)
	if r.status != http.StatusAccepted {
		m.w.t.Fatalf("upload start: %s", r)
	}
	return r.header.Get("Location")
}

var matrixRoutes = []matrixRoute{
	{"ping", "", 200, func(m *matrix, p string) (string, string, []byte, []string) { return "GET", "/v2/", nil, nil }},
	{"catalog", "", 200, func(m *matrix, p string) (string, string, []byte, []string) { return "GET", "/v2/_catalog", nil, nil }},
	{"manifest get", "ecr:BatchGetImage", 200, func(m *matrix, p string) (string, string, []byte, []string) {
		return "GET", m.repo + "/manifests/v1", nil, []string{"Accept", "application/vnd.oci.image.manifest.v1+json"}
	}},
	{"manifest head", "ecr:BatchGetImage", 200, func(m *matrix, p string) (string, string, []byte, []string) {
		return "HEAD", m.repo + "/manifests/" + m.img.digest.String(), nil, nil
	}},
	{"manifest put", "ecr:PutImage", 201, func(m *matrix, p string) (string, string, []byte, []string) {
		return "PUT", m.repo + "/manifests/v2", m.img.manifest, []string{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}
	}},
	{"manifest delete", "ecr:BatchDeleteImage", 202, func(m *matrix, p string) (string, string, []byte, []string) {
		d := digest.FromString("nothing")
		if p == pAllowed {
			d = m.w.pushImage(m.tokens[pAllowed], m.repo, "", "to-delete").digest
		}
		return "DELETE", m.repo + "/manifests/" + d.String(), nil, nil
	}},
	{"blob get", "ecr:GetDownloadUrlForLayer", 200, func(m *matrix, p string) (string, string, []byte, []string) {
		return "GET", m.repo + "/blobs/" + m.img.layer.String(), nil, nil
	}},
	{"blob head", "ecr:BatchCheckLayerAvailability", 200, func(m *matrix, p string) (string, string, []byte, []string) {
		return "HEAD", m.repo + "/blobs/" + m.img.config.String(), nil, nil
	}},
	{"blob delete", "ecr:BatchDeleteImage", 202, func(m *matrix, p string) (string, string, []byte, []string) {
		d := digest.FromString("nothing")
		if p == pAllowed {
			d = m.w.pushBlob(m.tokens[pAllowed], m.repo, []byte("a blob to delete"))
		}
		return "DELETE", m.repo + "/blobs/" + d.String(), nil, nil
	}},
	{"upload start", "ecr:InitiateLayerUpload", 202, func(m *matrix, p string) (string, string, []byte, []string) {
		return "POST", m.repo + "/blobs/uploads/", nil, nil
	}},
	{"upload status", "ecr:UploadLayerPart", 204, func(m *matrix, p string) (string, string, []byte, []string) {
		return "GET", m.upload(p), nil, nil
	}},
	{"upload chunk", "ecr:UploadLayerPart", 202, func(m *matrix, p string) (string, string, []byte, []string) {
		return "PATCH", m.upload(p), []byte("chunk"), []string{"Content-Type", "application/octet-stream", "Content-Range", "0-4"}
	}},
	{"upload complete", "ecr:CompleteLayerUpload", 201, func(m *matrix, p string) (string, string, []byte, []string) {
		body := []byte("complete me")
		return "PUT", m.upload(p) + "?digest=" + digest.FromBytes(body).String(), body, []string{"Content-Type", "application/octet-stream"}
	}},
	{"upload cancel", "ecr:UploadLayerPart", 204, func(m *matrix, p string) (string, string, []byte, []string) {
		return "DELETE", m.upload(p), nil, nil
	}},
	{"tags list", "ecr:ListImages", 200, func(m *matrix, p string) (string, string, []byte, []string) {
		return "GET", m.repo + "/tags/list", nil, nil
	}},
	{"referrers", "ecr:BatchGetImage", 200, func(m *matrix, p string) (string, string, []byte, []string) {
		return "GET", m.repo + "/referrers/" + m.img.digest.String(), nil, nil
	}},
}

// TestAuthorizationMatrix calls every registry route as every kind of caller, over loopback
// with real tokens, the real IAM store, authorizer and registry, and checks status, error
// code, AWS's sentence, the challenge, and the audit event of each request.
func TestAuthorizationMatrix(t *testing.T) {
	w := newWorld(t, false)
	A, B := w.acctA, w.acctB
	w.repo(A, "matrix/app")
	repoARN := "arn:aws:ecr:" + region + ":" + A + ":repository/matrix/app"
	m := &matrix{w: w, repo: "/v2/" + A + "/matrix/app", tokens: map[string]string{}}
	m.tokens[pAllowed] = w.user(A, "admin", []string{allow("ecr:*")})
	m.tokens[pNoPolicy] = w.user(A, "nopolicy", nil)
	m.tokens[pDeny] = w.user(A, "denied", []string{allow("ecr:*")})
	m.tokens[pOther] = w.user(B, "outsider", []string{allow("ecr:*")})
	// A token sealed twelve hours and a minute ago, with the real key: genuine but expired.
	past, err := registrytoken.New(registrytoken.Config{Key: w.key, Store: w.iam,
		Now: func() time.Time { return time.Now().Add(-registrytoken.Validity - time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	adminCred, _ := w.iam.LookupCredential(t.Context(), mustClaims(t, w, m.tokens[pAllowed]).AccessKeyID)
	m.tokens[pExpired], _, err = past.Issue(t.Context(), auth.NewCaller(auth.SigV4, adminCred.Principal, adminCred.Generation))
	if err != nil {
		t.Fatal(err)
	}
	m.tokens[pTampered] = tamper(m.tokens[pAllowed])
	w.facts.setPolicy(A, "matrix/app", `{"Version":"2012-10-17","Statement":[
		{"Sid":"NoDenied","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::`+A+`:user/denied"},"Action":"ecr:*"}]}`)
	m.img = w.pushImage(m.tokens[pAllowed], m.repo, "v1", "matrix")

	denySentence := map[string]string{
		pOther:    "because no resource-based policy allows the %s action",
		pNoPolicy: "because no identity-based policy allows the %s action",
		pDeny:     "with an explicit deny in a resource-based policy",
	}
	arnOf := map[string]string{
		pOther: "arn:aws:iam::" + B + ":user/outsider", pNoPolicy: "arn:aws:iam::" + A + ":user/nopolicy",
		pDeny: "arn:aws:iam::" + A + ":user/denied",
	}
	before := len(w.events(audit.Filter{}))
	requests := 0
	for _, rt := range matrixRoutes {
		for _, p := range principals {
			method, path, body, headers := rt.request(m, p)
			r := w.do(m.tokens[p], method, path, body, headers...)
			requests++
			code, msg := r.ociError()
			want := rt.allowed
			switch {
			case p == pNone || p == pExpired || p == pTampered:
				want = http.StatusUnauthorized
			case rt.action != "" && p != pAllowed:
				want = http.StatusForbidden
			}
			if r.status != want {
				t.Errorf("%s × %s: %s, want %d", rt.name, p, r, want)
				continue
			}
			switch want {
			case http.StatusUnauthorized:
				if ch := r.header.Get("WWW-Authenticate"); ch != `Basic realm="`+w.srv.URL+`/",service="ecr.amazonaws.com"` {
					t.Errorf("%s × %s: challenge %q", rt.name, p, ch)
				}
				if method != "HEAD" && code != "UNAUTHORIZED" {
					t.Errorf("%s × %s: body %s", rt.name, p, r.body)
				}
				if p == pExpired && method != "HEAD" && !strings.Contains(msg, "expired") {
					t.Errorf("%s × %s: message %q", rt.name, p, msg)
				}
			case http.StatusForbidden:
				if method == "HEAD" {
					break
				}
				sentence := "User: " + arnOf[p] + " is not authorized to perform: " + rt.action + " on resource: " + repoARN + " " +
					strings.Replace(denySentence[p], "%s", rt.action, 1)
				if code != "DENIED" || msg != sentence {
					t.Errorf("%s × %s:\n got %s %q\nwant DENIED %q", rt.name, p, code, msg, sentence)
				}
			}
			if rt.name == "catalog" && r.status == 200 {
				var cat struct{ Repositories []string }
				json.Unmarshal(r.body, &cat)
				listed := slices.Contains(cat.Repositories, A+"/matrix/app")
				if listed != (p == pAllowed) {
					t.Errorf("catalog × %s lists %v", p, cat.Repositories)
				}
			}
		}
	}

	t.Logf("%d matrix requests", requests)
	// One audit event per request, with the decision the answer implies. (The allowed
	// caller's setup requests add events of their own; count the matrix requests by id.)
	events := w.events(audit.Filter{})[before:]
	denied := 0
	for _, e := range events {
		if e.AdditionalEventData.Decision == audit.Deny {
			denied++
			if e.AdditionalEventData.HTTPStatus != 401 && e.AdditionalEventData.HTTPStatus != 403 {
				t.Errorf("deny event with status %d", e.AdditionalEventData.HTTPStatus)
			}
		} else if s := e.AdditionalEventData.HTTPStatus; s == 401 || s == 403 {
			t.Errorf("allow event with status %d", s)
		}
		if e.RequestID == "" || e.EventSource != "ecr.amazonaws.com" || e.SourceIPAddress != "127.0.0.1" {
			t.Errorf("event %+v", e)
		}
	}
	// 16 routes × 3 unauthenticated + 14 repository routes × 3 denied principals.
	if wantDenied := 16*3 + 14*3; denied != wantDenied {
		t.Errorf("%d deny events, want %d", denied, wantDenied)
	}
	if len(events) < requests {
		t.Errorf("%d events for %d requests", len(events), requests)
	}
	for _, tok := range m.tokens {
		for _, e := range events {
			raw, _ := json.Marshal(e)
			if strings.Contains(string(raw), tok) || strings.Contains(string(raw), basicPassword(tok)) {
				t.Fatal("a token reached the audit trail")
			}
		}
	}
	deniedForbidden := w.events(audit.Filter{Principal: arnOf[pDeny], Decision: "Deny", Action: "ecr:PutImage"})
	if len(deniedForbidden) != 1 || deniedForbidden[0].ErrorCode != "AccessDenied" ||
		!strings.Contains(deniedForbidden[0].ErrorMessage, "explicit deny") || deniedForbidden[0].AdditionalEventData.Repository != "matrix/app" {
		t.Errorf("explicit deny of PutImage in the trail: %+v", deniedForbidden)
	}
}

func mustClaims(t *testing.T, w *world, token string) registrytoken.Claims {
	t.Helper()
	c, err := w.tokens.Parse(token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tamper changes the identity inside a token and keeps its MAC.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), "user/admin", "user/nopolicy", 1))
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
}

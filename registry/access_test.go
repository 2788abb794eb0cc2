package registry

import (
	"net/http"
	"testing"
)

const (
	testDigest  = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	testAccount = "111122223333"
)

// TestRouteActions is the route → ECR action table (iam-ecr-semantics.md §2.3), one row per
// registry operation.
func TestRouteActions(t *testing.T) {
	uploadID := "0b0e3c5e-7a1f-4c39-9d55-4a0a2b7f5c11"
	cases := []struct {
		method, path string
		op           operation
		name         string
		ref          string
		action       string
	}{
		{"GET", "/v2/", opPing, "", "", ""},
		{"HEAD", "/v2/", opPing, "", "", ""},
		{"GET", "/v2/_catalog", opCatalog, "", "", "ecr:DescribeRepositories"},
		{"GET", "/v2/111122223333/team/app/manifests/latest", opManifestGet, "team/app", "latest", "ecr:BatchGetImage"},
		{"HEAD", "/v2/111122223333/team/app/manifests/" + testDigest, opManifestHead, "team/app", testDigest, "ecr:BatchGetImage"},
		{"PUT", "/v2/111122223333/team/app/manifests/v1.0", opManifestPut, "team/app", "v1.0", "ecr:PutImage"},
		{"DELETE", "/v2/111122223333/team/app/manifests/" + testDigest, opManifestDelete, "team/app", testDigest, "ecr:BatchDeleteImage"},
		{"DELETE", "/v2/111122223333/team/app/manifests/old", opManifestDelete, "team/app", "old", "ecr:BatchDeleteImage"},
		{"GET", "/v2/111122223333/team/app/blobs/" + testDigest, opBlobGet, "team/app", testDigest, "ecr:GetDownloadUrlForLayer"},
		{"HEAD", "/v2/111122223333/team/app/blobs/" + testDigest, opBlobHead, "team/app", testDigest, "ecr:BatchCheckLayerAvailability"},
		{"DELETE", "/v2/111122223333/team/app/blobs/" + testDigest, opBlobDelete, "team/app", testDigest, "ecr:BatchDeleteImage"},
		{"POST", "/v2/111122223333/team/app/blobs/uploads/", opUploadStart, "team/app", "", "ecr:InitiateLayerUpload"},
		{"POST", "/v2/111122223333/team/app/blobs/uploads", opUploadStart, "team/app", "", "ecr:InitiateLayerUpload"},
		{"GET", "/v2/111122223333/team/app/blobs/uploads/" + uploadID, opUploadStatus, "team/app", uploadID, "ecr:UploadLayerPart"},
		{"PATCH", "/v2/111122223333/team/app/blobs/uploads/" + uploadID, opUploadChunk, "team/app", uploadID, "ecr:UploadLayerPart"},
		{"PUT", "/v2/111122223333/team/app/blobs/uploads/" + uploadID, opUploadComplete, "team/app", uploadID, "ecr:CompleteLayerUpload"},
		{"DELETE", "/v2/111122223333/team/app/blobs/uploads/" + uploadID, opUploadCancel, "team/app", uploadID, "ecr:UploadLayerPart"},
		{"GET", "/v2/111122223333/team/app/tags/list", opTagsList, "team/app", "", "ecr:ListImages"},
		{"GET", "/v2/111122223333/team/app/referrers/" + testDigest, opReferrers, "team/app", testDigest, "ecr:BatchGetImage"},
		// Names that contain the words the router looks for are still read from the end.
		{"GET", "/v2/111122223333/a/manifests/b/manifests/latest", opManifestGet, "a/manifests/b", "latest", "ecr:BatchGetImage"},
		{"GET", "/v2/111122223333/a/blobs/uploads/blobs/" + testDigest, opBlobGet, "a/blobs/uploads", testDigest, "ecr:GetDownloadUrlForLayer"},
		{"POST", "/v2/111122223333/x/blobs/blobs/uploads/", opUploadStart, "x/blobs", "", "ecr:InitiateLayerUpload"},
		{"GET", "/v2/111122223333/tags/list/tags/list", opTagsList, "tags/list", "", "ecr:ListImages"},
	}
	h := &Handler{region: "eu-west-1"}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			rt, err := parseRoute(c.method, c.path)
			if err != nil {
				t.Fatalf("parseRoute: %v", err)
			}
			if rt.op != c.op {
				t.Errorf("op = %v, want %v", rt.op, c.op)
			}
			if rt.name != c.name {
				t.Errorf("name = %q, want %q", rt.name, c.name)
			}
			ref := rt.reference()
			if rt.upload != "" {
				ref = rt.upload
			}
			if ref != c.ref {
				t.Errorf("reference = %q, want %q", ref, c.ref)
			}
			if got := ecrActions[rt.op]; got != c.action {
				t.Errorf("action = %q, want %q", got, c.action)
			}
			a, ok := h.repositoryAccess(rt)
			if wantRepoCheck := c.action != "" && c.op != opCatalog; ok != wantRepoCheck {
				t.Fatalf("repository access = %v, want %v", ok, wantRepoCheck)
			}
			if ok {
				if a.Account != testAccount || a.Repository != c.name || a.Action != c.action {
					t.Errorf("access = %+v", a)
				}
				if want := "arn:aws:ecr:eu-west-1:111122223333:repository/" + c.name; a.Resource != want {
					t.Errorf("resource = %q, want %q", a.Resource, want)
				}
			}
		})
	}
}

// Every operation has an entry in the action table (ping deliberately empty).
func TestEveryOperationHasAnAction(t *testing.T) {
	for op := opPing + 1; op < opCount; op++ {
		if ecrActions[op] == "" {
			t.Errorf("%v has no ECR action", op)
		}
	}
}

func TestRouteRejects(t *testing.T) {
	cases := []struct {
		method, path string
		code         Code
		status       int
	}{
		{"GET", "/v2/team/app/manifests/latest", CodeNameInvalid, 400},                    // no account
		{"GET", "/v2/12345/team/app/manifests/latest", CodeNameInvalid, 400},              // short account
		{"GET", "/v2/111122223333/a/manifests/latest", CodeNameInvalid, 400},              // name too short
		{"GET", "/v2/111122223333/Team/app/manifests/latest", CodeNameInvalid, 400},       // upper case
		{"GET", "/v2/111122223333/team/../app/manifests/latest", CodeNameInvalid, 400},    // traversal
		{"GET", "/v2/111122223333/team//app/manifests/latest", CodeNameInvalid, 400},      // empty segment
		{"GET", "/v2/111122223333/team/./app/manifests/latest", CodeNameInvalid, 400},     // dot segment
		{"GET", "/v2/111122223333/team%2Fapp/manifests/latest", CodeNameInvalid, 400},     // a percent sign is no name character
		{"GET", "/v2/111122223333/team/app/manifests/..", CodeManifestInvalid, 400},       // tag traversal
		{"GET", "/v2/111122223333/team/app/manifests/sha256:abc", CodeDigestInvalid, 400}, // bad digest
		{"GET", "/v2/111122223333/team/app/blobs/latest", CodeDigestInvalid, 400},
		{"GET", "/v2/111122223333/team/app/referrers/nope", CodeDigestInvalid, 400},
		{"GET", "/v2/111122223333/team/app/blobs/uploads/..", CodeBlobUploadUnknown, 404},
		{"GET", "/v2/111122223333/team/app/whatever", CodeUnsupported, 404},
		{"GET", "/v3/", CodeUnsupported, 404},
		{"POST", "/v2/111122223333/team/app/manifests/latest", CodeUnsupported, 405},
		{"PUT", "/v2/111122223333/team/app/blobs/" + testDigest, CodeUnsupported, 405},
		{"DELETE", "/v2/_catalog", CodeUnsupported, 405},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			_, err := parseRoute(c.method, c.path)
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Code != c.code || err.Status != c.status {
				t.Errorf("got %s %d, want %s %d (%s)", err.Code, err.Status, c.code, c.status, err.Message)
			}
		})
	}
}

func TestMethodNotAllowedListsAllow(t *testing.T) {
	_, err := parseRoute(http.MethodPost, "/v2/111122223333/team/app/blobs/"+testDigest)
	if err == nil || err.Header.Get("Allow") != "DELETE, GET, HEAD" {
		t.Fatalf("Allow = %q", err.Header.Get("Allow"))
	}
}

func TestRepositoryNameGrammar(t *testing.T) {
	long := ""
	for len(long) < 257 {
		long += "a"
	}
	cases := map[string]bool{
		"ab": true, "team/app": true, "a.b_c__d-e--f": true, "a/b/c/d": true, "0a": true,
		"a": false, "": false, "a/": false, "/a": false, "a_/b": false, "a.-b": false,
		"ab/..": false, "a___b": false, long[:256]: true, long: false, "ab:cd": false,
	}
	for name, want := range cases {
		if got := validRepositoryName(name); got != want {
			t.Errorf("validRepositoryName(%q) = %v, want %v", name, got, want)
		}
	}
}

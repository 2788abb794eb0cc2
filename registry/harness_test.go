package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/blob"
	blobfs "github.com/coffer-registry/coffer/blob/fs"
	"github.com/coffer-registry/coffer/store"
	"github.com/coffer-registry/coffer/store/sqlite"
	"github.com/opencontainers/go-digest"
)

// testRegistry is the handler on a loopback server over the real filesystem blob store and
// the real SQLite metadata store, both in a temporary directory.
type testRegistry struct {
	t     testing.TB
	srv   *httptest.Server
	meta  store.Store
	blobs blob.Store
	repo  store.Repository // 111122223333/team/app, created up front

	closeMeta func() error
}

const testRepo = "/v2/111122223333/team/app"

func newTestRegistry(t testing.TB, configure func(*Config)) *testRegistry {
	t.Helper()
	return openTestRegistry(t, t.TempDir(), configure)
}

// openTestRegistry starts a handler over the stores in dir, creating them (and the test
// repository) when they are new; a second call on the same dir is a restart.
func openTestRegistry(t testing.TB, dir string, configure func(*Config)) *testRegistry {
	t.Helper()
	blobs, err := blobfs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	closeMeta := sync.OnceValue(meta.Close) // Close may run early (a restart) and at cleanup
	t.Cleanup(func() { closeMeta() })
	cfg := Config{
		Blobs:  blobs,
		Store:  meta,
		Region: "us-east-1",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if configure != nil {
		configure(&cfg)
	}
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	repo, err := meta.CreateRepository(context.Background(), testAccount, "team/app")
	if errors.Is(err, store.ErrRepositoryExists) {
		repo, err = meta.GetRepository(context.Background(), testAccount, "team/app")
	}
	if err != nil {
		t.Fatal(err)
	}
	return &testRegistry{t: t, srv: srv, meta: meta, blobs: blobs, repo: repo, closeMeta: closeMeta}
}

// response is a finished exchange.
type response struct {
	*http.Response
	body []byte
}

// do sends one request; headers alternate key, value.
func (tr *testRegistry) do(method, path string, body []byte, headers ...string) response {
	tr.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, tr.srv.URL+path, rd)
	if err != nil {
		tr.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := tr.srv.Client().Do(req)
	if err != nil {
		tr.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tr.t.Fatal(err)
	}
	if got := resp.Header.Get("Docker-Distribution-Api-Version"); got != "registry/2.0" {
		tr.t.Errorf("%s %s: Docker-Distribution-Api-Version = %q", method, path, got)
	}
	return response{Response: resp, body: b}
}

// expect checks the status and returns the response.
func (r response) expect(t testing.TB, status int) response {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
	}
	return r
}

// expectError checks status and the spec's error body with the given code.
func (r response) expectError(t testing.TB, status int, code Code) response {
	t.Helper()
	r.expect(t, status)
	if r.Request.Method == http.MethodHead {
		return r
	}
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, r.body)
	}
	if len(body.Errors) != 1 || body.Errors[0].Code != string(code) || body.Errors[0].Message == "" {
		t.Fatalf("error body %s, want code %s", r.body, code)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
	return r
}

// pushBlob uploads content with POST + PUT and returns its digest.
func (tr *testRegistry) pushBlob(repoPath string, content []byte) digest.Digest {
	tr.t.Helper()
	d := digest.FromBytes(content)
	loc := tr.do("POST", repoPath+"/blobs/uploads/", nil).expect(tr.t, http.StatusAccepted).Header.Get("Location")
	tr.do("PUT", loc+"?digest="+d.String(), content, "Content-Type", "application/octet-stream").expect(tr.t, http.StatusCreated)
	return d
}

// image is a pushed image manifest with its parts.
type image struct {
	config, layer digest.Digest
	manifest      []byte
	digest        digest.Digest
}

// pushImage pushes a config, one layer and an OCI image manifest (tagged when tag != "").
func (tr *testRegistry) pushImage(repoPath, tag string, extra map[string]any) image {
	tr.t.Helper()
	configBytes := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layerBytes := []byte("layer " + tag + " " + repoPath)
	img := image{config: tr.pushBlob(repoPath, configBytes), layer: tr.pushBlob(repoPath, layerBytes)}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": img.config, "size": len(configBytes)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": img.layer, "size": len(layerBytes)}},
	}
	for k, v := range extra {
		m[k] = v
	}
	img.manifest = mustJSON(tr.t, m)
	img.digest = digest.FromBytes(img.manifest)
	ref := img.digest.String()
	if tag != "" {
		ref = tag
	}
	tr.do("PUT", repoPath+"/manifests/"+ref, img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").
		expect(tr.t, http.StatusCreated)
	return img
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// visible reports whether the blob store holds d at all (not just through a repository).
func (tr *testRegistry) visible(d digest.Digest) bool {
	_, err := tr.blobs.Stat(context.Background(), d)
	return err == nil
}

// uploadsInProgress counts upload sessions: the registry's are bytes in the blob store,
// the ECR API's are also recorded in the metadata store.
func (tr *testRegistry) uploadsInProgress() int {
	tr.t.Helper()
	ids := map[string]bool{}
	ups, err := tr.meta.ListUploads(context.Background(), farFuture)
	if err != nil {
		tr.t.Fatal(err)
	}
	for _, u := range ups {
		ids[u.ID] = true
	}
	if err := tr.blobs.Uploads(context.Background(), func(id, _ string, _ time.Time) error {
		ids[id] = true
		return nil
	}); err != nil {
		tr.t.Fatal(err)
	}
	return len(ids)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

var farFuture = time.Now().Add(24 * 365 * time.Hour)

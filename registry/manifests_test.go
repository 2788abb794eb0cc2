package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
)

func TestPing(t *testing.T) {
	tr := newTestRegistry(t, nil)
	r := tr.do("GET", "/v2/", nil).expect(t, http.StatusOK)
	if string(r.body) != "{}" {
		t.Errorf("body %q", r.body)
	}
	tr.do("HEAD", "/v2/", nil).expect(t, http.StatusOK)
}

func TestManifestPushPull(t *testing.T) {
	tr := newTestRegistry(t, nil)
	img := tr.pushImage(testRepo, "v1", nil)

	for _, ref := range []string{"v1", img.digest.String()} {
		r := tr.do("GET", testRepo+"/manifests/"+ref, nil).expect(t, http.StatusOK)
		if !bytes.Equal(r.body, img.manifest) {
			t.Errorf("GET %s: body differs", ref)
		}
		if got := r.Header.Get("Docker-Content-Digest"); got != img.digest.String() {
			t.Errorf("GET %s: Docker-Content-Digest %q", ref, got)
		}
		if got := r.Header.Get("Content-Type"); got != "application/vnd.oci.image.manifest.v1+json" {
			t.Errorf("GET %s: Content-Type %q", ref, got)
		}
		if got := r.Header.Get("ETag"); got != `"`+img.digest.String()+`"` {
			t.Errorf("GET %s: ETag %q", ref, got)
		}
		h := tr.do("HEAD", testRepo+"/manifests/"+ref, nil).expect(t, http.StatusOK)
		if len(h.body) != 0 || h.ContentLength != int64(len(img.manifest)) {
			t.Errorf("HEAD %s: body %d bytes, Content-Length %d", ref, len(h.body), h.ContentLength)
		}
	}
	// Conditional GET.
	tr.do("GET", testRepo+"/manifests/v1", nil, "If-None-Match", `"`+img.digest.String()+`"`).expect(t, http.StatusNotModified)

	// The push answer names the manifest.
	r := tr.do("PUT", testRepo+"/manifests/v2", img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").expect(t, http.StatusCreated)
	if got := r.Header.Get("Location"); got != testRepo+"/manifests/"+img.digest.String() {
		t.Errorf("Location %q", got)
	}
	if got := r.Header.Get("Docker-Content-Digest"); got != img.digest.String() {
		t.Errorf("Docker-Content-Digest %q", got)
	}
}

func TestManifestUnknown(t *testing.T) {
	tr := newTestRegistry(t, nil)
	tr.do("GET", testRepo+"/manifests/nope", nil).expectError(t, http.StatusNotFound, CodeManifestUnknown)
	tr.do("GET", testRepo+"/manifests/"+testDigest, nil).expectError(t, http.StatusNotFound, CodeManifestUnknown)
	tr.do("HEAD", testRepo+"/manifests/nope", nil).expect(t, http.StatusNotFound)
	tr.do("GET", testRepo+"/manifests/sha256:baddigeststring", nil).expectError(t, http.StatusBadRequest, CodeDigestInvalid)
}

func TestNameInvalidAndUnknown(t *testing.T) {
	tr := newTestRegistry(t, nil)
	tr.do("GET", "/v2/111122223333/Bad_Name/manifests/latest", nil).expectError(t, http.StatusBadRequest, CodeNameInvalid)
	tr.do("GET", "/v2/library/app/manifests/latest", nil).expectError(t, http.StatusBadRequest, CodeNameInvalid)
	tr.do("GET", "/v2/111122223333/team/%2e%2e/manifests/latest", nil).expectError(t, http.StatusBadRequest, CodeNameInvalid)
	tr.do("GET", "/v2/111122223333/team/other/manifests/latest", nil).expectError(t, http.StatusNotFound, CodeNameUnknown)
	// Another account's repository of the same name is another repository.
	tr.do("GET", "/v2/444455556666/team/app/tags/list", nil).expectError(t, http.StatusNotFound, CodeNameUnknown)
	tr.do("POST", "/v2/111122223333/team/other/blobs/uploads/", nil).expectError(t, http.StatusNotFound, CodeNameUnknown)
}

func TestManifestDigestMismatch(t *testing.T) {
	tr := newTestRegistry(t, nil)
	img := tr.pushImage(testRepo, "", nil)
	other := digest.FromString("something else")
	tr.do("PUT", testRepo+"/manifests/"+other.String(), img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").
		expectError(t, http.StatusBadRequest, CodeDigestInvalid)
	tr.do("GET", testRepo+"/manifests/"+other.String(), nil).expect(t, http.StatusNotFound)
}

func TestManifestMissingBlob(t *testing.T) {
	tr := newTestRegistry(t, nil)
	config := tr.pushBlob(testRepo, []byte("{}"))
	missing := digest.FromString("never pushed")
	m := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": missing, "size": 12}},
	})
	tr.do("PUT", testRepo+"/manifests/v1", m, "Content-Type", "application/vnd.oci.image.manifest.v1+json").
		expectError(t, http.StatusBadRequest, CodeManifestBlobUnknown)
	tr.do("GET", testRepo+"/manifests/v1", nil).expect(t, http.StatusNotFound)
	tr.do("GET", testRepo+"/manifests/"+digest.FromBytes(m).String(), nil).expect(t, http.StatusNotFound)
}

func TestIndexMissingManifest(t *testing.T) {
	tr := newTestRegistry(t, nil)
	img := tr.pushImage(testRepo, "", nil)
	missing := digest.FromString("no such manifest")
	idx := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []any{
			map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": img.digest, "size": len(img.manifest)},
			map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": missing, "size": 100},
		},
	})
	tr.do("PUT", testRepo+"/manifests/multi", idx, "Content-Type", "application/vnd.oci.image.index.v1+json").
		expectError(t, http.StatusBadRequest, CodeManifestUnknown)
	tr.do("GET", testRepo+"/manifests/multi", nil).expect(t, http.StatusNotFound)

	// With only the existing child it is accepted and pullable.
	idx = mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": img.digest, "size": len(img.manifest)}},
	})
	tr.do("PUT", testRepo+"/manifests/multi", idx, "Content-Type", "application/vnd.oci.image.index.v1+json").expect(t, http.StatusCreated)
	r := tr.do("GET", testRepo+"/manifests/multi", nil).expect(t, http.StatusOK)
	if r.Header.Get("Content-Type") != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	// The child cannot go while the index lists it.
	tr.do("DELETE", testRepo+"/manifests/"+img.digest.String(), nil).expectError(t, http.StatusConflict, CodeDenied)
	tr.do("DELETE", testRepo+"/manifests/"+digest.FromBytes(idx).String(), nil).expect(t, http.StatusAccepted)
	tr.do("DELETE", testRepo+"/manifests/"+img.digest.String(), nil).expect(t, http.StatusAccepted)
}

func TestManifestTooLarge(t *testing.T) {
	tr := newTestRegistry(t, nil)
	img := tr.pushImage(testRepo, "", nil)
	big := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config":      map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": img.config, "size": 83},
		"layers":      []any{},
		"annotations": map[string]string{"pad": strings.Repeat("x", DefaultMaxManifestSize)},
	})
	tr.do("PUT", testRepo+"/manifests/big", big, "Content-Type", "application/vnd.oci.image.manifest.v1+json").
		expectError(t, http.StatusRequestEntityTooLarge, CodeManifestInvalid)
	tr.do("GET", testRepo+"/manifests/big", nil).expect(t, http.StatusNotFound)

	// Just under the limit is fine (the conformance suite pushes ~3.9 MB manifests).
	fits := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config":      map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": img.config, "size": 83},
		"layers":      []any{},
		"annotations": map[string]string{"pad": strings.Repeat("x", DefaultMaxManifestSize-1000)},
	})
	tr.do("PUT", testRepo+"/manifests/fits", fits, "Content-Type", "application/vnd.oci.image.manifest.v1+json").expect(t, http.StatusCreated)
}

func TestManifestInvalid(t *testing.T) {
	tr := newTestRegistry(t, nil)
	img := tr.pushImage(testRepo, "", nil)
	config := map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": img.config, "size": 83}
	cases := []struct {
		name, contentType string
		body              []byte
	}{
		{"malformed JSON", "application/vnd.oci.image.manifest.v1+json", []byte(`{"schemaVersion":2,`)},
		{"not an object", "application/vnd.oci.image.manifest.v1+json", []byte(`[1,2]`)},
		{"trailing data", "application/vnd.oci.image.manifest.v1+json", append(append([]byte{}, img.manifest...), []byte(`{}`)...)},
		{"empty", "application/vnd.oci.image.manifest.v1+json", []byte{}},
		{"schema 1", "application/vnd.docker.distribution.manifest.v1+json", []byte(`{"schemaVersion":1,"name":"x"}`)},
		{"unknown media type", "application/vnd.example.thing+json",
			mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.example.thing+json", "config": config})},
		{"content type mismatch", "application/vnd.oci.image.index.v1+json", img.manifest},
		{"no config", "application/vnd.oci.image.manifest.v1+json",
			mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []any{}})},
		{"bad layer digest", "application/vnd.oci.image.manifest.v1+json",
			mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config,
				"layers": []any{map[string]any{"mediaType": "x", "digest": "sha256:nothex", "size": 1}}})},
		{"negative size", "application/vnd.oci.image.manifest.v1+json",
			mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
				"config": map[string]any{"mediaType": "x", "digest": img.config, "size": -1}})},
		{"bad subject", "application/vnd.oci.image.manifest.v1+json",
			mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config,
				"subject": map[string]any{"mediaType": "x", "digest": "md5:abc", "size": 1}})},
		{"index with layers", "application/vnd.oci.image.index.v1+json",
			mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{}, "layers": []any{}})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr.do("PUT", testRepo+"/manifests/bad", c.body, "Content-Type", c.contentType).
				expectError(t, http.StatusBadRequest, CodeManifestInvalid)
			tr.do("GET", testRepo+"/manifests/bad", nil).expect(t, http.StatusNotFound)
		})
	}
	// An invalid tag in the path.
	tr.do("PUT", testRepo+"/manifests/-bad", img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").
		expectError(t, http.StatusBadRequest, CodeManifestInvalid)
}

func TestDockerManifestTypes(t *testing.T) {
	tr := newTestRegistry(t, nil)
	configBytes := []byte(`{"architecture":"arm64","os":"linux"}`)
	config := tr.pushBlob(testRepo, configBytes)
	layer := tr.pushBlob(testRepo, []byte("docker layer"))
	m := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
		"config": map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config, "size": len(configBytes)},
		"layers": []any{
			map[string]any{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer, "size": 12},
			// A foreign layer is fetched from its URL: the registry need not hold it.
			map[string]any{"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
				"digest": digest.FromString("windows base"), "size": 1234, "urls": []string{"https://example.com/base"}},
		},
	})
	tr.do("PUT", testRepo+"/manifests/docker", m, "Content-Type", "application/vnd.docker.distribution.manifest.v2+json").expect(t, http.StatusCreated)
	list := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
		"manifests": []any{map[string]any{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": digest.FromBytes(m), "size": len(m),
			"platform": map[string]any{"architecture": "arm64", "os": "linux"}}},
	})
	tr.do("PUT", testRepo+"/manifests/list", list, "Content-Type", "application/vnd.docker.distribution.manifest.list.v2+json").expect(t, http.StatusCreated)
	r := tr.do("GET", testRepo+"/manifests/list", nil).expect(t, http.StatusOK)
	if r.Header.Get("Content-Type") != "application/vnd.docker.distribution.manifest.list.v2+json" {
		t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
}

func TestNondistributableLayers(t *testing.T) {
	tr := newTestRegistry(t, nil)
	img := tr.pushImage(testRepo, "", nil)
	foreign := digest.FromString("nondistributable")
	m := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": img.config, "size": 83},
		"layers": []any{
			map[string]any{"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "digest": foreign, "size": 100,
				"urls": []string{"https://store.example.com/blobs/" + foreign.Encoded()}},
			map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": img.layer, "size": 20},
		},
	})
	tr.do("PUT", testRepo+"/manifests/nd", m, "Content-Type", "application/vnd.oci.image.manifest.v1+json").expect(t, http.StatusCreated)
	// Without URLs the layer must be held like any other.
	m2 := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": img.config, "size": 83},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "digest": foreign, "size": 100}},
	})
	tr.do("PUT", testRepo+"/manifests/nd2", m2, "Content-Type", "application/vnd.oci.image.manifest.v1+json").
		expectError(t, http.StatusBadRequest, CodeManifestBlobUnknown)
}

func TestManifestSHA512AndTagParams(t *testing.T) {
	tr := newTestRegistry(t, nil)
	img := tr.pushImage(testRepo, "", nil)
	d512 := digest.SHA512.FromBytes(img.manifest)
	r := tr.do("PUT", testRepo+"/manifests/"+d512.String()+"?tag=a&tag=b", img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").
		expect(t, http.StatusCreated)
	if got := r.Header.Get("Docker-Content-Digest"); got != d512.String() {
		t.Errorf("Docker-Content-Digest %q", got)
	}
	if got := r.Header.Values("OCI-Tag"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("OCI-Tag %q", got)
	}
	for _, ref := range []string{"a", "b", d512.String()} {
		g := tr.do("GET", testRepo+"/manifests/"+ref, nil).expect(t, http.StatusOK)
		if g.Header.Get("Docker-Content-Digest") != d512.String() || !bytes.Equal(g.body, img.manifest) {
			t.Errorf("GET %s: digest %q", ref, g.Header.Get("Docker-Content-Digest"))
		}
	}
	// A sha512 reference that does not match.
	tr.do("PUT", testRepo+"/manifests/"+digest.SHA512.FromString("x").String(), img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").
		expectError(t, http.StatusBadRequest, CodeDigestInvalid)
	// Tag parameters only with a digest reference, and only valid tags.
	tr.do("PUT", testRepo+"/manifests/v1?tag=c", img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").
		expectError(t, http.StatusBadRequest, CodeManifestInvalid)
	tr.do("PUT", testRepo+"/manifests/"+img.digest.String()+"?tag=..", img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").
		expectError(t, http.StatusBadRequest, CodeManifestInvalid)
}

func TestManifestDelete(t *testing.T) {
	tr := newTestRegistry(t, nil)
	img := tr.pushImage(testRepo, "v1", nil)
	tr.do("PUT", testRepo+"/manifests/v2", img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").expect(t, http.StatusCreated)

	tr.do("DELETE", testRepo+"/manifests/v1", nil).expect(t, http.StatusAccepted)
	tr.do("HEAD", testRepo+"/manifests/v1", nil).expect(t, http.StatusNotFound)
	tr.do("HEAD", testRepo+"/manifests/v2", nil).expect(t, http.StatusOK)
	tr.do("DELETE", testRepo+"/manifests/v1", nil).expectError(t, http.StatusNotFound, CodeManifestUnknown)

	tr.do("DELETE", testRepo+"/manifests/"+img.digest.String(), nil).expect(t, http.StatusAccepted)
	tr.do("HEAD", testRepo+"/manifests/"+img.digest.String(), nil).expect(t, http.StatusNotFound)
	tr.do("HEAD", testRepo+"/manifests/v2", nil).expect(t, http.StatusNotFound)
	tr.do("DELETE", testRepo+"/manifests/"+img.digest.String(), nil).expectError(t, http.StatusNotFound, CodeManifestUnknown)
}

func TestReferrers(t *testing.T) {
	tr := newTestRegistry(t, nil)
	subject := tr.pushImage(testRepo, "app", nil)
	empty := tr.pushBlob(testRepo, []byte("{}"))
	sbomLayer := tr.pushBlob(testRepo, []byte("sbom"))
	artifact := func(artifactType string, note string) []byte {
		return mustJSON(t, map[string]any{
			"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
			"artifactType": artifactType,
			"config":       map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
			"layers":       []any{map[string]any{"mediaType": "text/plain", "digest": sbomLayer, "size": 4}},
			"subject":      map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.digest, "size": len(subject.manifest)},
			"annotations":  map[string]string{"note": note},
		})
	}
	sbom := artifact("application/vnd.example.sbom", "one")
	sig := artifact("application/vnd.example.signature", "two")
	for _, m := range [][]byte{sbom, sig} {
		r := tr.do("PUT", testRepo+"/manifests/"+digest.FromBytes(m).String(), m, "Content-Type", "application/vnd.oci.image.manifest.v1+json").
			expect(t, http.StatusCreated)
		if got := r.Header.Get("OCI-Subject"); got != subject.digest.String() {
			t.Errorf("OCI-Subject %q", got)
		}
	}

	type index struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Manifests     []struct {
			MediaType    string            `json:"mediaType"`
			Digest       digest.Digest     `json:"digest"`
			Size         int64             `json:"size"`
			ArtifactType string            `json:"artifactType"`
			Annotations  map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	list := func(query string) (index, response) {
		r := tr.do("GET", testRepo+"/referrers/"+subject.digest.String()+query, nil).expect(t, http.StatusOK)
		if r.Header.Get("Content-Type") != "application/vnd.oci.image.index.v1+json" {
			t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
		}
		var idx index
		if err := json.Unmarshal(r.body, &idx); err != nil {
			t.Fatal(err)
		}
		if idx.SchemaVersion != 2 || idx.MediaType != "application/vnd.oci.image.index.v1+json" {
			t.Errorf("not an OCI index: %s", r.body)
		}
		return idx, r
	}
	all, r := list("")
	if len(all.Manifests) != 2 || r.Header.Get("OCI-Filters-Applied") != "" {
		t.Fatalf("referrers: %+v", all)
	}
	for _, m := range all.Manifests {
		want := sbom
		if m.ArtifactType == "application/vnd.example.signature" {
			want = sig
		}
		if m.Digest != digest.FromBytes(want) || m.Size != int64(len(want)) || m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.Annotations["note"] == "" {
			t.Errorf("descriptor %+v", m)
		}
	}
	filtered, r := list("?artifactType=application/vnd.example.sbom")
	if len(filtered.Manifests) != 1 || filtered.Manifests[0].Digest != digest.FromBytes(sbom) {
		t.Errorf("filtered: %+v", filtered)
	}
	if r.Header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Errorf("OCI-Filters-Applied %q", r.Header.Get("OCI-Filters-Applied"))
	}
	// An unknown subject has an empty list, not an error.
	r = tr.do("GET", testRepo+"/referrers/"+digest.FromString("nothing").String(), nil).expect(t, http.StatusOK)
	if !strings.Contains(string(r.body), `"manifests":[]`) {
		t.Errorf("empty referrers: %s", r.body)
	}
	tr.do("GET", "/v2/111122223333/team/none/referrers/"+subject.digest.String(), nil).expectError(t, http.StatusNotFound, CodeNameUnknown)
}

// A manifest whose subject does not exist is accepted (OCI 1.1) and listed as a referrer.
func TestSubjectMissing(t *testing.T) {
	tr := newTestRegistry(t, nil)
	img := tr.pushImage(testRepo, "", map[string]any{
		"subject": map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest.FromString("absent"), "size": 10},
	})
	r := tr.do("GET", testRepo+"/referrers/"+digest.FromString("absent").String(), nil).expect(t, http.StatusOK)
	if !strings.Contains(string(r.body), img.digest.String()) {
		t.Errorf("referrers of a missing subject: %s", r.body)
	}
}

func TestCreateOnPush(t *testing.T) {
	off := newTestRegistry(t, nil)
	off.do("POST", "/v2/111122223333/new/repo/blobs/uploads/", nil).expectError(t, http.StatusNotFound, CodeNameUnknown)
	_, err := off.meta.GetRepository(context.Background(), testAccount, "new/repo")
	if !errors.Is(err, store.ErrRepositoryNotFound) {
		t.Fatalf("repository created with CreateOnPush off: %v", err)
	}

	on := newTestRegistry(t, func(c *Config) { c.CreateOnPush = true })
	img := on.pushImage("/v2/111122223333/new/repo", "v1", nil) // upload POST creates it
	on.do("GET", "/v2/111122223333/new/repo/manifests/v1", nil).expect(t, http.StatusOK)
	_ = img
	// A manifest PUT to a missing repository creates it too (and then fails on its blobs).
	on.do("PUT", "/v2/111122223333/other/repo/manifests/v1", img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").
		expectError(t, http.StatusBadRequest, CodeManifestBlobUnknown)
	if _, err := on.meta.GetRepository(context.Background(), testAccount, "other/repo"); err != nil {
		t.Fatalf("manifest PUT did not create the repository: %v", err)
	}
	// Reads never create.
	on.do("GET", "/v2/111122223333/third/repo/tags/list", nil).expectError(t, http.StatusNotFound, CodeNameUnknown)
}

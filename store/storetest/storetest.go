// Package storetest is the contract test suite of store.Store: every implementation (SQLite
// now, PostgreSQL later) runs the same tests through Run.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
)

// Factory opens a fresh, empty store whose garbage-collection review delay is reviewDelay.
// The suite closes it.
type Factory func(t *testing.T, reviewDelay time.Duration) store.Store

// Run runs the contract tests against stores made by open.
func Run(t *testing.T, open Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Factory)
	}{
		{"Repositories", testRepositories},
		{"ListRepositoriesPagination", testListRepositories},
		{"DeleteRepository", testDeleteRepository},
		{"Blobs", testBlobs},
		{"PutManifestMissingReferences", testMissingReferences},
		{"PutAndGetManifest", testPutAndGet},
		{"RePutMovesTags", testRePutMovesTags},
		{"ListTags", testListTags},
		{"DeleteTag", testDeleteTag},
		{"DeleteManifest", testDeleteManifest},
		{"Referrers", testReferrers},
		{"MarkPulled", testMarkPulled},
		{"Uploads", testUploads},
		{"LinkUploadedBlob", testLinkUploadedBlob},
		{"GCNotDueBeforeDelay", testGCNotDue},
		{"GCBlobs", testGCBlobs},
		{"GCUntaggedManifests", testGCManifests},
		{"GCIndexChildrenAndReferrers", testGCIndexAndReferrers},
		{"GCLeases", testGCLeases},
		{"GCQueueUnknownBlob", testGCQueueUnknownBlob},
		{"ModelWithCollection", testModel},
	}
	for _, tc := range append(tests, ecrTests...) {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

var ctx = context.Background()

func openStore(t *testing.T, open Factory, delay time.Duration) store.Store {
	t.Helper()
	s := open(t, delay)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func newRepo(t *testing.T, s store.Store, name string) store.Repository {
	t.Helper()
	return must[store.Repository](t)(s.CreateRepository(ctx, "111122223333", name))
}

// blobDigest makes a distinct digest for a name.
func blobDigest(name string) digest.Digest { return digest.FromString("blob " + name) }

func linkBlobs(t *testing.T, s store.Store, repo int64, names ...string) []store.Descriptor {
	t.Helper()
	var out []store.Descriptor
	for i, n := range names {
		d := blobDigest(n)
		if i%2 == 0 {
			check(t, s.LinkBlob(ctx, repo, d, int64(100+i)))
		} else { // a push's link, which a store may defer
			check(t, s.LinkUploadedBlob(ctx, repo, d, int64(100+i), ""))
		}
		out = append(out, store.Descriptor{Digest: d, MediaType: "application/vnd.oci.image.layer.v1.tar", Size: int64(100 + i)})
	}
	return out
}

// image builds an image manifest over the given blobs with a payload that makes it unique.
func image(label string, blobs []store.Descriptor) store.Manifest {
	payload := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","label":%q}`, label))
	return store.Manifest{
		Digest:    digest.FromBytes(payload),
		MediaType: "application/vnd.oci.image.manifest.v1+json",
		Size:      int64(len(payload)),
		Payload:   payload,
		Blobs:     blobs,
	}
}

func index(label string, children ...store.Manifest) store.Manifest {
	m := image(label, nil)
	m.MediaType = "application/vnd.oci.image.index.v1+json"
	for _, c := range children {
		m.Manifests = append(m.Manifests, store.Descriptor{Digest: c.Digest, MediaType: c.MediaType, Size: c.Size})
	}
	return m
}

func testRepositories(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := must[store.Repository](t)(s.CreateRepository(ctx, "111122223333", "team/app"))
	if r.ID == 0 || r.Account != "111122223333" || r.Name != "team/app" || r.CreatedAt.IsZero() {
		t.Fatalf("created %+v", r)
	}
	_, err := s.CreateRepository(ctx, "111122223333", "team/app")
	wantErr(t, "duplicate create", err, store.ErrRepositoryExists)
	other := must[store.Repository](t)(s.CreateRepository(ctx, "444455556666", "team/app"))
	if other.ID == r.ID {
		t.Fatal("two repositories share an id")
	}
	got := must[store.Repository](t)(s.GetRepository(ctx, "111122223333", "team/app"))
	if got.ID != r.ID || !got.CreatedAt.Equal(r.CreatedAt) {
		t.Fatalf("GetRepository = %+v, want %+v", got, r)
	}
	_, err = s.GetRepository(ctx, "111122223333", "missing")
	wantErr(t, "get missing", err, store.ErrRepositoryNotFound)
	_, err = s.GetRepository(ctx, "111122223333", "TEAM/APP")
	wantErr(t, "names are case-sensitive", err, store.ErrRepositoryNotFound)
}

func testListRepositories(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	var want []string
	for _, acct := range []string{"222222222222", "111111111111"} {
		for _, name := range []string{"b", "a/x", "a", "c"} {
			must[store.Repository](t)(s.CreateRepository(ctx, acct, name))
			want = append(want, acct+"/"+name)
		}
	}
	sort.Strings(want)
	all := must[[]store.Repository](t)(s.ListRepositories(ctx, "", "", 0))
	var names []string
	for _, r := range all {
		names = append(names, r.Account+"/"+r.Name)
	}
	if !slices.Equal(names, want) {
		t.Fatalf("ListRepositories = %v, want %v", names, want)
	}
	var paged []string
	acct, name := "", ""
	for {
		page := must[[]store.Repository](t)(s.ListRepositories(ctx, acct, name, 3))
		if len(page) > 3 {
			t.Fatalf("page of %d > limit", len(page))
		}
		for _, r := range page {
			paged = append(paged, r.Account+"/"+r.Name)
		}
		if len(page) < 3 {
			break
		}
		acct, name = page[len(page)-1].Account, page[len(page)-1].Name
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("paged = %v, want %v", paged, want)
	}
	rest := must[[]store.Repository](t)(s.ListRepositories(ctx, "111111111111", "zzz", 0))
	if len(rest) != 4 || rest[0].Account != "222222222222" || rest[0].Name != "a" {
		t.Fatalf("after the first account: %+v", rest)
	}
}

func testDeleteRepository(t *testing.T, open Factory) {
	s := openStore(t, open, 0)
	err := s.DeleteRepository(ctx, "111122223333", "missing", false)
	wantErr(t, "delete missing", err, store.ErrRepositoryNotFound)

	empty := newRepo(t, s, "empty")
	check(t, s.DeleteRepository(ctx, "111122223333", "empty", false))
	_, err = s.GetRepository(ctx, "111122223333", "empty")
	wantErr(t, "get deleted", err, store.ErrRepositoryNotFound)
	_ = empty

	r := newRepo(t, s, "full")
	blobs := linkBlobs(t, s, r.ID, "layer")
	m := image("full", blobs)
	check(t, s.PutManifest(ctx, r.ID, m, "latest"))
	check(t, s.CreateUpload(ctx, store.Upload{ID: "5b0a4c3e-0000-4000-8000-000000000001", RepositoryID: r.ID, StartedAt: time.Now()}))
	err = s.DeleteRepository(ctx, "111122223333", "full", false)
	wantErr(t, "delete non-empty", err, store.ErrRepositoryNotEmpty)
	must[store.Manifest](t)(s.ResolveTag(ctx, r.ID, "latest"))

	check(t, s.DeleteRepository(ctx, "111122223333", "full", true))
	_, err = s.GetManifest(ctx, r.ID, m.Digest)
	wantErr(t, "manifest of deleted repository", err, store.ErrManifestNotFound)
	_, err = s.StatBlob(ctx, r.ID, blobs[0].Digest)
	wantErr(t, "blob of deleted repository", err, store.ErrBlobNotFound)
	_, err = s.GetUpload(ctx, "5b0a4c3e-0000-4000-8000-000000000001")
	wantErr(t, "upload of deleted repository", err, store.ErrUploadNotFound)
	// Its blob now waits for garbage collection.
	pending := must[[]store.GCItem](t)(s.PendingGC(ctx, 0))
	if !slices.Contains(pending, store.GCItem{Digest: blobs[0].Digest}) {
		t.Fatalf("blob of deleted repository not pending GC: %+v", pending)
	}
	// The name can be used again.
	newRepo(t, s, "full")
}

func testBlobs(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	a := newRepo(t, s, "a")
	b := newRepo(t, s, "b")
	d := blobDigest("x")
	wantErr(t, "link to missing repository", s.LinkBlob(ctx, 9999, d, 5), store.ErrRepositoryNotFound)
	_, err := s.StatBlob(ctx, a.ID, d)
	wantErr(t, "stat before link", err, store.ErrBlobNotFound)
	if must[bool](t)(s.BlobReferenced(ctx, d)) {
		t.Fatal("BlobReferenced before link")
	}
	check(t, s.LinkBlob(ctx, a.ID, d, 5))
	check(t, s.LinkBlob(ctx, a.ID, d, 5)) // idempotent
	if size := must[int64](t)(s.StatBlob(ctx, a.ID, d)); size != 5 {
		t.Fatalf("StatBlob = %d", size)
	}
	_, err = s.StatBlob(ctx, b.ID, d)
	wantErr(t, "stat in another repository", err, store.ErrBlobNotFound)
	if !must[bool](t)(s.BlobReferenced(ctx, d)) {
		t.Fatal("BlobReferenced after link")
	}
	check(t, s.UnlinkBlob(ctx, a.ID, d))
	wantErr(t, "unlink twice", s.UnlinkBlob(ctx, a.ID, d), store.ErrBlobNotFound)
	_, err = s.StatBlob(ctx, a.ID, d)
	wantErr(t, "stat after unlink", err, store.ErrBlobNotFound)
}

func testMissingReferences(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := newRepo(t, s, "r")
	other := newRepo(t, s, "other")
	linkBlobs(t, s, other.ID, "elsewhere") // linked to another repository only
	have := linkBlobs(t, s, r.ID, "config", "l1")
	m := image("m", []store.Descriptor{have[0], {Digest: blobDigest("l2")}, have[1], {Digest: blobDigest("elsewhere")}})
	err := s.PutManifest(ctx, r.ID, m, "t")
	var missing *store.MissingReferenceError
	if !errors.As(err, &missing) || missing.Digest != blobDigest("l2") || missing.Manifest {
		t.Fatalf("PutManifest = %v, want missing blob l2", err)
	}
	_, err = s.ResolveTag(ctx, r.ID, "t")
	wantErr(t, "tag after failed put", err, store.ErrTagNotFound)
	_, err = s.GetManifest(ctx, r.ID, m.Digest)
	wantErr(t, "manifest after failed put", err, store.ErrManifestNotFound)

	m = image("m2", []store.Descriptor{have[0], {Digest: blobDigest("elsewhere")}})
	err = s.PutManifest(ctx, r.ID, m, "")
	if !errors.As(err, &missing) || missing.Digest != blobDigest("elsewhere") {
		t.Fatalf("PutManifest with a blob of another repository = %v", err)
	}

	child := image("child", have)
	check(t, s.PutManifest(ctx, other.ID, image("child", nil), "")) // a manifest in another repository
	idx := index("idx", child)
	err = s.PutManifest(ctx, r.ID, idx, "")
	if !errors.As(err, &missing) || missing.Digest != child.Digest || !missing.Manifest {
		t.Fatalf("PutManifest of index = %v, want missing manifest", err)
	}
	check(t, s.PutManifest(ctx, r.ID, child, ""))
	check(t, s.PutManifest(ctx, r.ID, idx, "multi"))
	wantErr(t, "put in missing repository", s.PutManifest(ctx, 9999, image("x", nil), "t"), store.ErrRepositoryNotFound)
}

func testPutAndGet(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := newRepo(t, s, "r")
	blobs := linkBlobs(t, s, r.ID, "config", "layer")
	subject := image("subject", nil)
	m := image("artifact", blobs)
	m.ArtifactType = "application/vnd.example.sbom"
	m.Subject = subject.Digest
	m.Annotations = map[string]string{"org.opencontainers.image.created": "2026-01-01T00:00:00Z", "x": "y"}
	before := time.Now().Add(-time.Second)
	check(t, s.PutManifest(ctx, r.ID, m, "v1"))

	for name, get := range map[string]func() (store.Manifest, error){
		"GetManifest": func() (store.Manifest, error) { return s.GetManifest(ctx, r.ID, m.Digest) },
		"ResolveTag":  func() (store.Manifest, error) { return s.ResolveTag(ctx, r.ID, "v1") },
	} {
		got := must[store.Manifest](t)(get())
		if got.Digest != m.Digest || got.MediaType != m.MediaType || got.ArtifactType != m.ArtifactType ||
			got.Size != m.Size || string(got.Payload) != string(m.Payload) || got.Subject != m.Subject {
			t.Fatalf("%s = %+v, want %+v", name, got, m)
		}
		if len(got.Annotations) != 2 || got.Annotations["x"] != "y" {
			t.Fatalf("%s annotations = %v", name, got.Annotations)
		}
		if got.PushedAt.Before(before) || got.PushedAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("%s PushedAt = %v", name, got.PushedAt)
		}
		if !got.LastPulledAt.IsZero() {
			t.Fatalf("%s LastPulledAt = %v before any pull", name, got.LastPulledAt)
		}
	}
	_, err := s.GetManifest(ctx, r.ID, image("nope", nil).Digest)
	wantErr(t, "get missing", err, store.ErrManifestNotFound)
	_, err = s.ResolveTag(ctx, r.ID, "nope")
	wantErr(t, "resolve missing", err, store.ErrTagNotFound)
	other := newRepo(t, s, "other")
	_, err = s.ResolveTag(ctx, other.ID, "v1")
	wantErr(t, "resolve in another repository", err, store.ErrTagNotFound)

	// Exact bytes, including ones that are not valid UTF-8.
	raw := image("raw", nil)
	raw.Payload = append(raw.Payload, 0xff, 0x00, 0xfe)
	raw.Digest = digest.FromBytes(raw.Payload)
	raw.Size = int64(len(raw.Payload))
	check(t, s.PutManifest(ctx, r.ID, raw, ""))
	if got := must[store.Manifest](t)(s.GetManifest(ctx, r.ID, raw.Digest)); string(got.Payload) != string(raw.Payload) {
		t.Fatal("payload bytes changed")
	}
}

func testRePutMovesTags(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := newRepo(t, s, "r")
	m1, m2 := image("one", nil), image("two", nil)
	check(t, s.PutManifest(ctx, r.ID, m1, "latest"))
	check(t, s.PutManifest(ctx, r.ID, m2, "latest"))
	if got := must[store.Manifest](t)(s.ResolveTag(ctx, r.ID, "latest")); got.Digest != m2.Digest {
		t.Fatalf("latest -> %s, want m2", got.Digest)
	}
	// m1 stays, untagged.
	must[store.Manifest](t)(s.GetManifest(ctx, r.ID, m1.Digest))
	// Storing m1 again only moves the tag back.
	check(t, s.PutManifest(ctx, r.ID, m1, "latest"))
	if got := must[store.Manifest](t)(s.ResolveTag(ctx, r.ID, "latest")); got.Digest != m1.Digest {
		t.Fatalf("latest -> %s, want m1", got.Digest)
	}
	check(t, s.PutManifest(ctx, r.ID, m1, "stable"))
	tags := must[[]string](t)(s.ListTags(ctx, r.ID, "", 0))
	if !slices.Equal(tags, []string{"latest", "stable"}) {
		t.Fatalf("tags = %v", tags)
	}
}

func testListTags(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := newRepo(t, s, "r")
	other := newRepo(t, s, "other")
	m := image("m", nil)
	names := []string{"v2", "latest", "v10", "V1", "a-b", "a_b", "a.b"}
	for _, n := range names {
		check(t, s.PutManifest(ctx, r.ID, m, n))
	}
	check(t, s.PutManifest(ctx, other.ID, m, "zzz"))
	want := slices.Clone(names)
	sort.Strings(want)
	if got := must[[]string](t)(s.ListTags(ctx, r.ID, "", 0)); !slices.Equal(got, want) {
		t.Fatalf("ListTags = %v, want %v", got, want)
	}
	if got := must[[]string](t)(s.ListTags(ctx, r.ID, "", 2)); !slices.Equal(got, want[:2]) {
		t.Fatalf("first page = %v", got)
	}
	if got := must[[]string](t)(s.ListTags(ctx, r.ID, want[1], 3)); !slices.Equal(got, want[2:5]) {
		t.Fatalf("second page = %v, want %v", got, want[2:5])
	}
	if got := must[[]string](t)(s.ListTags(ctx, r.ID, want[len(want)-1], 3)); len(got) != 0 {
		t.Fatalf("after the last = %v", got)
	}
	if got := must[[]string](t)(s.ListTags(ctx, 9999, "", 0)); len(got) != 0 {
		t.Fatalf("tags of a missing repository = %v", got)
	}
}

func testDeleteTag(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := newRepo(t, s, "r")
	m := image("m", nil)
	check(t, s.PutManifest(ctx, r.ID, m, "a"))
	check(t, s.PutManifest(ctx, r.ID, m, "b"))
	check(t, s.DeleteTag(ctx, r.ID, "a"))
	wantErr(t, "delete tag twice", s.DeleteTag(ctx, r.ID, "a"), store.ErrTagNotFound)
	_, err := s.ResolveTag(ctx, r.ID, "a")
	wantErr(t, "resolve deleted tag", err, store.ErrTagNotFound)
	must[store.Manifest](t)(s.GetManifest(ctx, r.ID, m.Digest))
	must[store.Manifest](t)(s.ResolveTag(ctx, r.ID, "b"))
}

func testDeleteManifest(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := newRepo(t, s, "r")
	child := image("child", linkBlobs(t, s, r.ID, "l"))
	check(t, s.PutManifest(ctx, r.ID, child, "child-tag"))
	idx := index("idx", child)
	check(t, s.PutManifest(ctx, r.ID, idx, "multi"))

	wantErr(t, "delete missing", s.DeleteManifest(ctx, r.ID, image("nope", nil).Digest), store.ErrManifestNotFound)
	wantErr(t, "delete index child", s.DeleteManifest(ctx, r.ID, child.Digest), store.ErrManifestReferenced)
	must[store.Manifest](t)(s.ResolveTag(ctx, r.ID, "child-tag"))

	check(t, s.DeleteManifest(ctx, r.ID, idx.Digest))
	_, err := s.ResolveTag(ctx, r.ID, "multi")
	wantErr(t, "tag of deleted manifest", err, store.ErrTagNotFound)
	check(t, s.DeleteManifest(ctx, r.ID, child.Digest))
	_, err = s.GetManifest(ctx, r.ID, child.Digest)
	wantErr(t, "get deleted", err, store.ErrManifestNotFound)
	if tags := must[[]string](t)(s.ListTags(ctx, r.ID, "", 0)); len(tags) != 0 {
		t.Fatalf("tags left: %v", tags)
	}
	// The same child in another repository's index does not block deletion here.
	o := newRepo(t, s, "o")
	c2 := image("c2", nil)
	check(t, s.PutManifest(ctx, r.ID, c2, ""))
	check(t, s.PutManifest(ctx, o.ID, c2, ""))
	check(t, s.PutManifest(ctx, o.ID, index("o-idx", c2), "x"))
	check(t, s.DeleteManifest(ctx, r.ID, c2.Digest))
	// A deleted manifest can be pushed again.
	check(t, s.PutManifest(ctx, r.ID, c2, "back"))
}

func testReferrers(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := newRepo(t, s, "r")
	o := newRepo(t, s, "o")
	subject := image("subject", nil)
	check(t, s.PutManifest(ctx, r.ID, subject, "v1"))
	var want []digest.Digest
	for i, at := range []string{"application/sbom", "application/sig", "application/sbom"} {
		m := image(fmt.Sprintf("ref%d", i), nil)
		m.Subject = subject.Digest
		m.ArtifactType = at
		m.Annotations = map[string]string{"i": fmt.Sprint(i)}
		check(t, s.PutManifest(ctx, r.ID, m, ""))
		if at == "application/sbom" {
			want = append(want, m.Digest)
		}
	}
	foreign := image("foreign", nil)
	foreign.Subject = subject.Digest
	check(t, s.PutManifest(ctx, o.ID, foreign, ""))

	all := must[[]store.Manifest](t)(s.Referrers(ctx, r.ID, subject.Digest, ""))
	if len(all) != 3 {
		t.Fatalf("Referrers = %d manifests, want 3", len(all))
	}
	for _, m := range all {
		if m.Subject != subject.Digest || m.Annotations["i"] == "" || m.ArtifactType == "" {
			t.Fatalf("referrer %+v", m)
		}
	}
	sboms := must[[]store.Manifest](t)(s.Referrers(ctx, r.ID, subject.Digest, "application/sbom"))
	var got []digest.Digest
	for _, m := range sboms {
		got = append(got, m.Digest)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("filtered referrers = %v, want %v", got, want)
	}
	if none := must[[]store.Manifest](t)(s.Referrers(ctx, r.ID, image("absent", nil).Digest, "")); len(none) != 0 {
		t.Fatalf("referrers of an absent subject = %v", none)
	}
}

func testMarkPulled(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := newRepo(t, s, "r")
	m := image("m", nil)
	check(t, s.PutManifest(ctx, r.ID, m, "t"))
	at := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	check(t, s.MarkPulled(ctx, r.ID, m.Digest, at))
	check(t, s.MarkPulled(ctx, r.ID, m.Digest, at.Add(-time.Hour))) // older: ignored
	got := must[store.Manifest](t)(s.GetManifest(ctx, r.ID, m.Digest))
	if !got.LastPulledAt.Equal(at) {
		t.Fatalf("LastPulledAt = %v, want %v", got.LastPulledAt, at)
	}
	got = must[store.Manifest](t)(s.ResolveTag(ctx, r.ID, "t"))
	if !got.LastPulledAt.Equal(at) {
		t.Fatalf("ResolveTag LastPulledAt = %v, want %v", got.LastPulledAt, at)
	}
}

func testUploads(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := newRepo(t, s, "r")
	old := time.Now().Add(-8 * 24 * time.Hour).Truncate(time.Millisecond)
	fresh := time.Now().Truncate(time.Millisecond)
	ids := []string{"6f1d2c3b-0000-4000-8000-00000000000a", "6f1d2c3b-0000-4000-8000-00000000000b"}
	wantErr(t, "upload in a missing repository",
		s.CreateUpload(ctx, store.Upload{ID: "6f1d2c3b-0000-4000-8000-00000000000c", RepositoryID: 9999, StartedAt: fresh}), store.ErrRepositoryNotFound)
	check(t, s.CreateUpload(ctx, store.Upload{ID: ids[0], RepositoryID: r.ID, StartedAt: old}))
	check(t, s.CreateUpload(ctx, store.Upload{ID: ids[1], RepositoryID: r.ID, StartedAt: fresh}))
	got := must[store.Upload](t)(s.GetUpload(ctx, ids[0]))
	if got.RepositoryID != r.ID || !got.StartedAt.Equal(old) {
		t.Fatalf("GetUpload = %+v", got)
	}
	stale := must[[]store.Upload](t)(s.ListUploads(ctx, time.Now().Add(-7*24*time.Hour)))
	if len(stale) != 1 || stale[0].ID != ids[0] {
		t.Fatalf("ListUploads = %+v", stale)
	}
	check(t, s.DeleteUpload(ctx, ids[0]))
	wantErr(t, "delete twice", s.DeleteUpload(ctx, ids[0]), store.ErrUploadNotFound)
	_, err := s.GetUpload(ctx, ids[0])
	wantErr(t, "get deleted", err, store.ErrUploadNotFound)
}

func testLinkUploadedBlob(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := newRepo(t, s, "r")
	id := "6f1d2c3b-0000-4000-8000-00000000000d"
	check(t, s.CreateUpload(ctx, store.Upload{ID: id, RepositoryID: r.ID}))
	d := digest.FromString("uploaded")
	check(t, s.LinkUploadedBlob(ctx, r.ID, d, 8, id))
	if size := must[int64](t)(s.StatBlob(ctx, r.ID, d)); size != 8 {
		t.Fatalf("StatBlob = %d, want 8", size)
	}
	_, err := s.GetUpload(ctx, id)
	wantErr(t, "session after LinkUploadedBlob", err, store.ErrUploadNotFound)
	// A session already gone, or none (a monolithic upload), is not an error.
	check(t, s.LinkUploadedBlob(ctx, r.ID, d, 8, id))
	d2 := digest.FromString("whole")
	check(t, s.LinkUploadedBlob(ctx, r.ID, d2, 5, ""))
	if !must[bool](t)(s.BlobReferenced(ctx, d2)) {
		t.Fatal("blob linked without a session is not referenced")
	}
	// A missing repository links nothing and keeps the session.
	id2 := "6f1d2c3b-0000-4000-8000-00000000000e"
	check(t, s.CreateUpload(ctx, store.Upload{ID: id2, RepositoryID: r.ID}))
	wantErr(t, "link into a missing repository", s.LinkUploadedBlob(ctx, 9999, d, 8, id2), store.ErrRepositoryNotFound)
	must[store.Upload](t)(s.GetUpload(ctx, id2))
}

// takeAll leases every due item.
func takeAll(t *testing.T, s store.Store) []store.GCItem {
	t.Helper()
	return must[[]store.GCItem](t)(s.TakeGCItems(ctx, 1000, time.Minute))
}

func confirm(t *testing.T, s store.Store, it store.GCItem) bool {
	t.Helper()
	return must[bool](t)(s.ConfirmGC(ctx, it))
}

func blobItem(d digest.Digest) store.GCItem { return store.GCItem{Digest: d} }

func manifestItem(repo int64, d digest.Digest) store.GCItem {
	return store.GCItem{Digest: d, RepositoryID: repo, Manifest: true}
}

func testGCNotDue(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := newRepo(t, s, "r")
	linkBlobs(t, s, r.ID, "l")
	check(t, s.PutManifest(ctx, r.ID, image("untagged", nil), ""))
	check(t, s.PutManifest(ctx, r.ID, image("moved", nil), "t"))
	check(t, s.PutManifest(ctx, r.ID, image("other", nil), "t"))
	check(t, s.QueueBlobForReview(ctx, blobDigest("orphan"), time.Hour))
	if items := takeAll(t, s); len(items) != 0 {
		t.Fatalf("items due before the review delay: %+v", items)
	}
	if items := must[[]store.GCItem](t)(s.PendingGC(ctx, 0)); len(items) != 0 {
		t.Fatalf("PendingGC before the review delay: %+v", items)
	}
}

func testGCBlobs(t *testing.T, open Factory) {
	s := openStore(t, open, 0)
	r := newRepo(t, s, "r")
	blobs := linkBlobs(t, s, r.ID, "used", "unused")
	used, unused := blobs[0].Digest, blobs[1].Digest
	m := image("m", blobs[:1])
	check(t, s.PutManifest(ctx, r.ID, m, "t"))

	pending := must[[]store.GCItem](t)(s.PendingGC(ctx, 0))
	if !slices.Equal(pending, []store.GCItem{blobItem(unused)}) {
		t.Fatalf("PendingGC = %+v, want only the unused blob", pending)
	}
	items := takeAll(t, s)
	if !slices.Contains(items, blobItem(used)) || !slices.Contains(items, blobItem(unused)) || len(items) != 2 {
		t.Fatalf("TakeGCItems = %+v", items)
	}
	if confirm(t, s, blobItem(used)) {
		t.Fatal("ConfirmGC deleted a blob a manifest uses")
	}
	if !confirm(t, s, blobItem(unused)) {
		t.Fatal("ConfirmGC kept an unreferenced blob")
	}
	_, err := s.StatBlob(ctx, r.ID, unused)
	wantErr(t, "stat collected blob", err, store.ErrBlobNotFound)
	if must[bool](t)(s.BlobReferenced(ctx, unused)) {
		t.Fatal("collected blob still referenced")
	}
	must[int64](t)(s.StatBlob(ctx, r.ID, used))
	if confirm(t, s, blobItem(unused)) {
		t.Fatal("ConfirmGC of an item already handled reported a deletion")
	}
	if items := takeAll(t, s); len(items) != 0 {
		t.Fatalf("queue not empty: %+v", items)
	}
	// The blob can be linked again after collection.
	check(t, s.LinkBlob(ctx, r.ID, unused, 101))
	must[int64](t)(s.StatBlob(ctx, r.ID, unused))
}

func testGCManifests(t *testing.T, open Factory) {
	s := openStore(t, open, 0)
	r := newRepo(t, s, "r")
	blobs := linkBlobs(t, s, r.ID, "layer")
	m := image("m", blobs)
	check(t, s.PutManifest(ctx, r.ID, m, "t"))
	for _, it := range takeAll(t, s) {
		confirm(t, s, it) // the layer is in use: kept
	}
	must[int64](t)(s.StatBlob(ctx, r.ID, blobs[0].Digest))

	check(t, s.DeleteTag(ctx, r.ID, "t"))
	pending := must[[]store.GCItem](t)(s.PendingGC(ctx, 0))
	if !slices.Equal(pending, []store.GCItem{manifestItem(r.ID, m.Digest)}) {
		t.Fatalf("PendingGC = %+v", pending)
	}
	items := takeAll(t, s)
	if !slices.Equal(items, []store.GCItem{manifestItem(r.ID, m.Digest)}) {
		t.Fatalf("TakeGCItems = %+v", items)
	}
	if !confirm(t, s, items[0]) {
		t.Fatal("untagged manifest kept")
	}
	_, err := s.GetManifest(ctx, r.ID, m.Digest)
	wantErr(t, "collected manifest", err, store.ErrManifestNotFound)
	// Now its layer is unreferenced.
	items = takeAll(t, s)
	if !slices.Equal(items, []store.GCItem{blobItem(blobs[0].Digest)}) {
		t.Fatalf("after the manifest: %+v", items)
	}
	if !confirm(t, s, items[0]) {
		t.Fatal("layer of a collected manifest kept")
	}

	// A tag that comes back before the review saves the manifest.
	m2 := image("m2", nil)
	check(t, s.PutManifest(ctx, r.ID, m2, "a"))
	check(t, s.DeleteTag(ctx, r.ID, "a"))
	items = takeAll(t, s)
	check(t, s.PutManifest(ctx, r.ID, m2, "b"))
	for _, it := range items {
		if confirm(t, s, it) {
			t.Fatalf("ConfirmGC deleted %+v, which is tagged again", it)
		}
	}
	must[store.Manifest](t)(s.ResolveTag(ctx, r.ID, "b"))
}

func testGCIndexAndReferrers(t *testing.T, open Factory) {
	s := openStore(t, open, 0)
	r := newRepo(t, s, "r")
	child := image("child", nil)
	check(t, s.PutManifest(ctx, r.ID, child, ""))
	idx := index("idx", child)
	check(t, s.PutManifest(ctx, r.ID, idx, "multi"))
	subject := image("subject", nil)
	check(t, s.PutManifest(ctx, r.ID, subject, "v1"))
	ref := image("sbom", nil)
	ref.Subject = subject.Digest
	check(t, s.PutManifest(ctx, r.ID, ref, ""))
	orphanRef := image("orphan-sbom", nil)
	orphanRef.Subject = image("never pushed", nil).Digest
	check(t, s.PutManifest(ctx, r.ID, orphanRef, ""))

	for _, it := range takeAll(t, s) {
		got := confirm(t, s, it)
		want := it == manifestItem(r.ID, orphanRef.Digest)
		if got != want {
			t.Fatalf("ConfirmGC(%+v) = %v, want %v", it, got, want)
		}
	}
	must[store.Manifest](t)(s.GetManifest(ctx, r.ID, child.Digest))
	must[store.Manifest](t)(s.GetManifest(ctx, r.ID, ref.Digest))

	// Untag the index: the index goes, then its child.
	check(t, s.DeleteTag(ctx, r.ID, "multi"))
	if items := takeAll(t, s); !slices.Equal(items, []store.GCItem{manifestItem(r.ID, idx.Digest)}) || !confirm(t, s, items[0]) {
		t.Fatalf("index not collected: %+v", items)
	}
	if items := takeAll(t, s); !slices.Equal(items, []store.GCItem{manifestItem(r.ID, child.Digest)}) || !confirm(t, s, items[0]) {
		t.Fatalf("child not collected: %+v", items)
	}
	// Delete the subject: its referrer goes.
	check(t, s.DeleteManifest(ctx, r.ID, subject.Digest))
	if items := takeAll(t, s); !slices.Equal(items, []store.GCItem{manifestItem(r.ID, ref.Digest)}) || !confirm(t, s, items[0]) {
		t.Fatalf("referrer not collected: %+v", items)
	}
	if items := takeAll(t, s); len(items) != 0 {
		t.Fatalf("queue not empty: %+v", items)
	}
}

func testGCLeases(t *testing.T, open Factory) {
	s := openStore(t, open, 0)
	check(t, s.QueueBlobForReview(ctx, blobDigest("a"), 0))
	items := takeAll(t, s)
	if len(items) != 1 {
		t.Fatalf("TakeGCItems = %+v", items)
	}
	if again := takeAll(t, s); len(again) != 0 {
		t.Fatalf("a leased item was handed out twice: %+v", again)
	}
	check(t, s.ReleaseGC(ctx, items[0]))
	if again := takeAll(t, s); !slices.Equal(again, items) {
		t.Fatalf("released item not handed out again: %+v", again)
	}
	if got := must[[]store.GCItem](t)(s.TakeGCItems(ctx, 0, time.Minute)); len(got) != 0 {
		t.Fatalf("limit 0 returned %+v", got)
	}
}

func testGCQueueUnknownBlob(t *testing.T, open Factory) {
	s := openStore(t, open, 0)
	d := blobDigest("orphan")
	check(t, s.QueueBlobForReview(ctx, d, 0))
	check(t, s.QueueBlobForReview(ctx, d, 0)) // twice is fine
	pending := must[[]store.GCItem](t)(s.PendingGC(ctx, 0))
	if !slices.Equal(pending, []store.GCItem{blobItem(d)}) {
		t.Fatalf("PendingGC = %+v", pending)
	}
	items := takeAll(t, s)
	if !slices.Equal(items, []store.GCItem{blobItem(d)}) || !confirm(t, s, items[0]) {
		t.Fatalf("orphan not collected: %+v", items)
	}
	// Queueing later than an existing item postpones it.
	check(t, s.QueueBlobForReview(ctx, d, 0))
	check(t, s.QueueBlobForReview(ctx, d, time.Hour))
	if items := takeAll(t, s); len(items) != 0 {
		t.Fatalf("postponed item handed out: %+v", items)
	}
}

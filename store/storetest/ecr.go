package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
)

// ecrTests cover the metadata ECR's API keeps beside the registry's.
var ecrTests = []struct {
	name string
	fn   func(t *testing.T, open Factory)
}{
	{"RepositorySettingsTagsPolicy", testRepositorySettings},
	{"RegistryPolicy", testRegistryPolicy},
	{"ImmutableTags", testImmutableTags},
	{"Images", testImages},
	{"UploadParts", testUploadParts},
}

func testRepositorySettings(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	plain := newRepo(t, s, "plain")
	if plain.Settings.TagMutability != store.TagMutable || plain.Settings.EncryptionType != "AES256" || plain.Tags != nil || plain.Policy != "" {
		t.Fatalf("defaults %+v", plain)
	}
	want := store.Repository{Account: "111122223333", Name: "team/app", Policy: `{"Statement":[]}`,
		Settings: store.RepositorySettings{TagMutability: store.TagImmutableWithExclusion, TagMutabilityExclusions: []string{"latest", "dev-*"},
			ScanOnPush: true, EncryptionType: "KMS", KMSKey: "alias/k"},
		Tags: map[string]string{"team": "blue"}}
	r := must[store.Repository](t)(s.CreateRepositoryWith(ctx, want))
	_, err := s.CreateRepositoryWith(ctx, want)
	wantErr(t, "duplicate", err, store.ErrRepositoryExists)
	got := must[store.Repository](t)(s.GetRepository(ctx, "111122223333", "team/app"))
	for _, g := range []store.Repository{r, got} {
		if g.ID == 0 || g.Policy != want.Policy || g.Tags["team"] != "blue" || len(g.Tags) != 1 || g.CreatedAt.IsZero() ||
			g.Settings.TagMutability != want.Settings.TagMutability || !slices.Equal(g.Settings.TagMutabilityExclusions, want.Settings.TagMutabilityExclusions) ||
			!g.Settings.ScanOnPush || g.Settings.EncryptionType != "KMS" || g.Settings.KMSKey != "alias/k" {
			t.Fatalf("stored %+v", g)
		}
	}
	if n := must[int](t)(s.CountRepositories(ctx, "111122223333")); n != 2 {
		t.Fatalf("CountRepositories = %d", n)
	}
	if n := must[int](t)(s.CountRepositories(ctx, "444455556666")); n != 0 {
		t.Fatalf("CountRepositories of another account = %d", n)
	}
	listed := must[[]store.Repository](t)(s.ListRepositories(ctx, "", "", 0))
	if len(listed) != 2 || listed[1].Tags["team"] != "blue" || listed[1].Policy != want.Policy {
		t.Fatalf("listed %+v", listed)
	}

	updated := must[store.Repository](t)(s.UpdateRepository(ctx, r.ID, func(r *store.Repository) error {
		r.Tags["env"] = "prod"
		r.Policy = ""
		r.Settings.TagMutability, r.Settings.TagMutabilityExclusions = store.TagMutable, nil
		return nil
	}))
	if updated.Policy != "" || len(updated.Tags) != 2 || updated.Settings.TagMutability != store.TagMutable || updated.Settings.TagMutabilityExclusions != nil {
		t.Fatalf("updated %+v", updated)
	}
	refused := errors.New("refused")
	_, err = s.UpdateRepository(ctx, r.ID, func(r *store.Repository) error {
		r.Policy = "changed"
		return refused
	})
	wantErr(t, "fn error", err, refused)
	if got := must[store.Repository](t)(s.GetRepository(ctx, "111122223333", "team/app")); got.Policy != "" {
		t.Fatalf("a refused update was written: %+v", got)
	}
	_, err = s.UpdateRepository(ctx, 99999, func(*store.Repository) error { return nil })
	wantErr(t, "missing", err, store.ErrRepositoryNotFound)
}

func testRegistryPolicy(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	_, err := s.RegistryPolicy(ctx, "111122223333")
	wantErr(t, "none yet", err, store.ErrPolicyNotFound)
	check(t, s.PutRegistryPolicy(ctx, "111122223333", "one"))
	check(t, s.PutRegistryPolicy(ctx, "111122223333", "two"))
	check(t, s.PutRegistryPolicy(ctx, "444455556666", "other"))
	if p := must[string](t)(s.RegistryPolicy(ctx, "111122223333")); p != "two" {
		t.Fatalf("policy %q", p)
	}
	if p := must[string](t)(s.DeleteRegistryPolicy(ctx, "111122223333")); p != "two" {
		t.Fatalf("deleted %q", p)
	}
	_, err = s.DeleteRegistryPolicy(ctx, "111122223333")
	wantErr(t, "delete twice", err, store.ErrPolicyNotFound)
	if p := must[string](t)(s.RegistryPolicy(ctx, "444455556666")); p != "other" {
		t.Fatalf("other account's policy %q", p)
	}
}

func testImmutableTags(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := must[store.Repository](t)(s.CreateRepositoryWith(ctx, store.Repository{Account: "111122223333", Name: "fixed",
		Settings: store.RepositorySettings{TagMutability: store.TagImmutableWithExclusion, TagMutabilityExclusions: []string{"latest", "dev-*-x"}}}))
	blobs := linkBlobs(t, s, r.ID, "a")
	one, two := image("one", blobs), image("two", blobs)
	for _, tag := range []string{"v1", "latest", "dev-1-x", "dev-1-y"} {
		check(t, s.PutManifest(ctx, r.ID, one, tag))
	}
	check(t, s.PutManifest(ctx, r.ID, one, "v1")) // the same image again moves nothing
	err := s.PutManifest(ctx, r.ID, two, "v1")
	var immutable *store.TagImmutableError
	if !errors.As(err, &immutable) || immutable.Tag != "v1" || !errors.Is(err, store.ErrTagImmutable) {
		t.Fatalf("moving an immutable tag: %v", err)
	}
	wantErr(t, "dev-1-y", s.PutManifest(ctx, r.ID, two, "dev-1-y"), store.ErrTagImmutable)
	check(t, s.PutManifest(ctx, r.ID, two, "latest"))
	check(t, s.PutManifest(ctx, r.ID, two, "dev-1-x"))
	if m := must[store.Manifest](t)(s.ResolveTag(ctx, r.ID, "v1")); m.Digest != one.Digest {
		t.Fatalf("v1 moved to %s", m.Digest)
	}
	must[store.Repository](t)(s.UpdateRepository(ctx, r.ID, func(r *store.Repository) error {
		r.Settings.TagMutability, r.Settings.TagMutabilityExclusions = store.TagMutableWithExclusion, []string{"release-*"}
		return nil
	}))
	check(t, s.PutManifest(ctx, r.ID, two, "v1"))
	check(t, s.PutManifest(ctx, r.ID, one, "release-1"))
	wantErr(t, "release-1", s.PutManifest(ctx, r.ID, two, "release-1"), store.ErrTagImmutable)

	for _, c := range []struct {
		mode, tag string
		filters   []string
		want      bool
	}{
		{store.TagMutable, "x", nil, false}, {"", "x", nil, false}, {store.TagImmutable, "x", nil, true},
		{store.TagImmutableWithExclusion, "latest", []string{"lat*"}, false}, {store.TagImmutableWithExclusion, "v1", []string{"lat*"}, true},
		{store.TagMutableWithExclusion, "prod-7", []string{"*-7"}, true}, {store.TagMutableWithExclusion, "prod-77", []string{"*-7"}, false},
		{store.TagMutableWithExclusion, "a-b-c", []string{"a*b*c"}, true}, {store.TagMutableWithExclusion, "abc", []string{"a*b*c"}, true},
		{store.TagMutableWithExclusion, "ac", []string{"a*b*c"}, false}, {store.TagMutableWithExclusion, "anything", []string{"*"}, true},
	} {
		st := store.RepositorySettings{TagMutability: c.mode, TagMutabilityExclusions: c.filters}
		if got := st.TagImmutable(c.tag); got != c.want {
			t.Errorf("%s %v: TagImmutable(%q) = %v", c.mode, c.filters, c.tag, got)
		}
	}
}

func testImages(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := newRepo(t, s, "imgs")
	blobs := linkBlobs(t, s, r.ID, "config", "l1", "l2") // sizes 100, 101, 102
	a := image("a", blobs)
	b := image("b", blobs[:2])
	check(t, s.PutManifest(ctx, r.ID, a, "v2"))
	check(t, s.PutManifest(ctx, r.ID, a, "v1"))
	check(t, s.PutManifest(ctx, r.ID, b, ""))
	idx := index("idx", a, b)
	check(t, s.PutManifest(ctx, r.ID, idx, "multi"))

	all := must[[]store.Image](t)(s.Images(ctx, r.ID, store.ImageQuery{}))
	if len(all) != 3 {
		t.Fatalf("images %+v", all)
	}
	byDigest := map[digest.Digest]store.Image{}
	for i, img := range all {
		if i > 0 && all[i-1].Digest >= img.Digest {
			t.Fatal("not in digest order")
		}
		byDigest[img.Digest] = img
	}
	if got := byDigest[a.Digest]; got.Size != 203 || !slices.Equal(got.Tags, []string{"v1", "v2"}) || got.PushedAt.IsZero() ||
		got.MediaType != a.MediaType || !got.LastPulledAt.IsZero() {
		t.Fatalf("image a %+v", got)
	}
	if got := byDigest[b.Digest]; got.Size != 101 || got.Tags != nil {
		t.Fatalf("image b %+v", got)
	}
	if got := byDigest[idx.Digest]; got.Size != 203 || !slices.Equal(got.Tags, []string{"multi"}) {
		t.Fatalf("index %+v", got)
	}
	tagged := must[[]store.Image](t)(s.Images(ctx, r.ID, store.ImageQuery{TagStatus: "TAGGED"}))
	untagged := must[[]store.Image](t)(s.Images(ctx, r.ID, store.ImageQuery{TagStatus: "UNTAGGED"}))
	if len(tagged) != 2 || len(untagged) != 1 || untagged[0].Digest != b.Digest {
		t.Fatalf("tagged %+v untagged %+v", tagged, untagged)
	}
	page := must[[]store.Image](t)(s.Images(ctx, r.ID, store.ImageQuery{From: all[1].Digest, Limit: 1}))
	if len(page) != 1 || page[0].Digest != all[1].Digest {
		t.Fatalf("page from %s: %+v", all[1].Digest, page)
	}
	one := must[store.Image](t)(s.Image(ctx, r.ID, a.Digest))
	if one.Size != 203 || len(one.Tags) != 2 {
		t.Fatalf("Image %+v", one)
	}
	_, err := s.Image(ctx, r.ID, digest.FromString("none"))
	wantErr(t, "missing image", err, store.ErrManifestNotFound)
}

func testUploadParts(t *testing.T, open Factory) {
	s := openStore(t, open, time.Hour)
	r := newRepo(t, s, "parts")
	ids := []string{"6f1d2c3b-0000-4000-8000-0000000000a1", "6f1d2c3b-0000-4000-8000-0000000000a2"}
	for _, id := range ids {
		check(t, s.CreateUpload(ctx, store.Upload{ID: id, RepositoryID: r.ID}))
	}
	// Big parts then a small last one: fine.
	for _, size := range []int64{10, 10, 3} {
		check(t, s.NoteUploadPart(ctx, ids[0], size, 5))
	}
	// A small part followed by another: too small.
	for _, size := range []int64{3, 10} {
		check(t, s.NoteUploadPart(ctx, ids[1], size, 5))
	}
	if u := must[store.Upload](t)(s.GetUpload(ctx, ids[0])); u.ShortPart || u.Parts != 3 {
		t.Fatalf("%+v", u)
	}
	if u := must[store.Upload](t)(s.GetUpload(ctx, ids[1])); !u.ShortPart {
		t.Fatalf("%+v", u)
	}
	wantErr(t, "missing upload", s.NoteUploadPart(ctx, "6f1d2c3b-0000-4000-8000-0000000000ff", 1, 5), store.ErrUploadNotFound)
}

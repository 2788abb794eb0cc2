package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
	"pgregory.net/rapid"
)

// model is the reference the property test compares a store with.
type model struct {
	links     map[int64]map[digest.Digest]bool
	manifests map[int64]map[digest.Digest]modelManifest
	tags      map[int64]map[string]digest.Digest
}

type modelManifest struct {
	blobs, children []digest.Digest
	subject         digest.Digest
}

// testModel runs random operations against a store with no review delay, collecting
// garbage now and then, and checks that the collector never deletes what something still
// references and that the store agrees with the model throughout.
func testModel(t *testing.T, open Factory) {
	rapid.Check(t, func(rt *rapid.T) {
		s := open(t, 0)
		defer s.Close()
		var repos []int64
		m := model{links: map[int64]map[digest.Digest]bool{}, manifests: map[int64]map[digest.Digest]modelManifest{}, tags: map[int64]map[string]digest.Digest{}}
		for i := range 2 {
			r, err := s.CreateRepository(ctx, "111122223333", fmt.Sprintf("repo%d", i))
			if err != nil {
				rt.Fatal(err)
			}
			repos = append(repos, r.ID)
			m.links[r.ID] = map[digest.Digest]bool{}
			m.manifests[r.ID] = map[digest.Digest]modelManifest{}
			m.tags[r.ID] = map[string]digest.Digest{}
		}
		blobs := []digest.Digest{blobDigest("0"), blobDigest("1"), blobDigest("2"), blobDigest("3")}
		tags := []string{"", "", "a", "b", "c"}
		repo := rapid.SampledFrom(repos)
		blob := rapid.SampledFrom(blobs)
		// existing picks a manifest digest from the model (or a made-up one).
		existing := func(rt *rapid.T, r int64) digest.Digest {
			ds := slices.Sorted(mapKeys(m.manifests[r]))
			ds = append(ds, image("absent", nil).Digest)
			return rapid.SampledFrom(ds).Draw(rt, "manifest")
		}

		rt.Repeat(map[string]func(*rapid.T){
			"link": func(rt *rapid.T) {
				r, d := repo.Draw(rt, "repo"), blob.Draw(rt, "blob")
				link := s.LinkBlob
				if rapid.Bool().Draw(rt, "uploaded") { // a push's link, which a store may defer
					link = func(ctx context.Context, r int64, d digest.Digest, size int64) error {
						return s.LinkUploadedBlob(ctx, r, d, size, "")
					}
				}
				if err := link(ctx, r, d, 1); err != nil {
					rt.Fatal(err)
				}
				m.links[r][d] = true
			},
			"unlink": func(rt *rapid.T) {
				r, d := repo.Draw(rt, "repo"), blob.Draw(rt, "blob")
				err := s.UnlinkBlob(ctx, r, d)
				listed := false
				for _, mm := range m.manifests[r] {
					listed = listed || slices.Contains(mm.blobs, d)
				}
				switch {
				case !m.links[r][d]:
					if !errors.Is(err, store.ErrBlobNotFound) {
						rt.Fatalf("UnlinkBlob of a blob not linked = %v", err)
					}
				case listed:
					if !errors.Is(err, store.ErrBlobReferenced) {
						rt.Fatalf("UnlinkBlob of a blob a manifest lists = %v", err)
					}
				case err != nil:
					rt.Fatalf("UnlinkBlob = %v", err)
				default:
					delete(m.links[r], d)
				}
			},
			"putImage": func(rt *rapid.T) {
				r := repo.Draw(rt, "repo")
				var descs []store.Descriptor
				var ds []digest.Digest
				for _, d := range rapid.SliceOfNDistinct(blob, 0, 3, func(d digest.Digest) digest.Digest { return d }).Draw(rt, "blobs") {
					descs = append(descs, store.Descriptor{Digest: d})
					ds = append(ds, d)
				}
				mf := image(fmt.Sprint(rapid.IntRange(0, 3).Draw(rt, "label")), descs)
				if rapid.Bool().Draw(rt, "withSubject") {
					mf.Subject = existing(rt, r)
					mf.Payload = append(mf.Payload, []byte(mf.Subject)...)
				}
				mf.Payload = append(mf.Payload, []byte(fmt.Sprint(ds))...)
				mf.Digest = digest.FromBytes(mf.Payload)
				tag := rapid.SampledFrom(tags).Draw(rt, "tag")
				err := s.PutManifest(ctx, r, mf, tag)
				var missing *store.MissingReferenceError
				var want digest.Digest
				for _, d := range ds {
					if !m.links[r][d] {
						want = d
						break
					}
				}
				if want != "" {
					if !errors.As(err, &missing) || missing.Digest != want || missing.Manifest {
						rt.Fatalf("PutManifest = %v, want missing blob %s", err, want)
					}
					return
				}
				if err != nil {
					rt.Fatal(err)
				}
				if _, ok := m.manifests[r][mf.Digest]; !ok {
					m.manifests[r][mf.Digest] = modelManifest{blobs: ds, subject: mf.Subject}
				}
				if tag != "" {
					m.tags[r][tag] = mf.Digest
				}
			},
			"putIndex": func(rt *rapid.T) {
				r := repo.Draw(rt, "repo")
				children := rapid.SliceOfN(rapid.Custom(func(rt *rapid.T) digest.Digest { return existing(rt, r) }), 1, 2).Draw(rt, "children")
				idx := index(fmt.Sprint("idx", children))
				for _, c := range children {
					idx.Manifests = append(idx.Manifests, store.Descriptor{Digest: c})
				}
				tag := rapid.SampledFrom(tags).Draw(rt, "tag")
				err := s.PutManifest(ctx, r, idx, tag)
				for _, c := range children {
					if _, ok := m.manifests[r][c]; !ok {
						var missing *store.MissingReferenceError
						if !errors.As(err, &missing) || missing.Digest != c || !missing.Manifest {
							rt.Fatalf("PutManifest(index) = %v, want missing manifest %s", err, c)
						}
						return
					}
				}
				if err != nil {
					rt.Fatal(err)
				}
				if _, ok := m.manifests[r][idx.Digest]; !ok {
					m.manifests[r][idx.Digest] = modelManifest{children: children}
				}
				if tag != "" {
					m.tags[r][tag] = idx.Digest
				}
			},
			"deleteTag": func(rt *rapid.T) {
				r := repo.Draw(rt, "repo")
				tag := rapid.SampledFrom(tags[2:]).Draw(rt, "tag")
				err := s.DeleteTag(ctx, r, tag)
				if _, ok := m.tags[r][tag]; ok != (err == nil) {
					rt.Fatalf("DeleteTag = %v, model has tag = %v", err, ok)
				}
				delete(m.tags[r], tag)
			},
			"deleteManifest": func(rt *rapid.T) {
				r := repo.Draw(rt, "repo")
				d := existing(rt, r)
				err := s.DeleteManifest(ctx, r, d)
				_, ok := m.manifests[r][d]
				switch {
				case !ok:
					if !errors.Is(err, store.ErrManifestNotFound) {
						rt.Fatalf("DeleteManifest(absent) = %v", err)
					}
				case m.listed(r, d):
					if !errors.Is(err, store.ErrManifestReferenced) {
						rt.Fatalf("DeleteManifest(listed) = %v", err)
					}
				default:
					if err != nil {
						rt.Fatal(err)
					}
					m.dropManifest(r, d)
				}
			},
			"collect": func(rt *rapid.T) {
				items, err := s.TakeGCItems(ctx, 1000, 0)
				if err != nil {
					rt.Fatal(err)
				}
				for _, it := range items {
					deleted, err := s.ConfirmGC(ctx, it)
					if err != nil {
						rt.Fatal(err)
					}
					if !deleted {
						continue
					}
					if it.Manifest {
						if why := m.keeps(it.RepositoryID, it.Digest); why != "" {
							rt.Fatalf("collected manifest %s, which %s", it.Digest, why)
						}
						m.dropManifest(it.RepositoryID, it.Digest)
						continue
					}
					for r, ms := range m.manifests {
						for md, mm := range ms {
							if md == it.Digest || slices.Contains(mm.blobs, it.Digest) {
								rt.Fatalf("collected blob %s, which manifest %s of repository %d uses", it.Digest, md, r)
							}
						}
					}
					for r := range m.links {
						delete(m.links[r], it.Digest)
					}
				}
			},
			"": func(rt *rapid.T) { m.compare(rt, s, repos) },
		})
	})
}

func mapKeys[K comparable, V any](mp map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range mp {
			if !yield(k) {
				return
			}
		}
	}
}

// listed reports whether an index of repository r lists d.
func (m model) listed(r int64, d digest.Digest) bool {
	for _, mm := range m.manifests[r] {
		if slices.Contains(mm.children, d) {
			return true
		}
	}
	return false
}

// keeps says why a manifest must not be collected, or "".
func (m model) keeps(r int64, d digest.Digest) string {
	for tag, td := range m.tags[r] {
		if td == d {
			return "tag " + tag + " points at"
		}
	}
	if m.listed(r, d) {
		return "an index lists"
	}
	mm, ok := m.manifests[r][d]
	if !ok {
		return "does not exist"
	}
	if _, live := m.manifests[r][mm.subject]; mm.subject != "" && live {
		return "has a live subject"
	}
	return ""
}

func (m model) dropManifest(r int64, d digest.Digest) {
	delete(m.manifests[r], d)
	for tag, td := range m.tags[r] {
		if td == d {
			delete(m.tags[r], tag)
		}
	}
}

// compare checks the store against the model.
func (m model) compare(rt *rapid.T, s store.Store, repos []int64) {
	for _, r := range repos {
		names, err := s.ListTags(ctx, r, "", 0)
		if err != nil {
			rt.Fatal(err)
		}
		want := slices.Collect(mapKeys(m.tags[r]))
		sort.Strings(want)
		if !slices.Equal(names, want) {
			rt.Fatalf("repository %d tags = %v, model %v", r, names, want)
		}
		for tag, d := range m.tags[r] {
			got, err := s.ResolveTag(ctx, r, tag)
			if err != nil || got.Digest != d {
				rt.Fatalf("ResolveTag(%s) = %s, %v; model %s", tag, got.Digest, err, d)
			}
		}
		for d := range m.manifests[r] {
			if _, err := s.GetManifest(ctx, r, d); err != nil {
				rt.Fatalf("GetManifest(%s) = %v; the model has it", d, err)
			}
		}
		for d := range m.links[r] {
			if _, err := s.StatBlob(ctx, r, d); err != nil {
				rt.Fatalf("StatBlob(%s) = %v; the model links it", d, err)
			}
		}
	}
}

package registry

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/coffer-registry/coffer/store"
)

// getManifest answers GET and HEAD of /v2/ACCOUNT/NAME/manifests/REF.
func (h *Handler) getManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	repo, err := h.repository(r, rt, false)
	if err != nil {
		return err
	}
	var m store.Manifest
	if rt.digest != "" {
		m, err = h.meta.GetManifest(ctx, repo.ID, rt.digest)
	} else {
		m, err = h.meta.ResolveTag(ctx, repo.ID, rt.tag)
	}
	if errors.Is(err, store.ErrManifestNotFound) || errors.Is(err, store.ErrTagNotFound) {
		return manifestUnknown(rt.reference())
	}
	if err != nil {
		return err
	}

	etag := `"` + m.Digest.String() + `"`
	hdr := w.Header()
	hdr.Set("Docker-Content-Digest", m.Digest.String())
	hdr.Set("ETag", etag)
	hdr.Set("Content-Type", m.MediaType)
	if match := r.Header.Get("If-None-Match"); match != "" && (match == etag || match == "*") {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	hdr.Set("Content-Length", strconv.Itoa(len(m.Payload)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := w.Write(m.Payload); err != nil {
		return nil // the client went away; nothing left to tell it
	}
	if err := h.meta.MarkPulled(detach(ctx), repo.ID, m.Digest, h.now()); err != nil {
		h.log.Warn("registry: recording pull time", "repository", rt.repository(), "digest", m.Digest, "err", err)
	}
	return nil
}

// putManifest answers PUT of /v2/ACCOUNT/NAME/manifests/REF[?tag=T...].
func (h *Handler) putManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	if r.ContentLength > h.maxManifest {
		return manifestTooBig(h.maxManifest)
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, h.maxManifest+1))
	if err != nil {
		return newError(CodeManifestInvalid, http.StatusBadRequest, "reading manifest: %v", err)
	}
	if int64(len(payload)) > h.maxManifest {
		return manifestTooBig(h.maxManifest)
	}
	if len(payload) == 0 {
		return manifestInvalid("empty manifest")
	}

	m, perr := parseManifest(payload, r.Header.Get("Content-Type"))
	if perr != nil {
		return perr
	}
	m.Digest = digestOf(payload, rt.digest)
	if rt.digest != "" && m.Digest != rt.digest {
		return newError(CodeDigestInvalid, http.StatusBadRequest,
			"manifest digest %s does not match the reference %s", m.Digest, rt.digest).
			withDetail(map[string]string{"digest": rt.digest.String(), "computed": m.Digest.String()})
	}
	tags, terr := manifestTags(rt, r.URL.Query()["tag"])
	if terr != nil {
		return terr
	}

	repo, err := h.repository(r, rt, true)
	if err != nil {
		return err
	}
	// A non-distributable layer is referenced (and kept from garbage collection) only if
	// the repository happens to hold it; otherwise clients fetch it from its URLs.
	for _, d := range m.Foreign {
		if _, err := h.meta.StatBlob(ctx, repo.ID, d.Digest); err == nil {
			m.Blobs = append(m.Blobs, d)
		} else if !errors.Is(err, store.ErrBlobNotFound) {
			return err
		}
	}
	m.PushedAt = h.now()

	first := ""
	if len(tags) > 0 {
		first = tags[0]
	}
	if err := h.meta.PutManifest(ctx, repo.ID, m.Manifest, first); err != nil {
		return manifestStoreError(err, repo.Name)
	}
	for _, tag := range tags[min(1, len(tags)):] {
		if err := h.meta.PutManifest(ctx, repo.ID, m.Manifest, tag); err != nil {
			return manifestStoreError(err, repo.Name)
		}
	}

	hdr := w.Header()
	hdr.Set("Location", "/v2/"+rt.repository()+"/manifests/"+m.Digest.String())
	hdr.Set("Docker-Content-Digest", m.Digest.String())
	if m.Subject != "" {
		hdr.Set("OCI-Subject", m.Subject.String())
	}
	if rt.digest != "" {
		for _, tag := range tags {
			hdr.Add("OCI-Tag", tag)
		}
	}
	noBody(w, http.StatusCreated)
	return nil
}

// manifestTags is the tags a PUT points at the manifest: the reference when it is a tag,
// and the ?tag= parameters of a push by digest (OCI distribution-spec 1.1 dev).
func manifestTags(rt route, params []string) ([]string, *Error) {
	var tags []string
	if rt.tag != "" {
		tags = append(tags, rt.tag)
	}
	if len(params) > 0 && rt.digest == "" {
		return nil, manifestInvalid("tag parameters are only allowed when pushing by digest")
	}
	for _, t := range params {
		if !validTag(t) {
			return nil, manifestInvalid("invalid tag %q", t)
		}
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags, nil
}

func manifestStoreError(err error, repository string) error {
	var immutable *store.TagImmutableError
	if errors.As(err, &immutable) {
		return newError(CodeTagInvalid, http.StatusBadRequest,
			"The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the tag is immutable.", immutable.Tag, repository)
	}
	var missing *store.MissingReferenceError
	if errors.As(err, &missing) {
		detail := map[string]string{"digest": missing.Digest.String()}
		if missing.Manifest {
			return newError(CodeManifestUnknown, http.StatusBadRequest,
				"manifest references manifest %s, which the repository does not hold", missing.Digest).withDetail(detail)
		}
		return newError(CodeManifestBlobUnknown, http.StatusBadRequest,
			"manifest references blob %s, which the repository does not hold", missing.Digest).withDetail(detail)
	}
	return err
}

// deleteManifest answers DELETE of /v2/ACCOUNT/NAME/manifests/REF: by digest it deletes
// the manifest and its tags, by tag only the tag.
func (h *Handler) deleteManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	repo, err := h.repository(r, rt, false)
	if err != nil {
		return err
	}
	if rt.digest != "" {
		err = h.meta.DeleteManifest(ctx, repo.ID, rt.digest)
	} else {
		err = h.meta.DeleteTag(ctx, repo.ID, rt.tag)
	}
	switch {
	case errors.Is(err, store.ErrManifestNotFound), errors.Is(err, store.ErrTagNotFound):
		return manifestUnknown(rt.reference())
	case errors.Is(err, store.ErrManifestReferenced):
		return newError(CodeDenied, http.StatusConflict,
			"manifest %s is referenced by an index in this repository; delete the index first", rt.digest)
	case err != nil:
		return err
	}
	noBody(w, http.StatusAccepted)
	return nil
}

func manifestUnknown(ref string) *Error {
	return newError(CodeManifestUnknown, http.StatusNotFound, "manifest %s unknown to the repository", ref).
		withDetail(map[string]string{"reference": ref})
}

func manifestTooBig(limit int64) *Error {
	return newError(CodeManifestInvalid, http.StatusRequestEntityTooLarge, "manifest exceeds the %d-byte limit", limit)
}

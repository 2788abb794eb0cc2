package registry

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/coffer-registry/coffer/blob"
	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
)

// getBlob answers GET (with Range) and HEAD of /v2/ACCOUNT/NAME/blobs/DIGEST. A blob is
// served only through the repository's link to it.
func (h *Handler) getBlob(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	repo, err := h.repository(r, rt, false)
	if err != nil {
		return err
	}
	size, err := h.meta.StatBlob(ctx, repo.ID, rt.digest)
	if errors.Is(err, store.ErrBlobNotFound) {
		return blobUnknown(rt.digest)
	}
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("Docker-Content-Digest", rt.digest.String())
	hdr.Set("ETag", `"`+rt.digest.String()+`"`)
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("Accept-Ranges", "bytes")
	if r.Method == http.MethodHead {
		hdr.Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}

	content, err := h.blobs.Open(ctx, rt.digest)
	if errors.Is(err, blob.ErrNotFound) {
		h.log.Error("registry: linked blob missing from the blob store", "repository", rt.repository(), "digest", rt.digest)
		return blobUnknown(rt.digest)
	}
	if err != nil {
		return err
	}
	defer content.Close()
	// ServeContent answers Range requests (206, 416) and If-None-Match against the ETag,
	// and hands the file to sendfile.
	http.ServeContent(&rangeErrorWriter{ResponseWriter: w, size: size}, r, "", time.Time{}, content)
	return nil
}

// rangeErrorWriter turns ServeContent's plain-text 416 into the spec's JSON error form and
// passes everything else through (ReadFrom included, so sendfile still applies).
type rangeErrorWriter struct {
	http.ResponseWriter
	size   int64
	failed bool
}

func (w *rangeErrorWriter) WriteHeader(status int) {
	if status != http.StatusRequestedRangeNotSatisfiable {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.failed = true
	w.Header().Del("X-Content-Type-Options")
	writeError(w.ResponseWriter, newError(CodeSizeInvalid, status,
		"requested range not satisfiable: the blob has %d bytes", w.size))
}

func (w *rangeErrorWriter) Write(p []byte) (int, error) {
	if w.failed {
		return len(p), nil // ServeContent's own message; the JSON error is already sent
	}
	return w.ResponseWriter.Write(p)
}

func (w *rangeErrorWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.failed {
		return io.Copy(io.Discard, r)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(w.ResponseWriter, r)
}

func (w *rangeErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// deleteBlob answers DELETE of /v2/ACCOUNT/NAME/blobs/DIGEST: the repository's link goes;
// the bytes stay until garbage collection finds them unreferenced.
func (h *Handler) deleteBlob(w http.ResponseWriter, r *http.Request, rt route) error {
	repo, err := h.repository(r, rt, false)
	if err != nil {
		return err
	}
	err = h.meta.UnlinkBlob(r.Context(), repo.ID, rt.digest)
	switch {
	case errors.Is(err, store.ErrBlobNotFound):
		return blobUnknown(rt.digest)
	case errors.Is(err, store.ErrBlobReferenced):
		// Unlinking it would leave the manifest's pulls failing on a missing blob.
		return newError(CodeDenied, http.StatusConflict,
			"blob %s is listed by a manifest in this repository; delete the manifest first", rt.digest).
			withDetail(map[string]string{"digest": rt.digest.String()})
	case err != nil:
		return err
	}
	noBody(w, http.StatusAccepted)
	return nil
}

func blobUnknown(d digest.Digest) *Error {
	return newError(CodeBlobUnknown, http.StatusNotFound, "blob %s unknown to the repository", d).
		withDetail(map[string]string{"digest": d.String()})
}

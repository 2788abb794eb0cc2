package registry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-registry/coffer/blob"
	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
)

// orphanReviewDelay: bytes that were published but could not be linked (the repository was
// deleted meanwhile, the metadata store failed) are queued for a garbage-collection review
// this long after. Bytes left unlinked by a crash between publication and link are found by
// the collector's sweep of the blob store instead: queueing every upload before its commit
// cost a metadata write per blob on the push path.
const orphanReviewDelay = time.Hour

// maxAnonymousMountScan bounds how many repositories of the account an anonymous mount
// looks through for a readable copy of the blob when an Authorize hook is set.
const maxAnonymousMountScan = 1000

// Upload sessions
//
//	POST   .../blobs/uploads/                 start a session            202 Location, Range 0-0
//	POST   .../blobs/uploads/?digest=D        whole blob in one request  201 Location of the blob
//	POST   .../blobs/uploads/?mount=D&from=R  link R's blob              201, or 202 + a session
//	PATCH  .../blobs/uploads/ID               append (Content-Range)     202 Range 0-LAST, or 416
//	GET    .../blobs/uploads/ID               progress                   204 Range 0-LAST
//	PUT    .../blobs/uploads/ID?digest=D      last bytes + commit        201, DIGEST_INVALID
//	DELETE .../blobs/uploads/ID               cancel                     204
//
// A session is its bytes in the blob store, bound to the repository's id (store.UploadOwner): it
// survives restarts and is reachable only through that repository, and starting one writes
// nothing to the metadata store (that write was about a tenth of a small push's server CPU in
// a profile, and a second turn in the metadata store's single writer). Sessions that the ECR API started (InitiateLayerUpload), or an earlier version of
// Coffer, are recorded in the metadata store with their repository and continue here too.
// Bytes become visible only by Commit after the digest matched, then LinkBlob makes them
// part of the repository.

// startUpload answers POST of /v2/ACCOUNT/NAME/blobs/uploads/.
func (h *Handler) startUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	query := r.URL.Query()
	var mount, whole digest.Digest
	if s := query.Get("mount"); s != "" {
		d, ok := parseDigest(s)
		if !ok {
			return digestInvalid("invalid mount digest %q", s)
		}
		mount = d
	} else if s := query.Get("digest"); s != "" {
		d, ok := parseDigest(s)
		if !ok {
			return digestInvalid("invalid digest %q", s)
		}
		whole = d
	}

	repo, err := h.repository(r, rt, true)
	if err != nil {
		return err
	}
	if mount != "" {
		mounted, err := h.mount(r, rt, repo, mount, query.Get("from"))
		if err != nil {
			return err
		}
		if mounted {
			blobCreated(w, rt, mount)
			return nil
		}
	}
	if whole != "" {
		return h.uploadWhole(w, r, rt, repo, whole)
	}

	up, err := h.blobs.StartUpload(r.Context(), store.UploadOwner(repo.ID))
	if err != nil {
		return err
	}
	id := up.ID()
	if err := up.Close(); err != nil {
		return err
	}
	uploadAccepted(w, rt, id, 0, http.StatusAccepted)
	return nil
}

// mount links blob d into repo when the caller may read it somewhere else: in the from
// repository (ACCOUNT/NAME) when given, otherwise (anonymous mount) in any repository of the
// same account. It reports false, for an ordinary upload instead, when that is not so.
func (h *Handler) mount(r *http.Request, rt route, repo store.Repository, d digest.Digest, from string) (bool, error) {
	ctx := r.Context()
	var (
		size  int64
		found bool
		err   error
	)
	if from != "" {
		size, found, err = h.mountSource(r, from, d)
	} else {
		size, found, err = h.anonymousMountSource(r, rt.account, d)
	}
	if err != nil || !found {
		return false, err
	}
	// The bytes must really be there: a link to missing bytes would break pulls.
	if _, err := h.blobs.Stat(ctx, d); errors.Is(err, blob.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if err := h.meta.LinkBlob(ctx, repo.ID, d, size); err != nil {
		return false, err
	}
	return true, nil
}

func (h *Handler) mountSource(r *http.Request, from string, d digest.Digest) (int64, bool, error) {
	account, name, ok := strings.Cut(from, "/")
	if !ok || !validAccount(account) || !validRepositoryName(name) {
		return 0, false, nil
	}
	ctx := r.Context()
	src, err := h.meta.GetRepository(ctx, account, name)
	if errors.Is(err, store.ErrRepositoryNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if err := h.allowed(r, h.accessTo(account, name, &src, mountSourceAction)); err != nil {
		h.log.Debug("registry: mount source not readable, uploading instead", "from", from, "err", err)
		return 0, false, nil
	}
	size, err := h.meta.StatBlob(ctx, src.ID, d)
	if errors.Is(err, store.ErrBlobNotFound) {
		return 0, false, nil
	}
	return size, err == nil, err
}

// anonymousMountSource finds blob d for a mount without from. Without an Authorize hook
// every caller may read everything, so the blob store is asked directly; with a hook, only a
// repository of the same account that holds the blob and that the caller may read counts.
func (h *Handler) anonymousMountSource(r *http.Request, account string, d digest.Digest) (int64, bool, error) {
	ctx := r.Context()
	if h.authorize == nil {
		size, err := h.blobs.Stat(ctx, d)
		if errors.Is(err, blob.ErrNotFound) {
			return 0, false, nil
		}
		return size, err == nil, err
	}
	afterName := ""
	for scanned := 0; scanned < maxAnonymousMountScan; {
		repos, err := h.meta.ListRepositories(ctx, account, afterName, 100)
		if err != nil {
			return 0, false, err
		}
		for _, repo := range repos {
			if repo.Account != account {
				return 0, false, nil
			}
			scanned++
			afterName = repo.Name
			size, err := h.meta.StatBlob(ctx, repo.ID, d)
			if errors.Is(err, store.ErrBlobNotFound) {
				continue
			}
			if err != nil {
				return 0, false, err
			}
			if h.allowed(r, h.accessTo(account, repo.Name, &repo, mountSourceAction)) == nil {
				return size, true, nil
			}
		}
		if len(repos) < 100 {
			break
		}
	}
	return 0, false, nil
}

// uploadWhole answers POST .../blobs/uploads/?digest=D: the body is the whole blob.
func (h *Handler) uploadWhole(w http.ResponseWriter, r *http.Request, rt route, repo store.Repository, d digest.Digest) error {
	ctx := r.Context()
	up, err := h.blobs.StartUpload(ctx, "")
	if err != nil {
		return err
	}
	if err := appendBody(r, up); err != nil {
		_ = up.Cancel(detach(ctx))
		return err
	}
	if err := h.commit(ctx, repo, up, d, ""); err != nil {
		if !isDigestError(err) {
			_ = up.Cancel(detach(ctx))
		}
		return err
	}
	blobCreated(w, rt, d)
	return nil
}

// openedUpload is an upload session opened for a request.
type openedUpload struct {
	repo store.Repository
	up   blob.Upload
	// session is the id of the session's record in the metadata store, for a session the
	// ECR API (or an earlier version) started; "" for the registry's own.
	session string
	unlock  func()
}

// openUpload finds the route's upload session, checks that it belongs to the route's
// repository and locks it. The caller must call unlock, and Close (or Commit, or Cancel)
// the upload.
func (h *Handler) openUpload(r *http.Request, rt route) (openedUpload, error) {
	ctx := r.Context()
	repo, err := h.repository(r, rt, false)
	if err != nil {
		return openedUpload{}, err
	}
	unlock := h.uploads.lock(rt.upload)
	up, err := h.blobs.ResumeUpload(ctx, rt.upload, store.UploadOwner(repo.ID))
	if err == nil {
		return openedUpload{repo: repo, up: up, unlock: unlock}, nil
	}
	unlock()
	if !errors.Is(err, blob.ErrUploadUnknown) {
		return openedUpload{}, err
	}
	return h.openRecordedUpload(r, rt, repo)
}

// openRecordedUpload opens a session recorded in the metadata store.
func (h *Handler) openRecordedUpload(r *http.Request, rt route, repo store.Repository) (openedUpload, error) {
	ctx := r.Context()
	session, err := h.meta.GetUpload(ctx, rt.upload)
	if errors.Is(err, store.ErrUploadNotFound) || (err == nil && session.RepositoryID != repo.ID) {
		return openedUpload{}, uploadUnknown(rt.upload)
	}
	if err != nil {
		return openedUpload{}, err
	}
	unlock := h.uploads.lock(rt.upload)
	up, err := h.blobs.ResumeUpload(ctx, rt.upload, "")
	if errors.Is(err, blob.ErrUploadUnknown) {
		// The session outlived its bytes (cancelled or committed concurrently, or expired).
		_ = h.meta.DeleteUpload(detach(ctx), rt.upload)
		unlock()
		return openedUpload{}, uploadUnknown(rt.upload)
	}
	if err != nil {
		unlock()
		return openedUpload{}, err
	}
	return openedUpload{repo: repo, up: up, session: rt.upload, unlock: unlock}, nil
}

// uploadStatus answers GET of an upload: how many bytes arrived.
func (h *Handler) uploadStatus(w http.ResponseWriter, r *http.Request, rt route) error {
	o, err := h.openUpload(r, rt)
	if err != nil {
		return err
	}
	defer o.unlock()
	size := o.up.Size()
	if err := o.up.Close(); err != nil {
		return err
	}
	uploadAccepted(w, rt, rt.upload, size, http.StatusNoContent)
	return nil
}

// patchUpload answers PATCH of an upload: append one chunk (Content-Range) or a stream.
func (h *Handler) patchUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	o, err := h.openUpload(r, rt)
	if err != nil {
		return err
	}
	defer o.unlock()
	err = h.appendChunk(r, rt, o.up)
	size := o.up.Size()
	if cerr := o.up.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	uploadAccepted(w, rt, rt.upload, size, http.StatusAccepted)
	return nil
}

// completeUpload answers PUT of an upload: append the body, if any, and commit under ?digest.
func (h *Handler) completeUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	s := r.URL.Query().Get("digest")
	d, ok := parseDigest(s)
	if !ok {
		return digestInvalid("the digest parameter is missing or invalid: %q", s)
	}
	o, err := h.openUpload(r, rt)
	if err != nil {
		return err
	}
	defer o.unlock()
	if err := h.appendChunk(r, rt, o.up); err != nil {
		_ = o.up.Close()
		return err
	}
	ctx := r.Context()
	if err := h.commit(ctx, o.repo, o.up, d, o.session); err != nil {
		if !isDigestError(err) {
			_ = o.up.Close()
		} else if o.session != "" { // Commit discarded the bytes: the session is over
			_ = h.meta.DeleteUpload(detach(ctx), o.session)
		}
		return err
	}
	blobCreated(w, rt, d)
	return nil
}

// cancelUpload answers DELETE of an upload.
func (h *Handler) cancelUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	o, err := h.openUpload(r, rt)
	if err != nil {
		return err
	}
	defer o.unlock()
	ctx := detach(r.Context())
	if err := o.up.Cancel(ctx); err != nil && !errors.Is(err, blob.ErrUploadUnknown) {
		return err
	}
	if o.session == "" {
		noBody(w, http.StatusNoContent)
		return nil
	}
	if err := h.meta.DeleteUpload(ctx, o.session); err != nil && !errors.Is(err, store.ErrUploadNotFound) {
		return err
	}
	noBody(w, http.StatusNoContent)
	return nil
}

// commit publishes the upload under d, links it to the repository and ends the upload
// session (when not empty) in the same metadata transaction. Once the bytes are complete it
// runs to the end even if the client goes away.
func (h *Handler) commit(ctx context.Context, repo store.Repository, up blob.Upload, d digest.Digest, session string) error {
	ctx = detach(ctx)
	size, err := up.Commit(ctx, d)
	switch {
	case errors.Is(err, blob.ErrDigestMismatch):
		return digestInvalid("the uploaded content does not match digest %s", d).
			withDetail(map[string]string{"digest": d.String()})
	case errors.Is(err, blob.ErrUnsupported):
		return digestInvalid("digest algorithm %s is not supported", d.Algorithm())
	case err != nil:
		return err
	}
	if err := h.meta.LinkUploadedBlob(ctx, repo.ID, d, size, session); err != nil {
		if qerr := h.meta.QueueBlobForReview(ctx, d, orphanReviewDelay); qerr != nil {
			h.log.Warn("registry: unlinked blob not queued for review; the collector's sweep will find it", "digest", d, "err", qerr)
		}
		return err
	}
	return nil
}

func isDigestError(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == CodeDigestInvalid
}

// appendChunk appends the request body to the upload. With Content-Range the chunk must
// start where the upload ends (else 416) and have the length the range says.
func (h *Handler) appendChunk(r *http.Request, rt route, up blob.Upload) error {
	header := r.Header.Get("Content-Range")
	if header == "" {
		return appendBody(r, up)
	}
	first, last, ok := parseContentRange(header)
	if !ok {
		return newError(CodeBlobUploadInvalid, http.StatusBadRequest, "malformed Content-Range %q (want FIRST-LAST)", header)
	}
	size := up.Size()
	if first != size || last < first {
		e := newError(CodeBlobUploadInvalid, http.StatusRequestedRangeNotSatisfiable,
			"Content-Range %q does not continue the upload, which holds %d bytes", header, size)
		e.Header = http.Header{}
		setUploadHeaders(e.Header, rt, rt.upload, size)
		return e
	}
	want := last - first + 1
	if r.ContentLength >= 0 && r.ContentLength != want {
		return newError(CodeSizeInvalid, http.StatusBadRequest,
			"Content-Length %d does not match Content-Range %q", r.ContentLength, header)
	}
	body := &bodyReader{r: io.LimitReader(r.Body, want)}
	n, err := up.ReadFrom(body)
	if body.err != nil {
		return interrupted(n, body.err)
	}
	if err != nil {
		return err
	}
	if n != want {
		return newError(CodeSizeInvalid, http.StatusBadRequest, "chunk has %d bytes, Content-Range %q says %d", n, header, want)
	}
	return nil
}

// appendBody streams the whole request body into the upload.
func appendBody(r *http.Request, up blob.Upload) error {
	body := &bodyReader{r: r.Body}
	n, err := up.ReadFrom(body)
	if body.err != nil {
		return interrupted(n, body.err)
	}
	if err != nil {
		return err
	}
	if r.ContentLength >= 0 && n != r.ContentLength {
		return newError(CodeSizeInvalid, http.StatusBadRequest, "body has %d bytes, Content-Length says %d", n, r.ContentLength)
	}
	return nil
}

// bodyReader remembers why reading the request body failed, to tell a client that went
// away (its fault, 400) from a failing store (ours, 500).
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func interrupted(n int64, err error) *Error {
	return newError(CodeBlobUploadInvalid, http.StatusBadRequest, "request body ended after %d bytes: %v", n, err)
}

// parseContentRange reads "FIRST-LAST" (also with a "bytes " or "bytes=" prefix).
func parseContentRange(s string) (first, last int64, ok bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "bytes="), "bytes ")
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < 0 {
		return 0, 0, false
	}
	return first, last, true
}

func uploadLocation(rt route, id string) string {
	return "/v2/" + rt.repository() + "/blobs/uploads/" + id
}

// setUploadHeaders sets what tells a client where an upload stands.
func setUploadHeaders(hdr http.Header, rt route, id string, size int64) {
	hdr.Set("Location", uploadLocation(rt, id))
	hdr.Set("Docker-Upload-UUID", id)
	// Range is inclusive; an empty upload is reported as 0-0 like other registries do.
	hdr.Set("Range", "0-"+strconv.FormatInt(max(size-1, 0), 10))
}

func uploadAccepted(w http.ResponseWriter, rt route, id string, size int64, status int) {
	setUploadHeaders(w.Header(), rt, id, size)
	noBody(w, status)
}

func blobCreated(w http.ResponseWriter, rt route, d digest.Digest) {
	w.Header().Set("Location", "/v2/"+rt.repository()+"/blobs/"+d.String())
	w.Header().Set("Docker-Content-Digest", d.String())
	noBody(w, http.StatusCreated)
}

func uploadUnknown(id string) *Error {
	return newError(CodeBlobUploadUnknown, http.StatusNotFound, "upload %s unknown to the repository", id)
}

func digestInvalid(format string, args ...any) *Error {
	return newError(CodeDigestInvalid, http.StatusBadRequest, format, args...)
}

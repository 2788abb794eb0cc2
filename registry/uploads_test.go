package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBlobPostPut(t *testing.T) {
	tr := newTestRegistry(t, nil)
	content := randomBytes(t, 5000)
	d := digest.FromBytes(content)
	r := tr.do("POST", testRepo+"/blobs/uploads/", nil).expect(t, http.StatusAccepted)
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, testRepo+"/blobs/uploads/") || r.Header.Get("Docker-Upload-UUID") == "" || r.Header.Get("Range") != "0-0" {
		t.Fatalf("POST headers: %v", r.Header)
	}
	if tr.uploadsInProgress() != 1 {
		t.Fatal("upload session not recorded")
	}
	r = tr.do("PUT", loc+"?digest="+d.String(), content).expect(t, http.StatusCreated)
	if r.Header.Get("Location") != testRepo+"/blobs/"+d.String() || r.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("PUT headers: %v", r.Header)
	}
	if tr.uploadsInProgress() != 0 {
		t.Error("session left after commit")
	}
	g := tr.do("GET", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusOK)
	if !bytes.Equal(g.body, content) || g.Header.Get("Docker-Content-Digest") != d.String() {
		t.Error("GET returned other bytes")
	}
	h := tr.do("HEAD", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusOK)
	if h.ContentLength != 5000 || len(h.body) != 0 || h.Header.Get("Docker-Content-Digest") != d.String() {
		t.Errorf("HEAD: length %d, digest %q", h.ContentLength, h.Header.Get("Docker-Content-Digest"))
	}
	// The session is gone once committed.
	tr.do("GET", loc, nil).expectError(t, http.StatusNotFound, CodeBlobUploadUnknown)
}

func TestBlobSinglePost(t *testing.T) {
	tr := newTestRegistry(t, nil)
	content := randomBytes(t, 3000)
	d := digest.FromBytes(content)
	r := tr.do("POST", testRepo+"/blobs/uploads/?digest="+d.String(), content, "Content-Type", "application/octet-stream").
		expect(t, http.StatusCreated)
	if r.Header.Get("Location") != testRepo+"/blobs/"+d.String() {
		t.Errorf("Location %q", r.Header.Get("Location"))
	}
	tr.do("HEAD", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusOK)
	// The empty blob.
	e := digest.FromBytes(nil)
	tr.do("POST", testRepo+"/blobs/uploads/?digest="+e.String(), []byte{}).expect(t, http.StatusCreated)
	h := tr.do("HEAD", testRepo+"/blobs/"+e.String(), nil).expect(t, http.StatusOK)
	if h.ContentLength != 0 {
		t.Errorf("empty blob length %d", h.ContentLength)
	}
	// sha512.
	d512 := digest.SHA512.FromBytes(content)
	tr.do("POST", testRepo+"/blobs/uploads/?digest="+d512.String(), content).expect(t, http.StatusCreated)
	g := tr.do("GET", testRepo+"/blobs/"+d512.String(), nil).expect(t, http.StatusOK)
	if !bytes.Equal(g.body, content) || g.Header.Get("Docker-Content-Digest") != d512.String() {
		t.Error("sha512 blob")
	}
}

// DIGEST_INVALID leaves nothing visible, for every way of uploading.
func TestBlobDigestMismatch(t *testing.T) {
	tr := newTestRegistry(t, nil)
	content := randomBytes(t, 2000)
	claimed := digest.FromString("not the content")

	tr.do("POST", testRepo+"/blobs/uploads/?digest="+claimed.String(), content).expectError(t, http.StatusBadRequest, CodeDigestInvalid)

	loc := tr.do("POST", testRepo+"/blobs/uploads/", nil).expect(t, http.StatusAccepted).Header.Get("Location")
	tr.do("PUT", loc+"?digest="+claimed.String(), content).expectError(t, http.StatusBadRequest, CodeDigestInvalid)
	tr.do("GET", loc, nil).expectError(t, http.StatusNotFound, CodeBlobUploadUnknown)

	loc = tr.do("POST", testRepo+"/blobs/uploads/", nil).expect(t, http.StatusAccepted).Header.Get("Location")
	loc = tr.do("PATCH", loc, content, "Content-Range", "0-1999").expect(t, http.StatusAccepted).Header.Get("Location")
	tr.do("PUT", loc+"?digest="+claimed.String(), nil).expectError(t, http.StatusBadRequest, CodeDigestInvalid)

	tr.do("HEAD", testRepo+"/blobs/"+claimed.String(), nil).expect(t, http.StatusNotFound)
	if tr.visible(claimed) || tr.visible(digest.FromBytes(content)) {
		t.Error("mismatched content became visible")
	}
	if tr.uploadsInProgress() != 0 {
		t.Error("sessions left behind")
	}
	// A missing or malformed digest parameter.
	loc = tr.do("POST", testRepo+"/blobs/uploads/", nil).expect(t, http.StatusAccepted).Header.Get("Location")
	tr.do("PUT", loc, content).expectError(t, http.StatusBadRequest, CodeDigestInvalid)
	tr.do("PUT", loc+"?digest=sha256:xyz", content).expectError(t, http.StatusBadRequest, CodeDigestInvalid)
	tr.do("POST", testRepo+"/blobs/uploads/?digest=nope", content).expectError(t, http.StatusBadRequest, CodeDigestInvalid)
}

func TestChunkedUpload(t *testing.T) {
	tr := newTestRegistry(t, nil)
	content := randomBytes(t, 3000)
	d := digest.FromBytes(content)
	loc := tr.do("POST", testRepo+"/blobs/uploads/", nil).expect(t, http.StatusAccepted).Header.Get("Location")

	r := tr.do("PATCH", loc, content[:1000], "Content-Range", "0-999", "Content-Type", "application/octet-stream").expect(t, http.StatusAccepted)
	if r.Header.Get("Range") != "0-999" {
		t.Errorf("Range after first chunk %q", r.Header.Get("Range"))
	}
	loc = r.Header.Get("Location")

	// Out of order: skipping ahead, going back, and a malformed range. Nothing is appended.
	tr.do("PATCH", loc, content[2000:], "Content-Range", "2000-2999").expectError(t, http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid)
	bad := tr.do("PATCH", loc, content[:1000], "Content-Range", "0-999").expectError(t, http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid)
	if bad.Header.Get("Range") != "0-999" || bad.Header.Get("Location") == "" {
		t.Errorf("416 headers: %v", bad.Header)
	}
	tr.do("PATCH", loc, content[1000:2000], "Content-Range", "one-two").expectError(t, http.StatusBadRequest, CodeBlobUploadInvalid)
	tr.do("PUT", loc+"?digest="+d.String(), content[2000:], "Content-Range", "2000-2999").expectError(t, http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid)

	// The status tells where to continue.
	s := tr.do("GET", loc, nil).expect(t, http.StatusNoContent)
	if s.Header.Get("Range") != "0-999" || s.Header.Get("Docker-Upload-UUID") == "" {
		t.Fatalf("status headers %v", s.Header)
	}
	loc = tr.do("PATCH", loc, content[1000:2000], "Content-Range", "1000-1999").expect(t, http.StatusAccepted).Header.Get("Location")
	// The last chunk comes with the PUT.
	tr.do("PUT", loc+"?digest="+d.String(), content[2000:], "Content-Range", "2000-2999").expect(t, http.StatusCreated)
	g := tr.do("GET", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusOK)
	if !bytes.Equal(g.body, content) {
		t.Error("chunked content differs")
	}
}

func TestStreamedUpload(t *testing.T) {
	tr := newTestRegistry(t, nil)
	content := randomBytes(t, 4096)
	d := digest.FromBytes(content)
	loc := tr.do("POST", testRepo+"/blobs/uploads/", nil).expect(t, http.StatusAccepted).Header.Get("Location")
	// A body without Content-Length (chunked transfer encoding) and without Content-Range.
	req, _ := http.NewRequest("PATCH", tr.srv.URL+loc, io.MultiReader(bytes.NewReader(content[:100]), bytes.NewReader(content[100:])))
	resp, err := tr.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != "0-4095" {
		t.Fatalf("stream PATCH: %d %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	tr.do("PUT", resp.Header.Get("Location")+"?digest="+d.String(), nil).expect(t, http.StatusCreated)
	tr.do("HEAD", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusOK)
}

func TestUploadCancel(t *testing.T) {
	tr := newTestRegistry(t, nil)
	content := randomBytes(t, 100)
	loc := tr.do("POST", testRepo+"/blobs/uploads/", nil).expect(t, http.StatusAccepted).Header.Get("Location")
	loc = tr.do("PATCH", loc, content).expect(t, http.StatusAccepted).Header.Get("Location")
	tr.do("DELETE", loc, nil).expect(t, http.StatusNoContent)
	tr.do("GET", loc, nil).expectError(t, http.StatusNotFound, CodeBlobUploadUnknown)
	tr.do("PATCH", loc, content).expectError(t, http.StatusNotFound, CodeBlobUploadUnknown)
	tr.do("PUT", loc+"?digest="+digest.FromBytes(content).String(), nil).expectError(t, http.StatusNotFound, CodeBlobUploadUnknown)
	tr.do("DELETE", loc, nil).expectError(t, http.StatusNotFound, CodeBlobUploadUnknown)
	if tr.visible(digest.FromBytes(content)) || tr.uploadsInProgress() != 0 {
		t.Error("cancelled upload left something")
	}
}

// An upload session is reachable only through the repository it was started in.
func TestUploadBoundToRepository(t *testing.T) {
	tr := newTestRegistry(t, nil)
	if _, err := tr.meta.CreateRepository(context.Background(), testAccount, "team/other"); err != nil {
		t.Fatal(err)
	}
	loc := tr.do("POST", testRepo+"/blobs/uploads/", nil).expect(t, http.StatusAccepted).Header.Get("Location")
	id := loc[strings.LastIndex(loc, "/")+1:]
	other := "/v2/111122223333/team/other/blobs/uploads/" + id
	content := []byte("hijack")
	tr.do("GET", other, nil).expectError(t, http.StatusNotFound, CodeBlobUploadUnknown)
	tr.do("PATCH", other, content).expectError(t, http.StatusNotFound, CodeBlobUploadUnknown)
	tr.do("PUT", other+"?digest="+digest.FromBytes(content).String(), content).expectError(t, http.StatusNotFound, CodeBlobUploadUnknown)
	tr.do("DELETE", other, nil).expectError(t, http.StatusNotFound, CodeBlobUploadUnknown)
	// Still usable where it belongs.
	tr.do("GET", loc, nil).expect(t, http.StatusNoContent)
	tr.do("GET", testRepo+"/blobs/uploads/not-an-upload", nil).expectError(t, http.StatusNotFound, CodeBlobUploadUnknown)
}

// sendCut writes a request whose body stops after part of the announced Content-Length, as a
// client that dies mid-upload, and returns once the server has closed the connection (its
// handler has returned): the tests that follow see what the handler left.
func sendCut(t *testing.T, tr *testRegistry, method, path string, announced int, sent []byte, headers ...string) {
	t.Helper()
	conn, err := net.Dial("tcp", tr.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n",
		method, path, tr.srv.Listener.Addr(), announced)
	for i := 0; i+1 < len(headers); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", headers[i], headers[i+1])
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(sent); err != nil {
		t.Fatal(err)
	}
	// The client stops sending; what the server answers, if anything, is read until it closes
	// the connection, which it does once the handler has returned.
	conn.(*net.TCPConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, conn)
	conn.Close()
}

// waitForRange polls the upload status until the server has taken in want bytes; the
// handler of the cut request finishes on its own schedule.
func waitForRange(t *testing.T, tr *testRegistry, loc, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := tr.do("GET", loc, nil).expect(t, http.StatusNoContent)
		if r.Header.Get("Range") == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload Range stayed %q, want %q", r.Header.Get("Range"), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDisconnectMidUpload(t *testing.T) {
	tr := newTestRegistry(t, nil)
	content := randomBytes(t, 200_000)
	d := digest.FromBytes(content)

	t.Run("chunk", func(t *testing.T) {
		loc := tr.do("POST", testRepo+"/blobs/uploads/", nil).expect(t, http.StatusAccepted).Header.Get("Location")
		sendCut(t, tr, "PATCH", loc, len(content), content[:50_000], "Content-Range", fmt.Sprintf("0-%d", len(content)-1))
		waitForRange(t, tr, loc, "0-49999")
		tr.do("HEAD", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusNotFound)
		if tr.visible(d) {
			t.Fatal("partial upload visible")
		}
		// The client resumes where the registry says and finishes.
		tr.do("PATCH", loc, content[50_000:], "Content-Range", fmt.Sprintf("50000-%d", len(content)-1)).expect(t, http.StatusAccepted)
		tr.do("PUT", loc+"?digest="+d.String(), nil).expect(t, http.StatusCreated)
		g := tr.do("GET", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusOK)
		if !bytes.Equal(g.body, content) {
			t.Fatal("resumed upload differs")
		}
		tr.do("DELETE", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusAccepted)
	})

	t.Run("monolithic put", func(t *testing.T) {
		other := randomBytes(t, 100_000)
		od := digest.FromBytes(other)
		loc := tr.do("POST", testRepo+"/blobs/uploads/", nil).expect(t, http.StatusAccepted).Header.Get("Location")
		sendCut(t, tr, "PUT", loc+"?digest="+od.String(), len(other), other[:30_000])
		waitForRange(t, tr, loc, "0-29999")
		tr.do("HEAD", testRepo+"/blobs/"+od.String(), nil).expect(t, http.StatusNotFound)
		if tr.visible(od) {
			t.Fatal("cut PUT became visible")
		}
		// Or the client gives up: cancel discards it.
		tr.do("DELETE", loc, nil).expect(t, http.StatusNoContent)
	})

	t.Run("single post", func(t *testing.T) {
		other := randomBytes(t, 100_000)
		od := digest.FromBytes(other)
		before := countBlobUploads(t, tr)
		sendCut(t, tr, "POST", testRepo+"/blobs/uploads/?digest="+od.String(), len(other), other[:10_000])
		deadline := time.Now().Add(10 * time.Second)
		for countBlobUploads(t, tr) != before { // the handler cancels its upload when the body breaks
			if time.Now().After(deadline) {
				t.Fatal("upload of a cut single POST never discarded")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if tr.visible(od) || tr.uploadsInProgress() != 0 {
			t.Fatal("cut single POST left something")
		}
	})
}

func countBlobUploads(t *testing.T, tr *testRegistry) int {
	n := 0
	if err := tr.blobs.Uploads(context.Background(), func(string, string, time.Time) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBlobRangeRead(t *testing.T) {
	tr := newTestRegistry(t, nil)
	content := randomBytes(t, 2048)
	d := tr.pushBlob(testRepo, content)
	path := testRepo + "/blobs/" + d.String()
	r := tr.do("GET", path, nil, "Range", "bytes=500-1499").expect(t, http.StatusPartialContent)
	if !bytes.Equal(r.body, content[500:1500]) || r.Header.Get("Content-Range") != "bytes 500-1499/2048" {
		t.Errorf("range 500-1499: %d bytes, %q", len(r.body), r.Header.Get("Content-Range"))
	}
	r = tr.do("GET", path, nil, "Range", "bytes=-100").expect(t, http.StatusPartialContent)
	if !bytes.Equal(r.body, content[1948:]) {
		t.Error("suffix range")
	}
	r = tr.do("GET", path, nil, "Range", "bytes=2000-5000").expect(t, http.StatusPartialContent)
	if !bytes.Equal(r.body, content[2000:]) {
		t.Error("range past the end")
	}
	bad := tr.do("GET", path, nil, "Range", "bytes=5000-10000").expectError(t, http.StatusRequestedRangeNotSatisfiable, CodeSizeInvalid)
	if bad.Header.Get("Content-Range") != "bytes */2048" {
		t.Errorf("416 Content-Range %q", bad.Header.Get("Content-Range"))
	}
	tr.do("GET", path, nil, "Range", "bytes=500-0").expectError(t, http.StatusRequestedRangeNotSatisfiable, CodeSizeInvalid)
	tr.do("GET", path, nil, "If-None-Match", `"`+d.String()+`"`).expect(t, http.StatusNotModified)
}

func TestBlobUnknownAndDelete(t *testing.T) {
	tr := newTestRegistry(t, nil)
	if _, err := tr.meta.CreateRepository(context.Background(), testAccount, "team/other"); err != nil {
		t.Fatal(err)
	}
	d := tr.pushBlob(testRepo, []byte("mine"))
	// The blob exists in the store but is not linked to the other repository.
	tr.do("GET", "/v2/111122223333/team/other/blobs/"+d.String(), nil).expectError(t, http.StatusNotFound, CodeBlobUnknown)
	tr.do("HEAD", "/v2/111122223333/team/other/blobs/"+d.String(), nil).expect(t, http.StatusNotFound)
	tr.do("DELETE", "/v2/111122223333/team/other/blobs/"+d.String(), nil).expectError(t, http.StatusNotFound, CodeBlobUnknown)

	tr.do("DELETE", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusAccepted)
	tr.do("HEAD", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusNotFound)
	tr.do("GET", testRepo+"/blobs/"+d.String(), nil).expectError(t, http.StatusNotFound, CodeBlobUnknown)
}

// TestListedBlobNotDeleted: a blob that a manifest of the repository lists (layer or config)
// cannot be deleted while the manifest is there, so the image stays pullable; once the
// manifest is deleted, it can.
func TestListedBlobNotDeleted(t *testing.T) {
	tr := newTestRegistry(t, nil)
	img := tr.pushImage(testRepo, "v1", nil)
	for _, d := range []digest.Digest{img.layer, img.config} {
		tr.do("DELETE", testRepo+"/blobs/"+d.String(), nil).expectError(t, http.StatusConflict, CodeDenied)
		tr.do("GET", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusOK)
	}
	tr.do("DELETE", testRepo+"/manifests/"+img.digest.String(), nil).expect(t, http.StatusAccepted)
	for _, d := range []digest.Digest{img.layer, img.config} {
		tr.do("DELETE", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusAccepted)
		tr.do("HEAD", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusNotFound)
	}
}

func TestCrossRepositoryMount(t *testing.T) {
	tr := newTestRegistry(t, nil)
	ctx := context.Background()
	if _, err := tr.meta.CreateRepository(ctx, testAccount, "team/source"); err != nil {
		t.Fatal(err)
	}
	d := tr.pushBlob("/v2/111122223333/team/source", []byte("shared layer"))

	r := tr.do("POST", testRepo+"/blobs/uploads/?mount="+d.String()+"&from=111122223333/team/source", nil).expect(t, http.StatusCreated)
	if r.Header.Get("Location") != testRepo+"/blobs/"+d.String() || r.Header.Get("Docker-Content-Digest") != d.String() {
		t.Errorf("mount headers %v", r.Header)
	}
	tr.do("GET", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusOK)

	// Source without the blob, unknown source, malformed source: an upload session instead.
	missing := digest.FromString("not there")
	for _, from := range []string{"111122223333/team/source", "111122223333/team/ghost", "nonsense", "111122223333/../x"} {
		r := tr.do("POST", testRepo+"/blobs/uploads/?mount="+missing.String()+"&from="+from, nil).expect(t, http.StatusAccepted)
		if !strings.HasPrefix(r.Header.Get("Location"), testRepo+"/blobs/uploads/") {
			t.Errorf("from %s: Location %q", from, r.Header.Get("Location"))
		}
	}
	tr.do("POST", testRepo+"/blobs/uploads/?mount=sha256:bad&from=111122223333/team/source", nil).expectError(t, http.StatusBadRequest, CodeDigestInvalid)

	// Anonymous mount (no from).
	d2 := tr.pushBlob("/v2/111122223333/team/source", []byte("another layer"))
	tr.do("POST", testRepo+"/blobs/uploads/?mount="+d2.String(), nil).expect(t, http.StatusCreated)
	tr.do("HEAD", testRepo+"/blobs/"+d2.String(), nil).expect(t, http.StatusOK)
	tr.do("POST", testRepo+"/blobs/uploads/?mount="+missing.String(), nil).expect(t, http.StatusAccepted)
}

// Upload sessions live in the stores, not in the process: a restarted registry resumes them.
func TestUploadSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	content := randomBytes(t, 3000)
	d := digest.FromBytes(content)

	first := openTestRegistry(t, dir, nil)
	loc := first.do("POST", testRepo+"/blobs/uploads/", nil).expect(t, http.StatusAccepted).Header.Get("Location")
	first.do("PATCH", loc, content[:1000], "Content-Range", "0-999").expect(t, http.StatusAccepted)
	first.srv.Close()
	if err := first.closeMeta(); err != nil {
		t.Fatal(err)
	}

	second := openTestRegistry(t, dir, nil)
	if got := second.do("GET", loc, nil).expect(t, http.StatusNoContent).Header.Get("Range"); got != "0-999" {
		t.Fatalf("Range after restart %q", got)
	}
	second.do("PATCH", loc, content[1000:], "Content-Range", "1000-2999").expect(t, http.StatusAccepted)
	second.do("PUT", loc+"?digest="+d.String(), nil).expect(t, http.StatusCreated)
	if g := second.do("GET", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusOK); !bytes.Equal(g.body, content) {
		t.Fatal("content differs after restart")
	}
}

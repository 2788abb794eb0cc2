package fs

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/blob"
	"github.com/opencontainers/go-digest"
)

var ctx = context.Background()

func newStore(t testing.TB) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	rand.Read(p)
	return p
}

func readAll(t *testing.T, s *Store, d digest.Digest) []byte {
	t.Helper()
	c, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(p)) != c.Size() {
		t.Fatalf("Size %d, read %d", c.Size(), len(p))
	}
	return p
}

func TestUploadCommitAndRead(t *testing.T) {
	s, dir := newStore(t)
	p := randomBytes(t, 3<<20+17)
	d := digest.FromBytes(p)

	u, err := s.StartUpload(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := u.ReadFrom(bytes.NewReader(p[:1<<20+5]))
	if err != nil || n != 1<<20+5 {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	if _, err := u.Write(p[1<<20+5 : 2<<20]); err != nil {
		t.Fatal(err)
	}
	if _, err := u.ReadFrom(bytes.NewReader(p[2<<20:])); err != nil {
		t.Fatal(err)
	}
	if u.Size() != int64(len(p)) {
		t.Fatalf("Size = %d", u.Size())
	}
	size, err := u.Commit(ctx, d)
	if err != nil || size != int64(len(p)) {
		t.Fatalf("Commit = %d, %v", size, err)
	}
	if got := readAll(t, s, d); !bytes.Equal(got, p) {
		t.Fatal("content differs")
	}
	if sz, err := s.Stat(ctx, d); err != nil || sz != int64(len(p)) {
		t.Fatalf("Stat = %d, %v", sz, err)
	}
	want := filepath.Join(dir, "blobs", "sha256", d.Encoded()[:2], d.Encoded())
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("layout: %v", err)
	}
	waitIdle(t, s) // the upload's name goes once its blob's name is durable
	if left := uploadFiles(t, dir); len(left) != 0 {
		t.Fatalf("upload files left behind: %v", left)
	}
	if _, err := s.ResumeUpload(ctx, u.ID(), ""); !errors.Is(err, blob.ErrUploadUnknown) {
		t.Fatalf("ResumeUpload after commit: %v", err)
	}
}

func TestContentIsAnOSFileForSendfile(t *testing.T) {
	s, _ := newStore(t)
	p := []byte("hello")
	d := digest.FromBytes(p)
	if err := s.Put(ctx, d, p); err != nil {
		t.Fatal(err)
	}
	c, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(interface{ Fd() uintptr }); !ok {
		t.Fatalf("%T does not expose the *os.File", c)
	}
}

func TestRangeReadThroughSeek(t *testing.T) {
	s, _ := newStore(t)
	p := randomBytes(t, 10000)
	d := digest.FromBytes(p)
	if err := s.Put(ctx, d, p); err != nil {
		t.Fatal(err)
	}
	c, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Seek(4000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 1000)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, p[4000:5000]) {
		t.Fatal("range content differs")
	}
	end, err := c.Seek(0, io.SeekEnd)
	if err != nil || end != 10000 {
		t.Fatalf("Seek end = %d, %v", end, err)
	}
}

func TestMismatchLeavesNothingVisible(t *testing.T) {
	s, dir := newStore(t)
	p := randomBytes(t, 5000)
	wrong := digest.FromBytes([]byte("something else"))
	u, err := s.StartUpload(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	u.Write(p)
	if _, err := u.Commit(ctx, wrong); !errors.Is(err, blob.ErrDigestMismatch) {
		t.Fatalf("Commit = %v, want ErrDigestMismatch", err)
	}
	for _, d := range []digest.Digest{wrong, digest.FromBytes(p)} {
		if _, err := s.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Stat(%s) = %v", d, err)
		}
	}
	if err := s.Walk(ctx, func(d digest.Digest, _ int64, _ time.Time) error {
		t.Errorf("visible blob %s", d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if left := uploadFiles(t, dir); len(left) != 0 {
		t.Fatalf("upload left behind: %v", left)
	}
	if err := s.Put(ctx, wrong, p); !errors.Is(err, blob.ErrDigestMismatch) {
		t.Fatalf("Put = %v", err)
	}
}

func TestResumeAfterReopen(t *testing.T) {
	s, dir := newStore(t)
	p := randomBytes(t, 2<<20+99)
	d := digest.FromBytes(p)
	u, err := s.StartUpload(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	id := u.ID()
	if _, err := u.ReadFrom(bytes.NewReader(p[:1<<20])); err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := New(dir) // a restart
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	s2.Uploads(ctx, func(id, _ string, _ time.Time) error { listed = append(listed, id); return nil })
	if len(listed) != 1 || listed[0] != id {
		t.Fatalf("Uploads = %v", listed)
	}
	u2, err := s2.ResumeUpload(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if u2.Size() != 1<<20 {
		t.Fatalf("resumed Size = %d", u2.Size())
	}
	if _, err := u2.ReadFrom(bytes.NewReader(p[1<<20:])); err != nil {
		t.Fatal(err)
	}
	if _, err := u2.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, s2, d), p) {
		t.Fatal("content differs")
	}
}

// A crash after data reached the file but before the hash state was saved leaves a state
// that covers fewer bytes than the file (or a torn one): resuming must re-hash.
func TestResumeRehashesAfterCrash(t *testing.T) {
	for name, damage := range map[string]func(statePath string){
		"stale state": func(string) {},
		"torn state": func(p string) {
			st, _ := os.ReadFile(p)
			os.WriteFile(p, st[:len(st)/2], 0o640)
		},
		"no state": func(p string) { os.Remove(p) },
	} {
		t.Run(name, func(t *testing.T) {
			s, dir := newStore(t)
			p := randomBytes(t, 3_000_000)
			d := digest.FromBytes(p)
			u, _ := s.StartUpload(ctx, "")
			u.ReadFrom(bytes.NewReader(p[:1_500_000])) // saves the state at 1500000
			u.Write(p[1_500_000:2_000_000])            // not saved: the process "dies" here
			state := uploadFile(dir, u.ID()) + ".hashstate"
			if _, err := os.Stat(state); err != nil {
				t.Fatalf("no hash state after ReadFrom of 1.5 MB: %v", err)
			}
			damage(state)

			s2, _ := New(dir)
			u2, err := s2.ResumeUpload(ctx, u.ID(), "")
			if err != nil {
				t.Fatal(err)
			}
			if u2.Size() != 2_000_000 {
				t.Fatalf("Size = %d", u2.Size())
			}
			u2.Write(p[2_000_000:])
			if _, err := u2.Commit(ctx, d); err != nil {
				t.Fatalf("Commit after crash: %v", err)
			}
		})
	}
}

func TestConcurrentCommitsOfSameDigest(t *testing.T) {
	s, _ := newStore(t)
	p := randomBytes(t, 1<<20)
	d := digest.FromBytes(p)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := s.StartUpload(ctx, "")
			if err != nil {
				errs <- err
				return
			}
			if _, err := u.ReadFrom(bytes.NewReader(p)); err != nil {
				errs <- err
				return
			}
			_, err = u.Commit(ctx, d)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(readAll(t, s, d), p) {
		t.Fatal("content differs")
	}
}

func TestSHA512(t *testing.T) {
	s, _ := newStore(t)
	p := randomBytes(t, 70000)
	d := digest.SHA512.FromBytes(p)
	u, _ := s.StartUpload(ctx, "")
	u.ReadFrom(bytes.NewReader(p))
	if _, err := u.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, s, d), p) {
		t.Fatal("content differs")
	}
	// A sha512 digest of other content is a mismatch.
	u, _ = s.StartUpload(ctx, "")
	u.Write(p[:10])
	if _, err := u.Commit(ctx, d); !errors.Is(err, blob.ErrDigestMismatch) {
		t.Fatalf("Commit = %v", err)
	}
	if err := s.Put(ctx, digest.SHA512.FromBytes([]byte("x")), []byte("x")); err != nil {
		t.Fatal(err)
	}
}

func TestUnsupportedAndInvalidDigests(t *testing.T) {
	s, _ := newStore(t)
	p := []byte("data")
	if err := s.Put(ctx, digest.SHA384.FromBytes(p), p); !errors.Is(err, blob.ErrUnsupported) {
		t.Fatalf("sha384 Put = %v", err)
	}
	for _, d := range []digest.Digest{
		"sha256:../../../etc/passwd",
		"sha256:" + digest.Digest(bytes.Repeat([]byte("A"), 64)),
		"nocolon",
		"",
		"sha256:abc",
	} {
		if _, err := s.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat(%q) = %v", d, err)
		}
		if _, err := s.Open(ctx, d); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Open(%q) = %v", d, err)
		}
		if err := s.Put(ctx, d, p); !errors.Is(err, blob.ErrDigestMismatch) {
			t.Errorf("Put(%q) = %v", d, err)
		}
	}
	for _, id := range []string{"../x", "", "abc", "123E4567-E89B-12D3-A456-426614174000"} {
		if _, err := s.ResumeUpload(ctx, id, ""); !errors.Is(err, blob.ErrUploadUnknown) {
			t.Errorf("ResumeUpload(%q) = %v", id, err)
		}
	}
}

func TestCancelAndDelete(t *testing.T) {
	s, _ := newStore(t)
	u, _ := s.StartUpload(ctx, "")
	u.Write([]byte("abc"))
	if err := u.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResumeUpload(ctx, u.ID(), ""); !errors.Is(err, blob.ErrUploadUnknown) {
		t.Fatalf("ResumeUpload after Cancel = %v", err)
	}
	p := []byte("to delete")
	d := digest.FromBytes(p)
	s.Put(ctx, d, p)
	if err := s.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("second Delete = %v", err)
	}
}

func TestDeleteUnusedRespectsPublication(t *testing.T) {
	s, _ := newStore(t)
	p := []byte("layer")
	d := digest.FromBytes(p)
	clock := time.Now().Add(-time.Hour)
	s.now = func() time.Time { return clock }
	if err := s.Put(ctx, d, p); err != nil {
		t.Fatal(err)
	}
	bound := clock.Add(30 * time.Minute)

	// Published again (already present) after the bound: it stays.
	clock = clock.Add(45 * time.Minute)
	if err := s.Put(ctx, d, p); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUnused(ctx, d, bound); !errors.Is(err, blob.ErrInUse) {
		t.Fatalf("DeleteUnused = %v, want ErrInUse", err)
	}
	if _, err := s.Stat(ctx, d); err != nil {
		t.Fatalf("blob gone after refused delete: %v", err)
	}
	// Published before the bound: it goes.
	if err := s.DeleteUnused(ctx, d, clock.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat = %v", err)
	}
	if err := s.DeleteUnused(ctx, d, clock); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("DeleteUnused of absent = %v", err)
	}
}

func TestWalk(t *testing.T) {
	s, _ := newStore(t)
	want := map[digest.Digest]int64{}
	for i := range 20 {
		p := randomBytes(t, 10+i)
		d := digest.FromBytes(p)
		if i%5 == 0 {
			d = digest.SHA512.FromBytes(p)
		}
		want[d] = int64(len(p))
		if err := s.Put(ctx, d, p); err != nil {
			t.Fatal(err)
		}
	}
	got := map[digest.Digest]int64{}
	if err := s.Walk(ctx, func(d digest.Digest, size int64, _ time.Time) error { got[d] = size; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Walk found %d, want %d", len(got), len(want))
	}
	for d, n := range want {
		if got[d] != n {
			t.Errorf("%s: size %d, want %d", d, got[d], n)
		}
	}
}

// repeatReader yields n bytes cycling through a buffer, as a request body would.
type repeatReader struct {
	buf []byte
	n   int64
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	m := copy(p, r.buf[r.off:])
	r.off = (r.off + m) % len(r.buf)
	r.n -= int64(m)
	return m, nil
}

func BenchmarkUpload256MiB(b *testing.B) {
	const size = 256 << 20
	s, _ := newStore(b)
	chunk := randomBytes(b, 1<<20)
	h := sha256.New()
	io.Copy(h, &repeatReader{buf: chunk, n: size})
	d := digest.NewDigest(digest.SHA256, h)
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		u, err := s.StartUpload(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := u.ReadFrom(&repeatReader{buf: chunk, n: size}); err != nil {
			b.Fatal(err)
		}
		if _, err := u.Commit(ctx, d); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Delete(ctx, d)
		b.StartTimer()
	}
}

func BenchmarkPutSmall(b *testing.B) {
	s, _ := newStore(b)
	b.SetBytes(4096)
	for i := range b.N {
		p := make([]byte, 4096)
		copy(p, []byte{byte(i), byte(i >> 8), byte(i >> 16), byte(i >> 24)})
		if err := s.Put(ctx, digest.FromBytes(p), p); err != nil {
			b.Fatal(err)
		}
	}
}

// A deletion interrupted between moving the blob aside and removing it is undone at start.
func TestInterruptedDeleteIsUndone(t *testing.T) {
	s, dir := newStore(t)
	p := []byte("aside")
	d := digest.FromBytes(p)
	s.Put(ctx, d, p)
	hex := d.Encoded()
	if err := os.Rename(filepath.Join(dir, "blobs", "sha256", hex[:2], hex), filepath.Join(dir, "trash", hex+".1234")); err != nil {
		t.Fatal(err)
	}
	s2, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, s2, d), p) {
		t.Fatal("content differs")
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "trash")); len(entries) != 0 {
		t.Fatalf("trash not emptied: %v", entries)
	}
}

// uploadFile is where an upload's data lives: uploads/<id>.
func uploadFile(dir, id string) string { return filepath.Join(dir, "uploads", id) }

// uploadFiles lists every file under uploads/.
func uploadFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(dir, "uploads"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Uploads of the first layout (a directory per upload holding data and hashstate) are moved
// into the uploads directory at start and can be resumed; an earlier-layout directory without
// data (a crash inside StartUpload) is removed.
func TestOldLayoutUploadsConverted(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	p := randomBytes(t, 3_000_000)
	d := digest.FromBytes(p)
	u, _ := s.StartUpload(ctx, "")
	if _, err := u.ReadFrom(bytes.NewReader(p[:2_000_000])); err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	// Rebuild what the earlier layout held for this upload.
	old := filepath.Join(dir, "uploads", u.ID())
	tmp := filepath.Join(dir, "building")
	os.Mkdir(tmp, 0o750)
	if err := os.Rename(uploadFile(dir, u.ID()), filepath.Join(tmp, "data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(uploadFile(dir, u.ID())+".hashstate", filepath.Join(tmp, "hashstate")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, old); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "uploads", "0b5e3c2a-1111-4222-8333-444455556666")
	os.Mkdir(empty, 0o750)
	// A conversion that a crash interrupted after it renamed the directory aside.
	interrupted := randomBytes(t, 1000)
	aside := filepath.Join(dir, "uploads", "1c6f4d3b-2222-4333-8444-555566667777"+firstLayoutAside)
	os.Mkdir(aside, 0o750)
	if err := os.WriteFile(filepath.Join(aside, "data"), interrupted, 0o640); err != nil {
		t.Fatal(err)
	}

	s2, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{empty, aside} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Fatalf("earlier-layout directory %s kept: %v", gone, err)
		}
	}
	if fi, err := os.Stat(old); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("the upload's data is not at %s: %v", old, err)
	}
	if got, err := os.ReadFile(uploadFile(dir, "1c6f4d3b-2222-4333-8444-555566667777")); err != nil || !bytes.Equal(got, interrupted) {
		t.Fatalf("the interrupted conversion's data: %v", err)
	}
	if err := os.Remove(uploadFile(dir, "1c6f4d3b-2222-4333-8444-555566667777")); err != nil {
		t.Fatal(err)
	}
	var ids []string
	s2.Uploads(ctx, func(id, _ string, _ time.Time) error { ids = append(ids, id); return nil })
	if len(ids) != 1 || ids[0] != u.ID() {
		t.Fatalf("Uploads = %v, want [%s]", ids, u.ID())
	}
	u2, err := s2.ResumeUpload(ctx, u.ID(), "")
	if err != nil {
		t.Fatal(err)
	}
	if u2.Size() != 2_000_000 {
		t.Fatalf("Size = %d", u2.Size())
	}
	if _, err := u2.ReadFrom(bytes.NewReader(p[2_000_000:])); err != nil {
		t.Fatal(err)
	}
	if _, err := u2.Commit(ctx, d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	waitIdle(t, s2) // the upload's name goes once its blob's name is durable
	if left := uploadFiles(t, dir); len(left) != 0 {
		t.Fatalf("upload files left behind: %v", left)
	}
}

// A small upload writes no hash state (resuming hashes its data again) and still resumes.
func TestSmallUploadKeepsNoHashState(t *testing.T) {
	s, dir := newStore(t)
	p := randomBytes(t, 64<<10)
	d := digest.FromBytes(p)
	u, err := s.StartUpload(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.ReadFrom(bytes.NewReader(p[:40000])); err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(uploadFile(dir, u.ID()) + ".hashstate"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("hashstate of a 40000-byte upload: %v", err)
	}
	u2, err := s.ResumeUpload(ctx, u.ID(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u2.ReadFrom(bytes.NewReader(p[40000:])); err != nil {
		t.Fatal(err)
	}
	if _, err := u2.Commit(ctx, d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// ReadFrom writes a body that fits one buffer synchronously and streams a bigger one through
// the hashing pipeline: both give the same content and digest at every size around the
// boundary, also when appended to bytes already there.
func TestReadFromSizesAroundOneBuffer(t *testing.T) {
	for _, size := range []int{0, 1, bufferSize - 1, bufferSize, bufferSize + 1, 3*bufferSize + 7} {
		for _, prefix := range []int{0, 100} {
			s, dir := newStore(t)
			p := randomBytes(t, prefix+size)
			d := digest.FromBytes(p)
			u, err := s.StartUpload(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := u.Write(p[:prefix]); err != nil {
				t.Fatal(err)
			}
			n, err := u.ReadFrom(bytes.NewReader(p[prefix:]))
			if err != nil || n != int64(size) || u.Size() != int64(prefix+size) {
				t.Fatalf("size %d+%d: ReadFrom = %d, %v; Size %d", prefix, size, n, err, u.Size())
			}
			if _, err := u.Commit(ctx, d); err != nil {
				t.Fatalf("size %d+%d: Commit: %v", prefix, size, err)
			}
			if got := readAll(t, s, d); !bytes.Equal(got, p) {
				t.Fatalf("size %d+%d: content differs", prefix, size)
			}
			waitIdle(t, s) // the upload's name goes once its blob's name is durable
			if left := uploadFiles(t, dir); len(left) != 0 {
				t.Fatalf("size %d+%d: left behind: %v", prefix, size, left)
			}
		}
	}
}

// A body that fails (the client went away) keeps what arrived and reports the error, on
// both paths.
func TestReadFromKeepsBytesBeforeAnError(t *testing.T) {
	broken := errors.New("connection reset")
	for _, size := range []int{1000, 2*bufferSize + 5} {
		s, _ := newStore(t)
		p := randomBytes(t, size)
		u, _ := s.StartUpload(ctx, "")
		n, err := u.ReadFrom(io.MultiReader(bytes.NewReader(p), iotestErrReader{broken}))
		if !errors.Is(err, broken) || n != int64(size) || u.Size() != int64(size) {
			t.Fatalf("size %d: ReadFrom = %d, %v; Size %d", size, n, err, u.Size())
		}
		if err := u.Close(); err != nil {
			t.Fatal(err)
		}
		u2, err := s.ResumeUpload(ctx, u.ID(), "")
		if err != nil || u2.Size() != int64(size) {
			t.Fatalf("size %d: resumed with %v, %v", size, u2, err)
		}
		if _, err := u2.Commit(ctx, digest.FromBytes(p)); err != nil {
			t.Fatalf("size %d: Commit of what arrived: %v", size, err)
		}
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// A hash state whose upload is gone (a power loss can leave one) is removed when the store
// opens; a live upload's state stays.
func TestOrphanHashStateRemovedAtOpen(t *testing.T) {
	s, dir := newStore(t)
	u, _ := s.StartUpload(ctx, "")
	if _, err := u.ReadFrom(bytes.NewReader(randomBytes(t, stateMinSize+10))); err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	live := uploadFile(dir, u.ID()) + stateSuffix
	orphanID := "0b5e3c2a-1111-4222-8333-444455556666"
	orphan := uploadFile(dir, orphanID) + stateSuffix
	os.MkdirAll(filepath.Dir(orphan), 0o750)
	if err := os.WriteFile(orphan, []byte("stale state"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := New(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("orphan state kept: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("live upload's state removed: %v", err)
	}
}

// TestConcurrentPublicationsInBatches publishes many distinct blobs (and a few twice) from
// many goroutines: the batches hand over their lead, every blob is readable afterwards, no
// upload file is left, and at least one batch carried several publications.
func TestConcurrentPublicationsInBatches(t *testing.T) {
	s, dir := newStore(t)
	var mu sync.Mutex
	biggest := 0
	s.pub.ran = func(n int) {
		mu.Lock()
		biggest = max(biggest, n)
		mu.Unlock()
	}
	const workers, each = 32, 20
	contents := make([][]byte, workers*each)
	for i := range contents {
		contents[i] = randomBytes(t, 1000+i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Every worker also publishes its neighbour's first blob once: some
				// publications find their blob already there.
				p := contents[w*each+i]
				if i == each-1 {
					p = contents[((w+1)%workers)*each]
				}
				if err := s.Put(ctx, digest.FromBytes(p), p); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, p := range contents {
		if i%each == each-1 {
			continue // replaced by the neighbour's first blob
		}
		if !bytes.Equal(readAll(t, s, digest.FromBytes(p)), p) {
			t.Fatalf("blob %d differs", i)
		}
	}
	waitIdle(t, s)
	if left := uploadFiles(t, dir); len(left) != 0 {
		t.Fatalf("%d upload files left once the names were synced", len(left))
	}
	mu.Lock() // the last round may still be running: a publication that found its blob there returns before it
	defer mu.Unlock()
	if biggest < 2 {
		t.Fatalf("largest batch %d: publications were never batched", biggest)
	}
}

// TestBatchMemberFailsAlone runs one batch in which one publication cannot be linked (its
// prefix directory is a file): it alone fails and is an upload again; the others are
// published, and every one is answered.
func TestBatchMemberFailsAlone(t *testing.T) {
	s, dir := newStore(t)
	type member struct {
		u  *upload
		pb *publication
		d  digest.Digest
	}
	var batch []member
	var blocked digest.Digest
	prefixes := map[string]bool{}
	for i := range 4 {
		p := randomBytes(t, 5000+i)
		d := digest.FromBytes(p)
		for prefixes[d.Encoded()[:2]] { // each member in a prefix of its own
			p = randomBytes(t, 5000+i)
			d = digest.FromBytes(p)
		}
		prefixes[d.Encoded()[:2]] = true
		u, err := s.StartUpload(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Write(p); err != nil {
			t.Fatal(err)
		}
		target, _ := s.blobPath(d)
		if i == 2 {
			blocked = d
			prefix := filepath.Dir(target)
			os.MkdirAll(filepath.Dir(prefix), 0o750)
			if err := os.WriteFile(prefix, nil, 0o640); err != nil {
				t.Fatal(err)
			}
		}
		pb, err := u.(*upload).prepare(d, target, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		pb.done = make(chan struct{})
		batch = append(batch, member{u.(*upload), pb, d})
	}
	// Queued together before the syncing goroutine runs: one round takes them all.
	for _, m := range batch {
		s.pub.queue = append(s.pub.queue, m.pb)
	}
	s.pub.running = true
	s.pub.run()
	for _, m := range batch {
		select {
		case <-m.pb.done:
		default:
			t.Fatalf("publication of %s not answered", m.d)
		}
		m.u.finish(m.pb, m.pb.err, time.Now())
	}
	for _, m := range batch {
		_, statErr := s.Stat(ctx, m.d)
		if m.d == blocked {
			if m.pb.err == nil || statErr == nil {
				t.Fatalf("blocked publication: err %v, stat %v", m.pb.err, statErr)
			}
			if _, err := os.Stat(m.u.path); err != nil {
				t.Fatalf("the failed upload's data is gone: %v", err)
			}
			continue
		}
		if m.pb.err != nil || statErr != nil {
			t.Fatalf("publication of %s: err %v, stat %v", m.d, m.pb.err, statErr)
		}
	}
	if left := uploadFiles(t, dir); len(left) != 1 {
		t.Fatalf("upload files left after the names were synced: %v (want the failed one)", left)
	}
	blockedUpload := batch[0].u
	for _, m := range batch {
		if m.d == blocked {
			blockedUpload = m.u
		}
	}
	u, err := s.ResumeUpload(ctx, blockedUpload.id, "")
	if err != nil {
		t.Fatalf("the failed upload cannot be resumed: %v", err)
	}
	u.Close()
}

// TestSealedUploadsPublishedAtOpen: a crash after a publication sealed its upload and synced
// it, but before its blob's name was durable (the push may have been acknowledged), leaves a
// sealed upload without a blob; New links its content under its digest and removes the
// upload. A sealed upload whose blob is linked to it only loses its name (no second blob),
// and an upload in progress is left alone.
func TestSealedUploadsPublishedAtOpen(t *testing.T) {
	s, dir := newStore(t)
	write := func(owner string, p []byte, mode os.FileMode) string {
		u, err := s.StartUpload(ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Write(p); err != nil {
			t.Fatal(err)
		}
		path := u.(*upload).path
		u.Close()
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	lost := randomBytes(t, 70000)
	write("r1", lost, 0o440)
	done := randomBytes(t, 3000)
	donePath := write("", done, 0o440)
	target, _ := s.blobPath(digest.FromBytes(done))
	if _, err := place(os.Link, donePath, target); err != nil {
		t.Fatal(err)
	}
	partial := randomBytes(t, 500)
	partialPath := write("r2", partial, 0o640)

	if _, err := s.ResumeUpload(ctx, filepath.Base(donePath), ""); !errors.Is(err, blob.ErrUploadUnknown) {
		t.Fatalf("a sealed upload resumed: %v", err)
	}
	var listed []string
	s.Uploads(ctx, func(id, owner string, _ time.Time) error { listed = append(listed, id); return nil })
	if len(listed) != 1 || !strings.HasPrefix(filepath.Base(partialPath), listed[0]) {
		t.Fatalf("Uploads listed %v, want only the one in progress", listed)
	}

	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, s, digest.FromBytes(lost)), lost) {
		t.Fatal("republished blob differs")
	}
	if !bytes.Equal(readAll(t, s, digest.SHA512.FromBytes(lost)), lost) {
		t.Fatal("republished blob differs under sha512")
	}
	if !bytes.Equal(readAll(t, s, digest.FromBytes(done)), done) {
		t.Fatal("published blob differs")
	}
	if _, err := s.Stat(ctx, digest.SHA512.FromBytes(done)); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a finished publication was linked again: %v", err)
	}
	if left := uploadFiles(t, dir); len(left) != 1 || left[0] != partialPath {
		t.Fatalf("upload files after open: %v, want only %s", left, partialPath)
	}
	u, err := s.ResumeUpload(ctx, strings.TrimSuffix(filepath.Base(partialPath), "@r2"), "r2")
	if err != nil || u.Size() != int64(len(partial)) {
		t.Fatalf("upload in progress after open: %v", err)
	}
	u.Close()
}

// TestShardedUploadsConverted: the second layout kept uploads in 256 subdirectories of
// uploads/ named by the id's first two hex digits. At start, an upload in progress there (with
// its hash state) moves into uploads/ and can be resumed, a sealed one (a publication that a
// crash interrupted) is published, and the emptied shard is removed; a shard holding
// something Coffer did not write stays with it.
func TestShardedUploadsConverted(t *testing.T) {
	s, dir := newStore(t)
	toShard := func(path string) string {
		t.Helper()
		name := filepath.Base(path)
		shard := filepath.Join(dir, uploadsDir, name[:2])
		if err := os.MkdirAll(shard, 0o750); err != nil {
			t.Fatal(err)
		}
		for _, suffix := range []string{"", stateSuffix} {
			err := os.Rename(path+suffix, filepath.Join(shard, name+suffix))
			if err != nil && (suffix == "" || !errors.Is(err, fs.ErrNotExist)) {
				t.Fatal(err)
			}
		}
		return shard
	}
	p := randomBytes(t, 3<<20) // big enough for a hash state file
	u, err := s.StartUpload(ctx, "7")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.ReadFrom(bytes.NewReader(p[:2<<20])); err != nil {
		t.Fatal(err)
	}
	u.Close()
	if _, err := os.Stat(uploadFile(dir, u.ID()+"@7") + stateSuffix); err != nil {
		t.Fatalf("no hash state to convert: %v", err)
	}
	inProgress := toShard(uploadFile(dir, u.ID()+"@7"))

	lost := randomBytes(t, 5000)
	v, err := s.StartUpload(ctx, "8")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Write(lost); err != nil {
		t.Fatal(err)
	}
	v.Close()
	if err := os.Chmod(uploadFile(dir, v.ID()+"@8"), 0o440); err != nil { // sealed
		t.Fatal(err)
	}
	sealedShard := toShard(uploadFile(dir, v.ID()+"@8"))
	// A shard of its own (not one of the two above) holding a file Coffer did not write.
	var foreign string
	for _, name := range []string{"00", "01", "02"} {
		if p := filepath.Join(dir, uploadsDir, name); p != inProgress && p != sealedShard {
			foreign = p
			break
		}
	}
	if err := os.MkdirAll(foreign, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}

	s2, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, s2, digest.FromBytes(lost)), lost) {
		t.Fatal("the sealed upload was not published")
	}
	for _, gone := range []string{inProgress, sealedShard} {
		if _, err := os.Stat(gone); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("shard %s kept: %v", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(foreign, "notes.txt")); err != nil {
		t.Fatalf("a file Coffer did not write went: %v", err)
	}
	u2, err := s2.ResumeUpload(ctx, u.ID(), "7")
	if err != nil {
		t.Fatal(err)
	}
	if u2.(*upload).saved != 2<<20 {
		t.Fatalf("resumed without its hash state (saved %d)", u2.(*upload).saved)
	}
	if _, err := u2.ReadFrom(bytes.NewReader(p[2<<20:])); err != nil {
		t.Fatal(err)
	}
	if _, err := u2.Commit(ctx, digest.FromBytes(p)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, s2, digest.FromBytes(p)), p) {
		t.Fatal("content differs")
	}
}

// TestPublicationLinksBeforeNamesAreSynced: a publication returns once its data is synced and
// its blob linked; its upload's name is removed only by the next sync, which runs without
// anybody waiting for it.
func TestPublicationLinksBeforeNamesAreSynced(t *testing.T) {
	s, dir := newStore(t)
	var mu sync.Mutex
	var rounds []int
	s.pub.ran = func(n int) {
		mu.Lock()
		rounds = append(rounds, n)
		mu.Unlock()
	}
	p := randomBytes(t, 3000)
	if err := s.Put(ctx, digest.FromBytes(p), p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, s, digest.FromBytes(p)), p) {
		t.Fatal("blob differs")
	}
	waitIdle(t, s)
	mu.Lock()
	defer mu.Unlock()
	if len(rounds) != 2 {
		t.Fatalf("rounds %v: want the data's sync, then the names'", rounds)
	}
	if left := uploadFiles(t, dir); len(left) != 0 {
		t.Fatalf("upload files left: %v", left)
	}
}

// waitIdle waits until the publisher's goroutine has ended.
func waitIdle(t *testing.T, s *Store) {
	t.Helper()
	for range 1000 {
		s.pub.mu.Lock()
		running := s.pub.running
		s.pub.mu.Unlock()
		if !running {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the publisher never went idle")
}

// TestUploadOwner: an upload bound to an owner is found only with that owner, listed with
// it, resumable after a reopen, and owners outside [0-9a-z-] are refused.
func TestUploadOwner(t *testing.T) {
	s, dir := newStore(t)
	for _, bad := range []string{"../x", "a/b", "A", "x.y", "x@y", "12345678901234567890123456789012345678901"} {
		if _, err := s.StartUpload(ctx, bad); err == nil {
			t.Errorf("StartUpload(owner %q) accepted", bad)
		}
	}
	u, err := s.StartUpload(ctx, "42")
	if err != nil {
		t.Fatal(err)
	}
	p := randomBytes(t, 2<<20) // big enough for a hash state file
	if _, err := u.ReadFrom(bytes.NewReader(p)); err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{"", "43", "4"} {
		if _, err := s.ResumeUpload(ctx, u.ID(), other); !errors.Is(err, blob.ErrUploadUnknown) {
			t.Errorf("ResumeUpload with owner %q = %v", other, err)
		}
	}
	s2, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	s2.Uploads(ctx, func(id, owner string, _ time.Time) error { listed = append(listed, id+" "+owner); return nil })
	if len(listed) != 1 || listed[0] != u.ID()+" 42" {
		t.Fatalf("Uploads listed %q", listed)
	}
	u2, err := s2.ResumeUpload(ctx, u.ID(), "42")
	if err != nil {
		t.Fatal(err)
	}
	if u2.Size() != int64(len(p)) {
		t.Fatalf("resumed size %d", u2.Size())
	}
	d := digest.FromBytes(p)
	if _, err := u2.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, s2, d), p) {
		t.Fatal("content differs")
	}
	waitIdle(t, s2) // the upload's name goes once its blob's name is durable
	if left := uploadFiles(t, dir); len(left) != 0 {
		t.Fatalf("upload files left: %v", left)
	}
}

// TestUnsealedPublicationRenames: where the filesystem does not keep permissions (probeSeal),
// a publication renames its upload to the blob's name and returns once that name is durable:
// nothing of the upload is left when Commit returns. A local filesystem keeps them.
func TestUnsealedPublicationRenames(t *testing.T) {
	s, dir := newStore(t)
	if !s.sealable {
		t.Fatal("a local filesystem should keep permissions")
	}
	s.sealable = false
	p := randomBytes(t, 5000)
	d := digest.FromBytes(p)
	if err := s.Put(ctx, d, p); err != nil {
		t.Fatal(err)
	}
	if left := uploadFiles(t, dir); len(left) != 0 {
		t.Fatalf("upload files left when Commit returned: %v", left)
	}
	if !bytes.Equal(readAll(t, s, d), p) {
		t.Fatal("content differs")
	}
	target, _ := s.blobPath(d)
	if fi, err := os.Stat(target); err != nil || sealed(fi.Mode()) {
		t.Fatalf("blob %v, sealed %v", err, err == nil && sealed(fi.Mode()))
	}
}

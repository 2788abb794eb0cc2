package sqlite

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
)

func openDeferred(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenOptions(path, Options{ReviewDelay: -1, Synchronous: "NORMAL", DeferLinks: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func createApp(t *testing.T, s *Store) store.Repository {
	t.Helper()
	r, err := s.CreateRepository(ctx, "111122223333", "app")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// holdLinks keeps deferred links pending (no background transaction) for the test.
func holdLinks(t *testing.T, s *Store) {
	t.Helper()
	s.links.stopOnce.Do(func() {
		close(s.links.stop)
		<-s.links.done
	})
}

func TestLinkRecordsRoundTripAndTornTails(t *testing.T) {
	recs := []linkRecord{
		{seq: 1, repo: 7, size: 65536, at: 1764460800000, digest: digest.FromString("a")},
		{seq: 2, repo: 1 << 40, size: 0, at: 1, digest: digest.Digest("sha512:" + strings.Repeat("0f", 64))},
		{seq: 3, repo: 7, size: 1 << 33, at: 2, digest: digest.FromString("c")},
	}
	var b []byte
	var ends []int
	for _, r := range recs {
		b = appendLinkRecord(b, r)
		ends = append(ends, len(b))
	}
	got, valid := parseLinkRecords(b)
	if !slices.Equal(got, recs) || valid != len(b) {
		t.Fatalf("parse = %+v, %d; want %+v, %d", got, valid, recs, len(b))
	}
	// Every cut inside the last record leaves the first two.
	for cut := ends[1]; cut < ends[2]; cut++ {
		got, valid := parseLinkRecords(b[:cut])
		if !slices.Equal(got, recs[:2]) || valid != ends[1] {
			t.Fatalf("cut at %d: %d records, valid %d", cut, len(got), valid)
		}
	}
	// A changed byte anywhere in the second record stops the parse before it.
	for i := ends[0]; i < ends[1]; i++ {
		c := slices.Clone(b)
		c[i] ^= 0x20
		got, valid := parseLinkRecords(c)
		if !slices.Equal(got, recs[:1]) || valid != ends[0] {
			t.Fatalf("byte %d changed: %d records, valid %d", i, len(got), valid)
		}
	}
	// A record whose digest does not parse is not taken either.
	bad := appendLinkRecord(nil, linkRecord{seq: 9, digest: "sha256:../../etc"})
	if got, valid := parseLinkRecords(bad); len(got) != 0 || valid != 0 {
		t.Fatalf("invalid digest parsed: %+v", got)
	}
}

func TestDeferredLinkIsSeenAtOnceAndAppliedSoon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s := openDeferred(t, path)
	r := createApp(t, s)
	d := digest.FromString("layer")
	if err := s.LinkUploadedBlob(ctx, r.ID, d, 42, ""); err != nil {
		t.Fatal(err)
	}
	s.links.mu.Lock()
	logged := s.links.next
	s.links.mu.Unlock()
	if logged != 2 {
		t.Fatalf("the link took no record of the log (next sequence number %d)", logged)
	}
	if size, err := s.StatBlob(ctx, r.ID, d); err != nil || size != 42 {
		t.Fatalf("StatBlob = %d, %v", size, err)
	}
	if ok, err := s.BlobReferenced(ctx, d); err != nil || !ok {
		t.Fatalf("BlobReferenced = %v, %v", ok, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.links.count() > 0 || fileSize(t, path+"-links") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not applied after 10 s: %d pending, log of %d bytes", s.links.count(), fileSize(t, path+"-links"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM repository_blobs WHERE repository_id = $1 AND digest = $2`, r.ID, d.String()).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows in repository_blobs = %d, %v", n, err)
	}
	// The link's review is queued as LinkBlob's is.
	items, err := s.TakeGCItems(ctx, 10, time.Minute)
	if err != nil || !slices.Contains(items, store.GCItem{Digest: d}) {
		t.Fatalf("TakeGCItems = %+v, %v", items, err)
	}
	// A link into a missing repository fails at once, as LinkBlob does.
	if err := s.LinkUploadedBlob(ctx, 9999, d, 1, ""); !errors.Is(err, store.ErrRepositoryNotFound) {
		t.Fatalf("link into a missing repository = %v", err)
	}
}

func TestWritesApplyPendingLinksFirst(t *testing.T) {
	s := openDeferred(t, filepath.Join(t.TempDir(), "meta.db"))
	holdLinks(t, s)
	r := createApp(t, s)
	layer, other := digest.FromString("layer"), digest.FromString("other")
	for _, d := range []digest.Digest{layer, other} {
		if err := s.LinkUploadedBlob(ctx, r.ID, d, 5, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.links.count(); n != 2 {
		t.Fatalf("%d links pending, want 2", n)
	}
	// A manifest listing the blob is accepted: its transaction applies the links first.
	m := store.Manifest{Digest: digest.FromString("m"), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Payload: []byte("m"), Size: 1, Blobs: []store.Descriptor{{Digest: layer, Size: 5}}}
	if err := s.PutManifest(ctx, r.ID, m, "v1"); err != nil {
		t.Fatal(err)
	}
	if n := s.links.count(); n != 0 {
		t.Fatalf("%d links pending after a write, want 0", n)
	}
	// An unlink after a deferred link removes it.
	if err := s.LinkUploadedBlob(ctx, r.ID, other, 5, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.UnlinkBlob(ctx, r.ID, other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StatBlob(ctx, r.ID, other); !errors.Is(err, store.ErrBlobNotFound) {
		t.Fatalf("StatBlob after unlink = %v", err)
	}
	// The repository's deletion takes pending links with it, and the repository is forgotten.
	if err := s.LinkUploadedBlob(ctx, r.ID, other, 5, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRepository(ctx, r.Account, r.Name, true); err != nil {
		t.Fatal(err)
	}
	if err := s.LinkUploadedBlob(ctx, r.ID, other, 5, ""); !errors.Is(err, store.ErrRepositoryNotFound) {
		t.Fatalf("link after the repository's deletion = %v", err)
	}
}

// writeLog writes records as a crashed process would have left them.
func writeLog(t *testing.T, path string, recs ...linkRecord) {
	t.Helper()
	var b []byte
	for _, r := range recs {
		b = appendLinkRecord(b, r)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenAppliesOnlyUnappliedRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := OpenOptions(path, Options{ReviewDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	r := createApp(t, s)
	if _, err := s.w.ExecContext(ctx, `UPDATE link_log SET applied = 5`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	old, fresh, orphan := digest.FromString("unlinked since"), digest.FromString("fresh"), digest.FromString("orphan")
	torn := appendLinkRecord(nil, linkRecord{seq: 8, repo: r.ID, size: 3, at: 3, digest: digest.FromString("torn")})
	writeLog(t, path+"-links",
		linkRecord{seq: 5, repo: r.ID, size: 1, at: 1, digest: old}, // applied before the crash, unlinked later
		linkRecord{seq: 6, repo: r.ID, size: 2, at: 2, digest: fresh},
		linkRecord{seq: 7, repo: 9999, size: 2, at: 2, digest: orphan}, // its repository is gone
	)
	f, err := os.OpenFile(path+"-links", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(torn[:len(torn)-3])
	f.Close()

	s = openDeferred(t, path)
	if _, err := s.StatBlob(ctx, r.ID, old); !errors.Is(err, store.ErrBlobNotFound) {
		t.Fatalf("an applied record came back: StatBlob = %v", err)
	}
	if size, err := s.StatBlob(ctx, r.ID, fresh); err != nil || size != 2 {
		t.Fatalf("StatBlob of the unapplied record = %d, %v", size, err)
	}
	if _, err := s.StatBlob(ctx, r.ID, digest.FromString("torn")); !errors.Is(err, store.ErrBlobNotFound) {
		t.Fatalf("the torn record was applied: %v", err)
	}
	if n := fileSize(t, path+"-links"); n != 0 {
		t.Fatalf("log of %d bytes after Open applied it", n)
	}
	items, err := s.TakeGCItems(ctx, 10, time.Minute)
	if err != nil || !slices.Contains(items, store.GCItem{Digest: orphan}) {
		t.Fatalf("the orphan's review: TakeGCItems = %+v, %v", items, err)
	}
	// New records continue the sequence: a later crash's log is applied too.
	holdLinks(t, s)
	if err := s.LinkUploadedBlob(ctx, r.ID, old, 9, ""); err != nil {
		t.Fatal(err)
	}
	recs, _ := parseLinkRecords(mustRead(t, path+"-links"))
	if len(recs) != 1 || recs[0].seq != 8 {
		t.Fatalf("log after one more link: %+v, want one record numbered 8", recs)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSecondProcessLinksSynchronously(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	a := openDeferred(t, path)
	holdLinks(t, a)
	r := createApp(t, a)
	d := digest.FromString("a's")
	if err := a.LinkUploadedBlob(ctx, r.ID, d, 1, ""); err != nil {
		t.Fatal(err)
	}
	// b (a second coffer serve on the directory) cannot take the log: after waiting for it,
	// it applies what it finds there and links synchronously.
	defer func(w time.Duration) { linkLockWait = w }(linkLockWait)
	linkLockWait = 50 * time.Millisecond
	b := openDeferred(t, path)
	if b.links.deferring() {
		t.Fatal("a second store on the database took the link log")
	}
	var n int
	if err := b.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM repository_blobs WHERE digest = $1`, d.String()).Scan(&n); err != nil || n != 1 {
		t.Fatalf("b did not apply a's logged link: %d rows, %v", n, err)
	}
	e := digest.FromString("b's")
	if err := b.LinkUploadedBlob(ctx, r.ID, e, 1, ""); err != nil {
		t.Fatal(err)
	}
	if b.links.count() != 0 {
		t.Fatal("b deferred a link")
	}
	// a's next write skips the record b applied, and empties the log.
	if err := a.LinkBlob(ctx, r.ID, digest.FromString("third"), 1); err != nil {
		t.Fatal(err)
	}
	if a.links.count() != 0 || fileSize(t, path+"-links") != 0 {
		t.Fatalf("a: %d pending, log of %d bytes", a.links.count(), fileSize(t, path+"-links"))
	}
	for _, s := range []*Store{a, b} {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := fileSize(t, path+"-links"); n != 0 {
		t.Fatalf("a clean close left a log of %d bytes", n)
	}
}

// TestDeferringStoreWaitsForTheLog: coffer serve, started while coffer gc opens the database
// (and holds the log for as long as that takes), still gets the log.
func TestDeferringStoreWaitsForTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	f, err := os.OpenFile(path+"-links", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ok, err := tryLock(f, 0); !ok || err != nil {
		t.Fatalf("tryLock = %v, %v", ok, err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		f.Close() // releases the lock
	}()
	s := openDeferred(t, path)
	if !s.links.deferring() {
		t.Fatal("the store did not wait for the log's lock")
	}
	// A store that does not defer (coffer gc) does not wait, and leaves the log alone.
	g, err := OpenOptions(path, Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	r := createApp(t, s)
	holdLinks(t, s)
	if err := s.LinkUploadedBlob(ctx, r.ID, digest.FromString("x"), 1, ""); err != nil {
		t.Fatal(err)
	}
	if s.links.count() != 1 {
		t.Fatal("the link was not deferred after the other store opened")
	}
}

func TestFullLogLinksSynchronously(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s := openDeferred(t, path)
	holdLinks(t, s)
	s.links.limit = 1
	r := createApp(t, s)
	first, second := digest.FromString("1"), digest.FromString("2")
	if err := s.LinkUploadedBlob(ctx, r.ID, first, 1, ""); err != nil {
		t.Fatal(err)
	}
	if s.links.count() != 1 {
		t.Fatal("the first link was not deferred")
	}
	if err := s.LinkUploadedBlob(ctx, r.ID, second, 1, ""); err != nil {
		t.Fatal(err)
	}
	if s.links.count() != 0 || fileSize(t, path+"-links") != 0 {
		t.Fatalf("after a link into a full log: %d pending, log of %d bytes", s.links.count(), fileSize(t, path+"-links"))
	}
	for _, d := range []digest.Digest{first, second} {
		if _, err := s.StatBlob(ctx, r.ID, d); err != nil {
			t.Fatal(err)
		}
	}
}

// The child of TestDeferredLinksSurviveKill: it links blobs with the applier stopped,
// printing each acknowledged one, until it is killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("COFFER_LINKLOG_CHILD"); dir != "" {
		os.Exit(linkUntilKilled(dir))
	}
	os.Exit(m.Run())
}

func linkUntilKilled(dir string) int {
	s, err := OpenOptions(filepath.Join(dir, "meta.db"), Options{Synchronous: "NORMAL", DeferLinks: true})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	s.links.stopOnce.Do(func() { close(s.links.stop); <-s.links.done })
	r, err := s.GetRepository(ctx, "111122223333", "app")
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	for i := 0; ; i++ {
		if err := s.LinkUploadedBlob(ctx, r.ID, digest.FromString(strconv.Itoa(i)), int64(i), ""); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("linked", i)
	}
}

func TestDeferredLinksSurviveKill(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "meta.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r := createApp(t, s)
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "COFFER_LINKLOG_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "error") {
			t.Fatal(line)
		}
		acked, _ = strconv.Atoi(strings.TrimPrefix(line, "linked "))
		if acked >= 300 {
			cmd.Process.Kill() // SIGKILL: no Close, nothing applied but what the log holds
			break
		}
	}
	cmd.Wait()
	if acked < 300 {
		t.Fatalf("the child stopped after %d links", acked)
	}
	if fileSize(t, path+"-links") <= 0 {
		t.Fatal("the killed process left no log")
	}
	s, err = Open(path) // even without DeferLinks, Open applies the log
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i <= acked; i++ {
		if size, err := s.StatBlob(ctx, r.ID, digest.FromString(strconv.Itoa(i))); err != nil || size != int64(i) {
			t.Fatalf("acknowledged link %d of %d: StatBlob = %d, %v", i, acked, size, err)
		}
	}
	if n := fileSize(t, path+"-links"); n != 0 {
		t.Fatalf("log of %d bytes after Open applied it without DeferLinks", n)
	}
}

// FuzzParseLinkRecords: whatever a log holds, parsing takes a prefix of it whose records
// encode back to exactly that prefix.
func FuzzParseLinkRecords(f *testing.F) {
	one := appendLinkRecord(nil, linkRecord{seq: 1, repo: 2, size: 3, at: 4, digest: digest.FromString("x")})
	f.Add(one)
	f.Add(append(slices.Clone(one), one[:20]...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, valid := parseLinkRecords(b)
		if valid < 0 || valid > len(b) {
			t.Fatalf("valid = %d of %d bytes", valid, len(b))
		}
		var again []byte
		for _, r := range recs {
			again = appendLinkRecord(again, r)
		}
		if !bytes.Equal(again, b[:valid]) {
			t.Fatalf("%d records re-encode to %d bytes, not the %d parsed", len(recs), len(again), valid)
		}
	})
}

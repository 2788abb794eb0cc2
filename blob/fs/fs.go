// Package fs is the filesystem blob store: verified content under its digest, uploads in
// progress beside it, published only once the content is durable.
//
// Layout under the directory given to New:
//
//	blobs/<algorithm>/<first two hex digits>/<hex>   verified content (sha256 or sha512)
//	uploads/<uuid>[@<owner>]                          bytes received so far (read-only once
//	                                                  sealed: verified and being published)
//	uploads/<that>.hashstate                          sha256 state and the offset it covers
//	                                                  (uploads of 1 MiB or more)
//	trash/<hex>.<uuid>                                a blob being deleted (moved aside first;
//	                                                  put back by New after a crash)
//
// Every path is built from a digest that passed validation (known algorithm, lowercase hex of
// the algorithm's length) or from an upload id that parses as a canonical UUID, so no name or
// reference from a request can reach outside the directory (an upload's owner is limited to
// [0-9a-z-]).
//
// An upload is one file, not a directory, and all uploads share one directory. Each sync
// writes every directory block and directory inode that changed since the last one, and on
// the development VMs a sync's time grows with the number of blocks it writes (about 0.07 ms
// each under small pushes). Uploads spread over 256 subdirectories, as an earlier layout had
// them, touched a directory of their own each: about 3 of the 9 block writes a small blob
// cost. A create holds its directory's lock for the inode's allocation: tens of
// microseconds, more in the minutes after many files were deleted (ext4 without a journal
// scans past inodes freed lately), when creates queue on that lock.
//
// Publication is batched (see publisher): uploads that finish together are sealed (made
// read-only: verified, being published), made durable by one sync of the filesystem and
// linked under their digests; the next sync makes those names durable and the uploads' names
// are removed. After a crash, New publishes every sealed upload again.
//
// Publication and deletion: Commit and Put set the blob file's modification time to the time
// of publication (also when the blob already existed), holding a per-digest lock. DeleteUnused
// takes the same lock, moves the file aside and removes it only when its modification time is
// older than the caller's bound; otherwise it puts it back. Moving aside before the final check
// also keeps the rule when another process publishes into the same directory.
package fs

import (
	"context"
	"crypto/sha256"
	_ "crypto/sha512" // registers sha512 for go-digest
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-registry/coffer/blob"
	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"
)

const (
	blobsDir    = "blobs"
	uploadsDir  = "uploads"
	trashDir    = "trash"
	stateSuffix = ".hashstate"

	// bufferSize is the copy buffer for uploads: big enough that hashing and writing run in
	// long stretches.
	bufferSize = 1 << 20

	// stateMinSize: an upload smaller than this keeps no hashstate file; hashing its data
	// again on resume costs less than a file written per request (small pushes).
	stateMinSize = 1 << 20

	// writebackStep: ReadFrom starts writeback of the data every this many bytes (a small
	// upload leaves it all to the fsync at publication: one system call fewer).
	writebackStep = 8 << 20

	// sequentialMinSize: Open advises sequential reading for blobs of at least this size
	// (bigger readahead; a small blob is read in one go anyway).
	sequentialMinSize = 4 << 20
)

var bufferPool = sync.Pool{New: func() any { b := make([]byte, bufferSize); return &b }}

// Store is a blob.Store on a local directory.
type Store struct {
	root     string
	sealable bool             // the filesystem keeps a file's permissions (see probeSeal)
	locks    [1024]sync.Mutex // per-digest publication locks, striped (see lock)
	now      func() time.Time
	pub      publisher
}

var _ blob.Store = (*Store)(nil)

// New opens (creating when needed) a blob store rooted at dir.
func New(dir string) (*Store, error) {
	for _, sub := range []string{blobsDir, uploadsDir, trashDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return nil, fmt.Errorf("blob/fs: %w", err)
		}
	}
	s := &Store{root: dir, now: time.Now, pub: publisher{wake: make(chan struct{}, 1)}}
	s.sealable = probeSeal(filepath.Join(dir, uploadsDir))
	if err := s.recoverTrash(); err != nil {
		return nil, err
	}
	if err := s.convertOldUploads(); err != nil {
		return nil, err
	}
	if err := s.recoverUploads(); err != nil {
		return nil, err
	}
	return s, nil
}

// eachUploadFile calls fn for every file of the uploads directory, in no particular order,
// with that directory.
func (s *Store) eachUploadFile(fn func(dir string, e fs.DirEntry) error) error {
	dir := filepath.Join(s.root, uploadsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("blob/fs: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if err := fn(dir, e); err != nil {
			return err
		}
	}
	return nil
}

// convertOldUploads moves uploads of the two earlier layouts into the uploads directory, so
// that they can still be resumed (and sealed ones published by recoverUploads):
// uploads/<uuid>/data and uploads/<uuid>/hashstate (an earlier-layout directory without data,
// a crash inside its StartUpload, is removed), and uploads/<first two hex digits>/<name>
// (the shard directories are removed once empty). The moves are made durable before New
// goes on; after a crash during them, the next start converts the rest.
func (s *Store) convertOldUploads() error {
	dir := filepath.Join(s.root, uploadsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("blob/fs: %w", err)
	}
	moved := false
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if isShard(e.Name()) {
			n, err := s.convertShard(filepath.Join(dir, e.Name()))
			if err != nil {
				return err
			}
			moved = moved || n > 0
			continue
		}
		// A first-layout directory has the name its data takes: it is renamed aside first.
		name, aside := strings.CutSuffix(e.Name(), firstLayoutAside)
		id, err := parseID(name)
		if err != nil {
			continue
		}
		moved = true
		old := filepath.Join(dir, id+firstLayoutAside)
		if !aside {
			if err := os.Rename(filepath.Join(dir, id), old); err != nil {
				return fmt.Errorf("blob/fs: converting upload %s: %w", id, err)
			}
		}
		data := s.uploadPath(id, "")
		// The state first: a crash after moving the data would leave a state that the
		// offset check would still accept or reject correctly, but never one left behind.
		if err := os.Rename(filepath.Join(old, "hashstate"), data+stateSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("blob/fs: converting upload %s: %w", id, err)
		}
		if err := os.Rename(filepath.Join(old, "data"), data); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("blob/fs: converting upload %s: %w", id, err)
		}
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("blob/fs: %w", err)
		}
	}
	if moved {
		if err := syncAll(nil, []string{dir}); err != nil {
			return fmt.Errorf("blob/fs: %w", err)
		}
	}
	return nil
}

// firstLayoutAside is the suffix a first-layout upload directory takes while its files move
// out of it.
const firstLayoutAside = ".converting"

// isShard reports whether name is a shard directory of the second layout: two lowercase
// hex digits.
func isShard(name string) bool {
	return len(name) == 2 && strings.Trim(name, "0123456789abcdef") == ""
}

// convertShard moves the files of a shard directory of the second layout into the uploads
// directory (keeping their names: an upload's id and owner, or its hash state), removes the
// shard, and returns how many files it moved. Anything else in it (nothing Coffer wrote)
// stays, and so does the shard.
func (s *Store) convertShard(shard string) (moved int, err error) {
	entries, err := os.ReadDir(shard)
	if err != nil {
		return 0, fmt.Errorf("blob/fs: %w", err)
	}
	for _, e := range entries {
		name, _ := strings.CutSuffix(e.Name(), stateSuffix)
		if _, _, err := parseName(name); err != nil || !e.Type().IsRegular() {
			continue
		}
		if err := os.Rename(filepath.Join(shard, e.Name()), filepath.Join(filepath.Dir(shard), e.Name())); err != nil {
			return moved, fmt.Errorf("blob/fs: converting upload %s: %w", e.Name(), err)
		}
		moved++
	}
	os.Remove(shard) // fails, harmlessly, when something else is left in it
	return moved, nil
}

// uploadPath is the data file of upload id (a canonical UUID) bound to owner (valid).
func (s *Store) uploadPath(id, owner string) string {
	name := id
	if owner != "" {
		name += "@" + owner
	}
	return filepath.Join(s.root, uploadsDir, name)
}

// parseName splits an upload's file name into its id and owner.
func parseName(name string) (id, owner string, err error) {
	id, owner, _ = strings.Cut(name, "@")
	if _, err := parseID(id); err != nil || !blob.ValidOwner(owner) || strings.HasSuffix(name, "@") {
		return "", "", blob.ErrUploadUnknown
	}
	return id, owner, nil
}

// recoverTrash puts back blobs that a DeleteUnused interrupted by a crash left aside: the
// deletion was not finished, so the blob may have been published again in between. A
// restored blob that is garbage is found again by the collector's sweep.
func (s *Store) recoverTrash() error {
	dir := filepath.Join(s.root, trashDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("blob/fs: %w", err)
	}
	for _, e := range entries {
		aside := filepath.Join(dir, e.Name())
		hex, _, _ := strings.Cut(e.Name(), ".")
		for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
			d := digest.NewDigestFromEncoded(alg, hex)
			if checkDigest(d) != nil {
				continue
			}
			p, _ := s.blobPath(d)
			if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
				return fmt.Errorf("blob/fs: %w", err)
			}
			if err := os.Link(aside, p); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("blob/fs: restoring %s: %w", d, err)
			}
		}
		if err := os.Remove(aside); err != nil {
			return fmt.Errorf("blob/fs: %w", err)
		}
	}
	return nil
}

// probeSeal reports whether files in dir keep the permissions they are given: some network
// and FUSE filesystems ignore chmod, and there an upload cannot be sealed (it is then renamed
// to its blob's name instead, and its publication waits for a second sync).
func probeSeal(dir string) bool {
	f, err := os.CreateTemp(dir, "seal-probe-")
	if err != nil {
		return false
	}
	defer os.Remove(f.Name())
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || sealed(fi.Mode()) || f.Chmod(fi.Mode().Perm()&^0o222) != nil {
		return false
	}
	fi, err = f.Stat()
	return err == nil && sealed(fi.Mode())
}

// sealed reports whether an upload file is sealed: verified and being published under its
// digest (Commit takes the owner's write permission away before the data's sync, and gives
// it back if the publication fails).
func sealed(mode fs.FileMode) bool { return mode&0o200 == 0 }

// recoverUploads cleans up after a crash, in one pass over the uploads.
//
// It removes hash state files whose upload is gone (only a power loss leaves them: see
// removeState; a live upload's data file exists before its state is written and is removed
// before it).
//
// And it finishes the publications a crash interrupted. A sealed upload was verified, and
// its data and name were being made durable; its digest is its content's. When a blob of that
// content is linked to it, the publication ended and only the upload's name is left to
// remove. Otherwise its content is linked under its sha256 and its sha512 digest (an upload is
// verified with one of them; the other name is garbage the collector's sweep removes). A
// crash before the data's sync may have left it torn: then it is linked under the digest of
// what is there, which nothing names, and is collected too. The blobs' names are made durable
// before the uploads' names go.
func (s *Store) recoverUploads() error {
	type relink struct {
		path    string
		targets []string
	}
	var relinks []relink
	var remove []string
	err := s.eachUploadFile(func(dir string, e fs.DirEntry) error {
		path := filepath.Join(dir, e.Name())
		if name, ok := strings.CutSuffix(e.Name(), stateSuffix); ok {
			if _, _, err := parseName(name); err == nil {
				if _, err := os.Lstat(filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
					os.Remove(path)
				}
			}
			return nil
		}
		if _, _, err := parseName(e.Name()); err != nil || !e.Type().IsRegular() {
			return nil
		}
		fi, err := e.Info()
		if err != nil || !sealed(fi.Mode()) {
			return nil
		}
		ds, err := fileDigests(path)
		if err != nil {
			return err
		}
		r := relink{path: path}
		for _, d := range ds {
			t, _ := s.blobPath(d)
			if bi, err := os.Stat(t); err == nil && os.SameFile(fi, bi) {
				remove = append(remove, path) // published: only its name is left
				return nil
			}
			r.targets = append(r.targets, t)
		}
		relinks = append(relinks, r)
		return nil
	})
	if err != nil {
		return err
	}
	if len(relinks) > 0 {
		// The data first (another process sharing the directory may not have synced it
		// yet), then the names, then the uploads' names may go.
		if err := syncAll(nil, []string{s.root}); err != nil {
			return fmt.Errorf("blob/fs: %w", err)
		}
		for _, r := range relinks {
			for _, t := range r.targets {
				if _, err := place(os.Link, r.path, t); err != nil && !errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("blob/fs: publishing %s again: %w", filepath.Base(t), err)
				}
			}
			remove = append(remove, r.path)
		}
		if err := syncAll(nil, []string{s.root}); err != nil {
			return fmt.Errorf("blob/fs: %w", err)
		}
	}
	for _, p := range remove {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("blob/fs: %w", err)
		}
		os.Remove(p + stateSuffix)
	}
	return nil
}

// fileDigests returns the sha256 and sha512 digests of a file's content.
func fileDigests(path string) ([]digest.Digest, error) {
	f, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("blob/fs: %w", err)
	}
	defer f.Close()
	h256, h512 := digest.SHA256.Digester(), digest.SHA512.Digester()
	bp := bufferPool.Get().(*[]byte)
	defer bufferPool.Put(bp)
	if _, err := io.CopyBuffer(io.MultiWriter(h256.Hash(), h512.Hash()), f, *bp); err != nil {
		return nil, fmt.Errorf("blob/fs: %w", err)
	}
	return []digest.Digest{h256.Digest(), h512.Digest()}, nil
}

// blobPath returns the path of a digest, or an error for anything that is not a valid digest
// of a supported algorithm.
func (s *Store) blobPath(d digest.Digest) (string, error) {
	if err := checkDigest(d); err != nil {
		return "", err
	}
	hex := d.Encoded()
	return filepath.Join(s.root, blobsDir, string(d.Algorithm()), hex[:2], hex), nil
}

// checkDigest accepts sha256 and sha512 digests in canonical form.
func checkDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		if errors.Is(err, digest.ErrDigestUnsupported) {
			return fmt.Errorf("%w: %v", blob.ErrUnsupported, err)
		}
		return fmt.Errorf("%w: %v", blob.ErrDigestMismatch, err)
	}
	if alg := d.Algorithm(); alg != digest.SHA256 && alg != digest.SHA512 {
		return fmt.Errorf("%w: %q", blob.ErrUnsupported, alg)
	}
	return nil
}

func (s *Store) lock(d digest.Digest) *sync.Mutex {
	// A publication holds its digest's lock while it waits for its sync (milliseconds), so
	// two uploads that share a stripe wait for each other: with 16 pushes in flight, 64
	// stripes made one in five wait a whole publication more; 1024 make it one in 70.
	i, _ := strconv.ParseUint(d.Encoded()[:3], 16, 16) // a valid digest has that much hex
	return &s.locks[i%uint64(len(s.locks))]
}

// Stat returns the blob's size.
func (s *Store) Stat(ctx context.Context, d digest.Digest) (int64, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return 0, notFoundFor(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, notFound(err)
	}
	return fi.Size(), nil
}

// notFoundFor turns a digest validation error into ErrNotFound for read paths: a blob with
// an invalid digest does not exist.
func notFoundFor(err error) error {
	if errors.Is(err, blob.ErrUnsupported) {
		return err
	}
	return fmt.Errorf("%w: %v", blob.ErrNotFound, err)
}

func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return blob.ErrNotFound
	}
	return fmt.Errorf("blob/fs: %w", err)
}

// content is an open blob. It embeds *os.File so that the file's SyscallConn reaches
// net/http and the kernel's sendfile serves it.
type content struct {
	*os.File
	size int64
}

func (c content) Size() int64 { return c.size }

// Open opens a blob for reading.
func (s *Store) Open(ctx context.Context, d digest.Digest) (blob.Content, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return nil, notFoundFor(err)
	}
	f, err := openFile(p, os.O_RDONLY, 0)
	if err != nil {
		return nil, notFound(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blob/fs: %w", err)
	}
	if fi.Size() >= sequentialMinSize {
		adviseSequential(f)
	}
	return content{File: f, size: fi.Size()}, nil
}

// Put stores small content after checking its digest.
func (s *Store) Put(ctx context.Context, d digest.Digest, p []byte) error {
	if err := checkDigest(d); err != nil {
		return err
	}
	if d.Algorithm().FromBytes(p) != d {
		return blob.ErrDigestMismatch
	}
	u, err := s.StartUpload(ctx, "")
	if err != nil {
		return err
	}
	if _, err := u.Write(p); err != nil {
		u.Cancel(ctx)
		return err
	}
	_, err = u.Commit(ctx, d)
	return err
}

// Delete removes a blob unconditionally.
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	p, err := s.blobPath(d)
	if err != nil {
		return notFoundFor(err)
	}
	mu := s.lock(d)
	mu.Lock()
	defer mu.Unlock()
	if err := os.Remove(p); err != nil {
		return notFound(err)
	}
	return nil
}

// DeleteUnused removes a blob whose last publication is older than since.
func (s *Store) DeleteUnused(ctx context.Context, d digest.Digest, since time.Time) error {
	p, err := s.blobPath(d)
	if err != nil {
		return notFoundFor(err)
	}
	mu := s.lock(d)
	mu.Lock()
	defer mu.Unlock()
	fi, err := os.Stat(p)
	if err != nil {
		return notFound(err)
	}
	if !fi.ModTime().Before(since) {
		return blob.ErrInUse
	}
	aside := filepath.Join(s.root, trashDir, d.Encoded()+"."+uuid.NewString())
	if err := os.Rename(p, aside); err != nil {
		return notFound(err)
	}
	// A publisher in another process may have touched the file between Stat and Rename;
	// the file moved aside is the one it touched, so its time tells.
	fi, err = os.Stat(aside)
	if err == nil && !fi.ModTime().Before(since) {
		// Put it back unless a newer copy landed meanwhile.
		if lerr := os.Link(aside, p); lerr != nil && !errors.Is(lerr, fs.ErrExist) {
			return fmt.Errorf("blob/fs: restoring %s: %w", d, lerr)
		}
		os.Remove(aside)
		return blob.ErrInUse
	}
	if err := os.Remove(aside); err != nil {
		return fmt.Errorf("blob/fs: %w", err)
	}
	syncDir(filepath.Dir(p))
	return nil
}

// Walk calls fn for every stored blob.
func (s *Store) Walk(ctx context.Context, fn func(d digest.Digest, size int64, modTime time.Time) error) error {
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		base := filepath.Join(s.root, blobsDir, string(alg))
		prefixes, err := os.ReadDir(base)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("blob/fs: %w", err)
		}
		for _, pre := range prefixes {
			entries, err := os.ReadDir(filepath.Join(base, pre.Name()))
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return fmt.Errorf("blob/fs: %w", err)
			}
			for _, e := range entries {
				if err := ctx.Err(); err != nil {
					return err
				}
				d := digest.NewDigestFromEncoded(alg, e.Name())
				if checkDigest(d) != nil {
					continue
				}
				fi, err := e.Info()
				if err != nil {
					continue // deleted meanwhile
				}
				if err := fn(d, fi.Size(), fi.ModTime()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Uploads lists uploads in progress with their owner and the time their data was last written.
func (s *Store) Uploads(ctx context.Context, fn func(id, owner string, modTime time.Time) error) error {
	return s.eachUploadFile(func(dir string, e fs.DirEntry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		id, owner, err := parseName(e.Name())
		if err != nil {
			return nil
		}
		fi, err := e.Info()
		if err != nil || sealed(fi.Mode()) {
			return nil // committed or cancelled meanwhile, or being published
		}
		return fn(id, owner, fi.ModTime())
	})
}

// parseID accepts only canonical UUIDs, the only names an upload directory may have.
func parseID(id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return "", blob.ErrUploadUnknown
	}
	return id, nil
}

// StartUpload creates a new upload bound to owner.
func (s *Store) StartUpload(ctx context.Context, owner string) (blob.Upload, error) {
	if !blob.ValidOwner(owner) {
		return nil, fmt.Errorf("blob/fs: invalid upload owner %q", owner)
	}
	id := uuid.NewString()
	path := s.uploadPath(id, owner)
	f, err := openFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("blob/fs: %w", err)
	}
	return &upload{store: s, id: id, path: path, f: f, h: sha256.New()}, nil
}

// ResumeUpload reopens an upload, restoring its hash state or re-hashing its data when the
// saved state does not cover exactly the bytes on disk (after a crash).
func (s *Store) ResumeUpload(ctx context.Context, id, owner string) (blob.Upload, error) {
	if _, err := parseID(id); err != nil || !blob.ValidOwner(owner) {
		return nil, blob.ErrUploadUnknown
	}
	path := s.uploadPath(id, owner)
	f, err := openFile(path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) { // or sealed
			return nil, blob.ErrUploadUnknown
		}
		return nil, fmt.Errorf("blob/fs: %w", err)
	}
	if fi, err := f.Stat(); err != nil || sealed(fi.Mode()) {
		// Committed: being published, or its publication's crash is for New to finish.
		f.Close()
		return nil, blob.ErrUploadUnknown
	}
	u := &upload{store: s, id: id, path: path, f: f}
	if err := u.restore(); err != nil {
		f.Close()
		return nil, err
	}
	return u, nil
}

type upload struct {
	store *Store
	id    string
	path  string // the data file; its hash state is path+stateSuffix
	f     *os.File
	h     hash.Hash // sha256 of f[0:size]
	size  int64
	saved int64 // size covered by the hashstate file, -1 when unknown
	kick  int64 // offset up to which writeback was started
	done  bool
}

func (u *upload) ID() string  { return u.id }
func (u *upload) Size() int64 { return u.size }

func (u *upload) restore() error {
	end, err := u.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("blob/fs: %w", err)
	}
	u.h = sha256.New()
	if end == 0 {
		return nil
	}
	if end >= stateMinSize {
		if state, err := os.ReadFile(u.path + stateSuffix); err == nil && len(state) > 8 {
			offset := int64(binary.BigEndian.Uint64(state))
			if offset == end && u.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state[8:]) == nil {
				u.size, u.saved = end, end
				return nil
			}
		}
	}
	// The state is missing or stale: hash the data again.
	u.h.Reset()
	bp := bufferPool.Get().(*[]byte)
	defer bufferPool.Put(bp)
	n, err := io.CopyBuffer(u.h, io.NewSectionReader(u.f, 0, end), *bp)
	if err != nil {
		return fmt.Errorf("blob/fs: rehashing upload: %w", err)
	}
	u.size, u.saved = n, -1
	return nil
}

func (u *upload) Write(p []byte) (int, error) {
	if u.done {
		return 0, blob.ErrUploadUnknown
	}
	n, err := u.f.Write(p)
	u.h.Write(p[:n])
	u.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("blob/fs: %w", err)
	}
	return n, nil
}

// ReadFrom copies r into the upload. It is the fast path for request bodies: the caller's
// goroutine reads chunks and writes them to the file while a second goroutine hashes the
// chunks already written, so hashing (about 1 GB/s for sha256 on one core) overlaps with
// network and file I/O. Writeback to disk starts as data arrives (sync_file_range), so the
// fsync at Commit finds little left to do. The hash state is saved at the end.
func (u *upload) ReadFrom(r io.Reader) (int64, error) {
	if u.done {
		return 0, blob.ErrUploadUnknown
	}
	// A body that fits one buffer (every small blob) is written and hashed right here: a
	// second goroutine would cost more than it overlaps.
	first := bufferPool.Get().(*[]byte)
	n, rerr := fill(r, *first)
	if rerr != nil {
		defer bufferPool.Put(first)
		w, err := u.Write((*first)[:n])
		if err == nil && rerr != io.EOF {
			err = rerr
		}
		if serr := u.saveState(); err == nil {
			err = serr
		}
		return int64(w), err
	}
	return u.readFromPipelined(r, first)
}

// readFromPipelined is ReadFrom for a body bigger than one buffer, of which first holds the
// first buffer full.
func (u *upload) readFromPipelined(r io.Reader, first *[]byte) (int64, error) {
	const inFlight = 4
	free := make(chan *[]byte, inFlight)
	for range inFlight - 1 {
		free <- bufferPool.Get().(*[]byte)
	}
	type chunk struct {
		bp *[]byte
		n  int
	}
	toHash := make(chan chunk, inFlight)
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for c := range toHash {
			u.h.Write((*c.bp)[:c.n])
			free <- c.bp
		}
	}()
	var total int64
	var err error
	bp, n, rerr := first, len(*first), error(nil)
	for {
		w, werr := 0, error(nil)
		if n > 0 {
			w, werr = u.f.Write((*bp)[:n])
		}
		if w > 0 {
			toHash <- chunk{bp, w}
			u.size += int64(w)
			if u.size-u.kick >= writebackStep {
				u.startWriteback(u.kick, u.size-u.kick)
				u.kick = u.size
			}
			total += int64(w)
		} else {
			free <- bp
		}
		if werr != nil {
			err = fmt.Errorf("blob/fs: %w", werr)
			break
		}
		if rerr != nil {
			if rerr != io.EOF {
				err = rerr
			}
			break
		}
		bp = <-free
		n, rerr = fill(r, *bp)
	}
	close(toHash)
	<-hashed
	for range inFlight {
		bufferPool.Put(<-free)
	}
	if serr := u.saveState(); err == nil {
		err = serr
	}
	return total, err
}

// fill reads into buf until it is full or r returns an error (io.EOF at the end).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// saveState writes the sha256 state with the offset it covers. It is not synced: after a
// crash a stale or torn state is detected by its offset or its format and the data re-hashed.
func (u *upload) saveState() error {
	if u.saved == u.size || u.size < stateMinSize {
		return nil
	}
	state, err := u.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return fmt.Errorf("blob/fs: %w", err)
	}
	buf := make([]byte, 8, 8+len(state))
	binary.BigEndian.PutUint64(buf, uint64(u.size))
	buf = append(buf, state...)
	if err := os.WriteFile(u.path+stateSuffix, buf, 0o640); err != nil {
		return fmt.Errorf("blob/fs: %w", err)
	}
	u.saved = u.size
	return nil
}

// Commit verifies the digest and publishes the data under it.
func (u *upload) Commit(ctx context.Context, d digest.Digest) (int64, error) {
	if u.done {
		return 0, blob.ErrUploadUnknown
	}
	target, err := u.store.blobPath(d)
	if err != nil {
		if errors.Is(err, blob.ErrDigestMismatch) {
			u.Cancel(ctx)
		}
		return 0, err
	}
	var sum digest.Digest
	switch d.Algorithm() {
	case digest.SHA256:
		sum = digest.NewDigest(digest.SHA256, u.h)
	default:
		h := d.Algorithm().Digester()
		bp := bufferPool.Get().(*[]byte)
		_, err := io.CopyBuffer(h.Hash(), io.NewSectionReader(u.f, 0, u.size), *bp)
		bufferPool.Put(bp)
		if err != nil {
			return 0, fmt.Errorf("blob/fs: %w", err)
		}
		sum = h.Digest()
	}
	if sum != d {
		u.Cancel(ctx)
		return 0, blob.ErrDigestMismatch
	}
	if err := u.publish(d, target); err != nil {
		return 0, err
	}
	return u.size, nil
}

// publish makes the verified data visible at target, durably, before it returns. An existing
// blob wins; it is touched so that it counts as published now. The caller's digest lock is
// held while its publication waits in a batch (see publisher).
func (u *upload) publish(d digest.Digest, target string) error {
	s := u.store
	mu := s.lock(d)
	mu.Lock()
	defer mu.Unlock()
	now := s.now()
	if u.touchExisting(target, now) {
		u.discard()
		return nil
	}
	pb, err := u.prepare(d, target, now)
	if err != nil {
		return err
	}
	return u.finish(pb, s.pub.publish(pb), now)
}

// touchExisting reports whether the blob is already at target, touching it.
func (u *upload) touchExisting(target string, now time.Time) bool {
	fi, err := os.Stat(target)
	return err == nil && fi.Size() == u.size && os.Chtimes(target, now, now) == nil
}

// prepare stamps the data with the time of publication and seals it (see sealed).
func (u *upload) prepare(d digest.Digest, target string, now time.Time) (*publication, error) {
	pb := &publication{f: u.f, upload: u.path, target: target, rename: !u.store.sealable}
	err := setTimes(u.f, now)
	if err == nil && !pb.rename {
		var fi os.FileInfo
		if fi, err = u.f.Stat(); err == nil {
			pb.mode = fi.Mode().Perm()
			err = u.f.Chmod(pb.mode &^ 0o222)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("blob/fs: %w", err)
	}
	return pb, nil
}

// finish ends the upload after its publication: a failed one is an upload again (it can be
// resumed), one whose blob appeared meanwhile is discarded.
func (u *upload) finish(pb *publication, err error, now time.Time) error {
	if err != nil {
		if pb.rename {
			return err
		}
		if cerr := u.f.Chmod(pb.mode); cerr != nil {
			u.done = true // sealed for good: New publishes it
			u.f.Close()
		}
		return err
	}
	if pb.exists {
		os.Chtimes(pb.target, now, now)
		os.Remove(pb.upload)
	}
	u.done = true
	u.f.Close()
	u.removeState()
	return nil
}

// Cancel discards the upload.
func (u *upload) Cancel(ctx context.Context) error {
	if u.done {
		return nil
	}
	u.discard()
	return nil
}

func (u *upload) discard() {
	u.done = true
	u.f.Close()
	os.Remove(u.path)
	u.removeState()
}

// removeState removes the hash state file when there may be one: ReadFrom saves it only
// for uploads of stateMinSize bytes or more, and sizes only grow. (A state left behind by a
// power loss that shortened the data is removed when the store is opened next.)
func (u *upload) removeState() {
	if u.saved != 0 || u.size >= stateMinSize {
		os.Remove(u.path + stateSuffix)
	}
}

// Close saves the hash state and keeps the upload for ResumeUpload.
func (u *upload) Close() error {
	if u.done {
		return nil
	}
	u.done = true
	err := u.saveState()
	if cerr := u.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("blob/fs: %w", cerr)
	}
	return err
}

func syncDir(dir string) error {
	f, err := openFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

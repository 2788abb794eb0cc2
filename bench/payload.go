package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
)

// pattern is a block of pseudo-random bytes that big blobs repeat. Repeating one block keeps
// the client from spending CPU on generating bytes while it measures a server; no registry
// deduplicates inside a blob, so the server does the same work as for fully random content.
type pattern []byte

// newPattern returns size pseudo-random bytes from a ChaCha8 stream seeded with seed.
func newPattern(size int, seed uint64) pattern {
	var key [32]byte
	for i := range 4 {
		for j := range 8 {
			key[i*8+j] = byte(seed >> (8 * j))
		}
		seed = seed*6364136223846793005 + 1442695040888963407
	}
	p := make([]byte, size)
	_, _ = rand.NewChaCha8(key).Read(p)
	return p
}

// blobSpec names one blob: its size and its digest ("sha256:...").
type blobSpec struct {
	Size   int64
	Digest string
}

// repeatedBlob is a blob of Size bytes made of its pattern repeated, with the digest worked
// out once, before anything is timed.
type repeatedBlob struct {
	blobSpec
	pattern pattern
}

// newRepeatedBlob hashes size bytes of p repeated and returns the blob.
func newRepeatedBlob(p pattern, size int64) (*repeatedBlob, error) {
	if len(p) == 0 {
		return nil, errors.New("empty pattern")
	}
	b := &repeatedBlob{blobSpec: blobSpec{Size: size}, pattern: p}
	h := sha256.New()
	if _, err := b.reader().WriteTo(h); err != nil {
		return nil, err
	}
	b.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return b, nil
}

// reader returns a fresh reader over the blob's bytes.
func (b *repeatedBlob) reader() *patternReader {
	return &patternReader{pattern: b.pattern, remaining: b.Size}
}

// patternReader streams remaining bytes of a repeated pattern. It implements io.WriterTo so
// that io.Copy hands the destination whole pattern-sized slices without an extra copy.
type patternReader struct {
	pattern   pattern
	off       int
	remaining int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.remaining == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.remaining > 0 {
		chunk := r.next(int64(len(p) - n))
		n += copy(p[n:], chunk)
	}
	return n, nil
}

func (r *patternReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.remaining > 0 {
		chunk := r.next(r.remaining)
		n, err := w.Write(chunk)
		total += int64(n)
		if err != nil {
			return total, err
		}
		if n != len(chunk) {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}

// next returns up to limit bytes from the current position and advances past them.
func (r *patternReader) next(limit int64) []byte {
	chunk := r.pattern[r.off:]
	if int64(len(chunk)) > limit {
		chunk = chunk[:limit]
	}
	if int64(len(chunk)) > r.remaining {
		chunk = chunk[:r.remaining]
	}
	r.off += len(chunk)
	if r.off == len(r.pattern) {
		r.off = 0
	}
	r.remaining -= int64(len(chunk))
	return chunk
}

// smallBlob is a blob held whole in memory.
type smallBlob struct {
	blobSpec
	data []byte
}

// newSmallBlobs cuts count distinct blobs of size bytes out of one pseudo-random buffer and
// digests each.
func newSmallBlobs(count int, size int, seed uint64) ([]smallBlob, error) {
	if count <= 0 || size <= 0 {
		return nil, fmt.Errorf("small blobs: count %d and size %d must be positive", count, size)
	}
	buf := newPattern(count*size, seed)
	blobs := make([]smallBlob, count)
	for i := range blobs {
		data := buf[i*size : (i+1)*size : (i+1)*size]
		sum := sha256.Sum256(data)
		blobs[i] = smallBlob{
			blobSpec: blobSpec{Size: int64(size), Digest: "sha256:" + hex.EncodeToString(sum[:])},
			data:     data,
		}
	}
	return blobs, nil
}

// discard is a writer that drops everything. Unlike io.Discard it has no ReadFrom, so
// io.CopyBuffer really uses the caller's (large) buffer: reading a 1 GiB body through
// io.Discard's 8 KiB buffers costs the client more syscalls than the server spends.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// sha256Speed measures one core's SHA-256 speed in MB/s over at least 256 MiB of p.
func sha256Speed(p pattern) float64 {
	h := sha256.New()
	var n int64
	start := time.Now()
	for n < 256<<20 {
		h.Write(p)
		n += int64(len(p))
	}
	return mbPerSec(n, time.Since(start))
}

// writeSpeed writes size bytes of p into a new file in dir, fsyncs it, removes it and
// returns MB/s: the most any registry storing a blob in dir can reach.
func writeSpeed(dir string, p pattern, size int64) (float64, error) {
	f, err := os.CreateTemp(dir, "write-speed-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	start := time.Now()
	r := &patternReader{pattern: p, remaining: size}
	if _, err := r.WriteTo(f); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return mbPerSec(size, time.Since(start)), nil
}

// smallFileSpeed is how many files of size a plain program publishes per second in dir with
// concurrency writers, the way a content-addressed registry that keeps its promise publishes
// small blobs: create, write, fsync, rename into one of 256 directories (as blobs are spread
// by their digests' first two hex digits), fsync that directory. No registry that fsyncs and
// spreads its blobs so stores small blobs faster on this filesystem. The files are left for
// the end of the run (see retire).
func smallFileSpeed(dir string, size, count, concurrency int) (float64, error) {
	base, err := os.MkdirTemp(dir, "small-files-")
	if err != nil {
		return 0, err
	}
	defer retire(base)
	in, out := filepath.Join(base, "in"), filepath.Join(base, "out")
	if err := os.Mkdir(in, 0o755); err != nil {
		return 0, err
	}
	for i := range 256 {
		if err := os.MkdirAll(filepath.Join(out, fmt.Sprintf("%02x", i)), 0o755); err != nil {
			return 0, err
		}
	}
	data := make([]byte, size)
	var next atomic.Int64
	errs := make(chan error, concurrency)
	start := time.Now()
	for range concurrency {
		go func() {
			errs <- func() error {
				for {
					i := next.Add(1)
					if i > int64(count) {
						return nil
					}
					name := strconv.FormatInt(i, 10)
					f, err := os.OpenFile(filepath.Join(in, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
					if err != nil {
						return err
					}
					_, err = f.Write(data)
					if err == nil {
						err = f.Sync()
					}
					if cerr := f.Close(); err == nil {
						err = cerr
					}
					shard := filepath.Join(out, fmt.Sprintf("%02x", (i*7919)%256))
					if err == nil {
						err = os.Rename(filepath.Join(in, name), filepath.Join(shard, name))
					}
					if err == nil {
						err = syncDir(shard)
					}
					if err != nil {
						return err
					}
				}
			}()
		}()
	}
	for range concurrency {
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	return float64(count) / time.Since(start).Seconds(), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

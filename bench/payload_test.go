package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path/filepath"
	"testing"
)

// naive returns size bytes of p repeated, the obvious way.
func naive(p []byte, size int) []byte {
	out := make([]byte, 0, size)
	for len(out) < size {
		out = append(out, p[:min(len(p), size-len(out))]...)
	}
	return out
}

func TestRepeatedBlobBytesAndDigest(t *testing.T) {
	p := newPattern(1000, 7)
	for _, size := range []int64{1, 999, 1000, 1001, 4567} {
		b, err := newRepeatedBlob(p, size)
		if err != nil {
			t.Fatal(err)
		}
		want := naive(p, int(size))
		sum := sha256.Sum256(want)
		if b.Digest != "sha256:"+hex.EncodeToString(sum[:]) {
			t.Errorf("size %d: digest %s does not match the bytes", size, b.Digest)
		}

		// Read with an odd buffer size, so reads straddle the pattern's end.
		var viaRead bytes.Buffer
		if _, err := io.CopyBuffer(struct{ io.Writer }{&viaRead}, struct{ io.Reader }{b.reader()}, make([]byte, 333)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(viaRead.Bytes(), want) {
			t.Errorf("size %d: Read gave %d different bytes", size, viaRead.Len())
		}
		var viaWriteTo bytes.Buffer
		n, err := b.reader().WriteTo(&viaWriteTo)
		if err != nil || n != size || !bytes.Equal(viaWriteTo.Bytes(), want) {
			t.Errorf("size %d: WriteTo gave %d bytes, err %v", size, n, err)
		}
	}
}

func TestPatternSeedsDiffer(t *testing.T) {
	a, b, a2 := newPattern(64, 1), newPattern(64, 2), newPattern(64, 1)
	if bytes.Equal(a, b) {
		t.Error("seeds 1 and 2 gave the same bytes")
	}
	if !bytes.Equal(a, a2) {
		t.Error("seed 1 is not reproducible")
	}
}

func TestSmallBlobsDistinctWithRightDigests(t *testing.T) {
	blobs, err := newSmallBlobs(50, 100, 9)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, b := range blobs {
		sum := sha256.Sum256(b.data)
		if b.Digest != "sha256:"+hex.EncodeToString(sum[:]) || b.Size != 100 || len(b.data) != 100 {
			t.Fatalf("blob %d: digest or size wrong", i)
		}
		if seen[b.Digest] {
			t.Fatalf("blob %d repeats an earlier one", i)
		}
		seen[b.Digest] = true
	}
	if _, err := newSmallBlobs(0, 100, 1); err == nil {
		t.Error("0 blobs accepted")
	}
}

func TestSmallFileSpeedPublishesEveryFile(t *testing.T) {
	dir := t.TempDir()
	fps, err := smallFileSpeed(dir, 1000, 50, 4)
	if err != nil || fps <= 0 {
		t.Fatalf("smallFileSpeed = %v, %v", fps, err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "small-files-*", "out", "*", "*"))
	if len(matches) != 50 {
		t.Fatalf("%d files published, want 50", len(matches))
	}
	removeRetired()
	if left, _ := filepath.Glob(filepath.Join(dir, "small-files-*")); len(left) != 0 {
		t.Fatalf("left after removeRetired: %v", left)
	}
}

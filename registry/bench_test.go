package registry

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	blobfs "github.com/coffer-registry/coffer/blob/fs"
	"github.com/coffer-registry/coffer/store/cache"
	"github.com/coffer-registry/coffer/store/sqlite"
	"github.com/opencontainers/go-digest"
)

// benchClient keeps enough idle connections for parallel benchmarks over loopback.
func benchClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 256
	return &http.Client{Transport: t}
}

// BenchmarkManifestGetByTag: parallel pulls of one manifest by tag (the hot path of every
// docker pull), real stores, real HTTP over loopback.
func BenchmarkManifestGetByTag(b *testing.B) {
	tr := newTestRegistry(b, nil)
	img := tr.pushImage(testRepo, "latest", nil)
	url := tr.srv.URL + testRepo + "/manifests/latest"
	client := benchClient()
	b.ReportAllocs()
	b.SetBytes(int64(len(img.manifest)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || n != int64(len(img.manifest)) {
				b.Errorf("status %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
}

// BenchmarkBlobPushMonolithic: one 64 MiB blob per POST ?digest= (streamed into the blob
// store, hashed, fsynced, linked). The bytes per second are the push throughput.
func BenchmarkBlobPushMonolithic(b *testing.B) {
	tr := newTestRegistry(b, nil)
	content := randomBytes(b, 64<<20)
	d := digest.FromBytes(content)
	url := tr.srv.URL + testRepo + "/blobs/uploads/?digest=" + d.String()
	client := benchClient()
	b.SetBytes(int64(len(content)))
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Post(url, "application/octet-stream", bytes.NewReader(content))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkBlobGet: 16 MiB blob pulls, parallel (sendfile path).
func BenchmarkBlobGet(b *testing.B) {
	tr := newTestRegistry(b, nil)
	content := randomBytes(b, 16<<20)
	d := tr.pushBlob(testRepo, content)
	url := tr.srv.URL + testRepo + "/blobs/" + d.String()
	client := benchClient()
	b.SetBytes(int64(len(content)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || n != int64(len(content)) {
				b.Errorf("status %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
}

// BenchmarkSmallBlobPush: 64 KiB blobs pushed by 16 parallel clients with POST, then PUT
// ?digest= with the body (the bench command's small-push), over the stores as coffer serve
// opens them: SQLite with synchronous=NORMAL (durability "process") behind the cache.
func BenchmarkSmallBlobPush(b *testing.B) {
	dir := b.TempDir()
	blobs, err := blobfs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	db, err := sqlite.OpenOptions(filepath.Join(dir, "meta.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	meta := cache.New(db, cache.Options{})
	b.Cleanup(func() { meta.Close() })
	if _, err := meta.CreateRepository(context.Background(), testAccount, "team/app"); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(New(Config{Blobs: blobs, Store: meta, Region: "us-east-1",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	b.Cleanup(srv.Close)
	client := benchClient()
	var seq atomic.Int64
	b.SetBytes(64 << 10)
	b.SetParallelism(8) // 16 clients on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		content := make([]byte, 64<<10)
		for pb.Next() {
			binary.BigEndian.PutUint64(content, uint64(seq.Add(1)))
			d := digest.FromBytes(content)
			resp, err := client.Post(srv.URL+testRepo+"/blobs/uploads/", "", nil)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("POST: status %d", resp.StatusCode)
				return
			}
			req, _ := http.NewRequest(http.MethodPut, srv.URL+resp.Header.Get("Location")+"?digest="+d.String(), bytes.NewReader(content))
			resp, err = client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("PUT: status %d", resp.StatusCode)
				return
			}
		}
	})
}

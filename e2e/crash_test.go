package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestKillDuringConcurrentPushes pushes 50 small images at once, kills the server with SIGKILL
// once a quarter of them were acknowledged, restarts it on the same data directory, and checks:
// every acknowledged push (manifest PUT answered 201) pulls back byte for byte, and nothing
// half-written is visible (every listed tag resolves to a manifest whose blobs all exist).
func TestKillDuringConcurrentPushes(t *testing.T) {
	const (
		pushes = 50
		repos  = 5
	)
	dir := t.TempDir()
	srv := startCoffer(t, dir)

	type push struct {
		repo, tag string
		img       v1.Image
		manifest  []byte
		acked     atomic.Bool
	}
	all := make([]*push, pushes)
	for i := range all {
		img := randomImage(t, uint64(1000+i), 2, 96*1024)
		raw, err := img.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		all[i] = &push{repo: fmt.Sprintf("e2e/crash-%d", i%repos), tag: fmt.Sprintf("t%d", i), img: img, manifest: raw}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var acks atomic.Int32
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, p := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref, err := name.NewTag(srv.Ref(p.repo, ":"+p.tag), name.Insecure)
			if err != nil {
				t.Error(err)
				return
			}
			<-start
			err = remote.Write(ref, p.img, remote.WithContext(ctx),
				remote.WithRetryBackoff(remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 1}))
			if err == nil {
				p.acked.Store(true)
				if acks.Add(1) >= pushes/4 {
					once.Do(func() { close(enough) })
				}
			}
		}()
	}
	close(start)
	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatalf("fewer than %d pushes were acknowledged in time; server log:\n%s", pushes/4, srv.tail())
	}
	srv.Kill()
	wg.Wait()
	acked := 0
	for _, p := range all {
		if p.acked.Load() {
			acked++
		}
	}
	t.Logf("%d of %d pushes acknowledged before kill -9", acked, pushes)

	srv = startCoffer(t, dir)
	for _, p := range all {
		if !p.acked.Load() {
			continue
		}
		path := "/v2/" + account + "/" + p.repo + "/manifests/" + p.tag
		resp, body, err := srv.get(path, string(mustMediaType(t, p.img)))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("acknowledged %s:%s: GET manifest: %v %v", p.repo, p.tag, statusOf(resp), err)
			continue
		}
		if !bytes.Equal(body, p.manifest) {
			t.Errorf("acknowledged %s:%s: manifest differs from the one pushed", p.repo, p.tag)
		}
		for d, content := range layerBlobs(t, p.img) {
			resp, got, err := srv.get("/v2/"+account+"/"+p.repo+"/blobs/"+d, "")
			if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
				t.Errorf("acknowledged %s:%s: layer %s: %v %v (bytes equal: %v)", p.repo, p.tag, d, statusOf(resp), err, bytes.Equal(got, content))
			}
		}
	}

	// Nothing half-written: every blob of every push, acknowledged or not, is either absent
	// or served whole.
	for _, p := range all {
		for d, content := range layerBlobs(t, p.img) {
			resp, got, err := srv.get("/v2/"+account+"/"+p.repo+"/blobs/"+d, "")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode == http.StatusOK && !bytes.Equal(got, content) {
				t.Errorf("%s: blob %s is served with %d bytes that differ from the %d pushed", p.repo, d, len(got), len(content))
			} else if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: blob %s: %s", p.repo, d, resp.Status)
			}
		}
	}

	// Whatever tags exist, acknowledged or not, lead to complete images.
	pushed := map[string][]byte{}
	for _, p := range all {
		pushed[p.repo+":"+p.tag] = p.manifest
	}
	for r := range repos {
		repo := fmt.Sprintf("e2e/crash-%d", r)
		resp, body, err := srv.get("/v2/"+account+"/"+repo+"/tags/list?n=1000", "")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusNotFound {
			continue // the repository was never created
		}
		var list struct{ Tags []string }
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil {
			t.Errorf("%s: tags/list: %s %s", repo, resp.Status, body)
			continue
		}
		for _, tag := range list.Tags {
			checkComplete(t, srv, repo, tag, pushed[repo+":"+tag])
		}
	}
}

// checkComplete fetches repo:tag and checks it is the manifest pushed under that tag and that
// its config and every layer are served with matching digests.
func checkComplete(t *testing.T, srv *coffer, repo, tag string, want []byte) {
	t.Helper()
	base := "/v2/" + account + "/" + repo
	resp, body, err := srv.get(base+"/manifests/"+tag, "application/vnd.oci.image.manifest.v1+json")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("tag %s:%s is listed but its manifest is not served: %v %v", repo, tag, statusOf(resp), err)
		return
	}
	if !bytes.Equal(body, want) {
		t.Errorf("tag %s:%s serves a manifest that was never pushed under it", repo, tag)
		return
	}
	var m v1.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		t.Errorf("%s:%s: %v", repo, tag, err)
		return
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		resp, blob, err := srv.get(base+"/blobs/"+d.Digest.String(), "")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s:%s references blob %s, which is not served: %v %v", repo, tag, d.Digest, statusOf(resp), err)
			continue
		}
		if got := fmt.Sprintf("sha256:%x", sha256.Sum256(blob)); got != d.Digest.String() {
			t.Errorf("%s:%s blob %s is served with content of digest %s", repo, tag, d.Digest, got)
		}
	}
}

func mustMediaType(t *testing.T, img v1.Image) string {
	t.Helper()
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	return string(mt)
}

func statusOf(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}

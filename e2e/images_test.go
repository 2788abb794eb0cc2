package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// tarLayer returns an uncompressed tar holding one file with the given content.
func tarLayer(name string, content []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write(content)
	tw.Close()
	return buf.Bytes()
}

// randomImage builds an OCI image with the given number of gzip layers, each holding one file
// of size random bytes drawn from seed. The same seed gives the same image.
func randomImage(t testing.TB, seed uint64, layers, size int) v1.Image {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i := range layers {
		content := make([]byte, size)
		for j := range content {
			content[j] = byte(r.Uint32())
		}
		raw := tarLayer(fmt.Sprintf("file-%d-%d", seed, i), content)
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
			tarball.WithMediaType(types.OCILayer))
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// writeLayout writes img as an OCI image layout in dir, named tag (org.opencontainers.image.ref.name).
func writeLayout(t testing.TB, dir string, img v1.Image, tag string) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
	})); err != nil {
		t.Fatal(err)
	}
}

// layoutManifestDigest returns the digest of the manifest named tag in the OCI layout at dir.
func layoutManifestDigest(t testing.TB, dir, tag string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index v1.IndexManifest
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	for _, d := range index.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == tag {
			return d.Digest.String()
		}
	}
	if len(index.Manifests) == 1 && tag == "" {
		return index.Manifests[0].Digest.String()
	}
	t.Fatalf("no manifest named %q in %s: %s", tag, dir, raw)
	return ""
}

// digestOf returns the sha256 digest of an image's manifest.
func digestOf(t testing.TB, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// layerBlobs returns each layer's digest and compressed bytes.
func layerBlobs(t testing.TB, img v1.Image) map[string][]byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(rc)
		rc.Close()
		out[d.String()] = buf.Bytes()
	}
	return out
}

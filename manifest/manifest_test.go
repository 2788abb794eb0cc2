package manifest_test

import (
	"errors"
	"testing"

	"github.com/coffer-registry/coffer/manifest"
)

const (
	config = `{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}`
	layer  = `{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03","size":6}`
	remote = `{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"sha256:6891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03","size":9,"urls":["https://example.com/l"]}`
)

func TestParseImageManifest(t *testing.T) {
	payload := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` + config +
		`,"layers":[` + layer + `,` + remote + `]}`)
	m, err := manifest.Parse(payload, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || len(m.Blobs) != 2 || len(m.Foreign) != 1 ||
		m.ArtifactType != "application/vnd.oci.image.config.v1+json" || m.Size != int64(len(payload)) {
		t.Fatalf("parsed %+v", m)
	}
}

func TestParseIndex(t *testing.T) {
	payload := []byte(`{"schemaVersion":2,"manifests":[` + layer + `]}`)
	m, err := manifest.Parse(payload, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != "application/vnd.oci.image.index.v1+json" || len(m.Manifests) != 1 || len(m.Blobs) != 0 {
		t.Fatalf("parsed %+v", m)
	}
}

func TestParseRejects(t *testing.T) {
	for name, c := range map[string]struct{ payload, contentType string }{
		"not JSON":         {`{`, ""},
		"schema 1":         {`{"schemaVersion":1}`, ""},
		"no config":        {`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}`, ""},
		"type mismatch":    {`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` + config + `}`, "application/vnd.oci.image.index.v1+json"},
		"unknown type":     {`{"schemaVersion":2,"mediaType":"text/x-nonsense","config":` + config + `}`, ""},
		"bad digest":       {`{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:xyz","size":1}}`, ""},
		"index and layers": {`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"layers":[]}`, ""},
	} {
		_, err := manifest.Parse([]byte(c.payload), c.contentType)
		var invalid *manifest.InvalidError
		if !errors.As(err, &invalid) || invalid.Message == "" {
			t.Errorf("%s: want *InvalidError, got %v", name, err)
		}
	}
}

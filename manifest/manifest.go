// Package manifest validates OCI and Docker image manifests and indexes and collects what
// they reference; the registry's manifest PUT and ECR's PutImage both store through it.
package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strconv"
	"strings"

	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest media types the registry accepts.
const (
	mediaTypeOCIManifest        = ocispec.MediaTypeImageManifest
	mediaTypeOCIIndex           = ocispec.MediaTypeImageIndex
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"

	mediaTypeDockerForeignLayer     = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	mediaTypeOCINondistributablePre = "application/vnd.oci.image.layer.nondistributable."
)

// manifestKinds tells, per accepted media type, whether it is an index (a list of
// manifests) or an image manifest (a config and layers).
var manifestKinds = map[string]bool{
	mediaTypeOCIManifest:        false,
	mediaTypeDockerManifest:     false,
	mediaTypeOCIIndex:           true,
	mediaTypeDockerManifestList: true,
}

// wireDescriptor is a descriptor as manifests carry it; only the fields the registry uses.
type wireDescriptor struct {
	MediaType string   `json:"mediaType"`
	Digest    string   `json:"digest"`
	Size      int64    `json:"size"`
	URLs      []string `json:"urls"`
}

// wireManifest is the union of the image manifest and index shapes.
type wireManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *wireDescriptor   `json:"config"`
	Layers        []wireDescriptor  `json:"layers"`
	Manifests     []wireDescriptor  `json:"manifests"`
	Subject       *wireDescriptor   `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// Parsed is a validated manifest: what the store needs, and the layers whose blob may live
// elsewhere (non-distributable layers with URLs), which Blobs leaves out.
type Parsed struct {
	store.Manifest
	Foreign []store.Descriptor
}

// Parse validates payload as a manifest sent with the given Content-Type and
// collects its references. The digest is not set here.
func Parse(payload []byte, contentType string) (Parsed, error) {
	var m wireManifest
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&m); err != nil {
		return Parsed{}, invalid("manifest is not valid JSON: %v", err)
	}
	if dec.More() {
		return Parsed{}, invalid("manifest has data after its JSON object")
	}
	if m.SchemaVersion != 2 {
		return Parsed{}, invalid("unsupported schemaVersion %d (only 2)", m.SchemaVersion)
	}

	mediaType := m.MediaType
	declared := contentMediaType(contentType)
	switch {
	case mediaType != "" && declared != "" && declared != mediaType:
		return Parsed{}, invalid("Content-Type %q does not match the manifest's mediaType %q", declared, mediaType)
	case mediaType == "" && declared != "":
		mediaType = declared
	case mediaType == "" && m.Manifests != nil:
		mediaType = mediaTypeOCIIndex
	case mediaType == "":
		mediaType = mediaTypeOCIManifest
	}
	isIndex, ok := manifestKinds[mediaType]
	if !ok {
		return Parsed{}, invalid("unsupported manifest media type %q", mediaType)
	}

	out := Parsed{Manifest: store.Manifest{
		MediaType:    mediaType,
		ArtifactType: m.ArtifactType,
		Size:         int64(len(payload)),
		Payload:      payload,
		Annotations:  m.Annotations,
	}}
	if m.Subject != nil {
		subject, err := checkDescriptor(*m.Subject, "subject")
		if err != nil {
			return Parsed{}, err
		}
		out.Subject = subject.Digest
	}

	if isIndex {
		if m.Config != nil || m.Layers != nil {
			return Parsed{}, invalid("an index has no config or layers")
		}
		for i, wd := range m.Manifests {
			d, err := checkDescriptor(wd, "manifests["+strconv.Itoa(i)+"]")
			if err != nil {
				return Parsed{}, err
			}
			out.Manifests = append(out.Manifests, d)
		}
		return out, nil
	}

	if m.Manifests != nil {
		return Parsed{}, invalid("an image manifest has no manifests list")
	}
	if m.Config == nil {
		return Parsed{}, invalid("image manifest without config")
	}
	config, err := checkDescriptor(*m.Config, "config")
	if err != nil {
		return Parsed{}, err
	}
	out.Blobs = append(out.Blobs, config)
	if out.ArtifactType == "" {
		out.ArtifactType = config.MediaType
	}
	for i, wd := range m.Layers {
		d, err := checkDescriptor(wd, "layers["+strconv.Itoa(i)+"]")
		if err != nil {
			return Parsed{}, err
		}
		if isForeignLayer(wd) {
			out.Foreign = append(out.Foreign, d)
			continue
		}
		out.Blobs = append(out.Blobs, d)
	}
	return out, nil
}

// isForeignLayer: a non-distributable layer that names where to fetch it; the registry
// need not hold its blob.
func isForeignLayer(d wireDescriptor) bool {
	return len(d.URLs) > 0 &&
		(d.MediaType == mediaTypeDockerForeignLayer || strings.HasPrefix(d.MediaType, mediaTypeOCINondistributablePre))
}

func checkDescriptor(wd wireDescriptor, where string) (store.Descriptor, error) {
	d, ok := parseDigest(wd.Digest)
	if !ok {
		return store.Descriptor{}, invalid("%s: invalid digest %q", where, wd.Digest)
	}
	if wd.Size < 0 {
		return store.Descriptor{}, invalid("%s: negative size", where)
	}
	if wd.MediaType == "" {
		return store.Descriptor{}, invalid("%s: missing mediaType", where)
	}
	return store.Descriptor{Digest: d, MediaType: wd.MediaType, Size: wd.Size}, nil
}

// contentMediaType is the media type of a Content-Type header, or "" when the header
// does not name a manifest type (absent or a generic type some clients send).
func contentMediaType(header string) string {
	if header == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(header)
	if err != nil {
		return header // compared as is, and then rejected as unknown or mismatched
	}
	switch mt {
	case "application/json", "application/octet-stream", "text/plain":
		return ""
	}
	return mt
}

// InvalidError is a manifest that cannot be stored; Message says why.
type InvalidError struct{ Message string }

func (e *InvalidError) Error() string { return "manifest invalid: " + e.Message }

func invalid(format string, args ...any) error {
	return &InvalidError{Message: fmt.Sprintf(format, args...)}
}

// parseDigest accepts a digest whose algorithm is available (sha256, sha384, sha512) and
// whose encoded part is well formed.
func parseDigest(s string) (digest.Digest, bool) {
	d, err := digest.Parse(s)
	return d, err == nil
}

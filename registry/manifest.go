package registry

import (
	"errors"
	"net/http"

	"github.com/coffer-registry/coffer/manifest"
	"github.com/opencontainers/go-digest"
)

// parseManifest validates payload as a manifest sent with the given Content-Type (package
// manifest holds the rules, shared with ECR's PutImage).
func parseManifest(payload []byte, contentType string) (manifest.Parsed, *Error) {
	m, err := manifest.Parse(payload, contentType)
	var invalid *manifest.InvalidError
	if errors.As(err, &invalid) {
		return manifest.Parsed{}, manifestInvalid("%s", invalid.Message)
	}
	if err != nil {
		return manifest.Parsed{}, manifestInvalid("%v", err)
	}
	return m, nil
}

func manifestInvalid(format string, args ...any) *Error {
	return newError(CodeManifestInvalid, http.StatusBadRequest, format, args...)
}

// digestOf is the digest of payload with the algorithm of want (sha256 when want is empty).
func digestOf(payload []byte, want digest.Digest) digest.Digest {
	alg := digest.Canonical
	if want != "" {
		alg = want.Algorithm()
	}
	return alg.FromBytes(payload)
}

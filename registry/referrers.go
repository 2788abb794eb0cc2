package registry

import (
	"net/http"

	ocispec "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// referrers answers GET /v2/ACCOUNT/NAME/referrers/DIGEST[?artifactType=T]: an OCI index
// of the manifests whose subject is DIGEST, whether or not DIGEST itself exists.
func (h *Handler) referrers(w http.ResponseWriter, r *http.Request, rt route) error {
	repo, err := h.repository(r, rt, false)
	if err != nil {
		return err
	}
	artifactType := r.URL.Query().Get("artifactType")
	found, err := h.meta.Referrers(r.Context(), repo.ID, rt.digest, artifactType)
	if err != nil {
		return err
	}
	index := v1.Index{
		Versioned: ocispec.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageIndex,
		Manifests: make([]v1.Descriptor, 0, len(found)),
	}
	for _, m := range found {
		index.Manifests = append(index.Manifests, v1.Descriptor{
			MediaType:    m.MediaType,
			Digest:       m.Digest,
			Size:         m.Size,
			ArtifactType: m.ArtifactType,
			Annotations:  m.Annotations,
		})
	}
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	return writeJSON(w, r, http.StatusOK, v1.MediaTypeImageIndex, index)
}

package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/reference"
)

// referrerEntries are the index.json entries of the referrers indexes of
// the served images (see layout.ReferrersEntry): served as the tag
// schema's sha256-HEX tags, and through the referrers API.
func referrerEntries(idx *ocispec.Index, served []ocispec.Descriptor) []ocispec.Descriptor {
	names := map[string]bool{}
	for _, e := range served {
		names[layout.NameOf(e)] = true
	}
	var out []ocispec.Descriptor
	for _, e := range idx.Manifests {
		if layout.IsReferrersEntry(e) && names[e.Annotations[layout.AnnotationReferrersOf]] {
			out = append(out, e)
		}
	}
	return out
}

// referrers answers GET /v2/NAME/referrers/DIGEST: the vendored
// referrers of DIGEST (an empty index when there are none), filtered by
// ?artifactType= when asked.
func (h *Handler) referrers(w http.ResponseWriter, r *http.Request, repo *repository, ref string) {
	subject := digest.Digest(ref)
	if err := reference.CheckDigest(subject); err != nil {
		writeError(w, r, http.StatusBadRequest, codeDigestInvalid, err.Error())
		return
	}
	list := []ocispec.Descriptor{}
	if d, ok := repo.referrers[subject]; ok {
		raw, err := h.layout.ReadBlob(r.Context(), d, manifest.MaxManifestSize)
		if err == nil && digest.FromBytes(raw) != d {
			err = fmt.Errorf("%s does not hash to its digest", layout.RelBlobPath(d))
		}
		var idx ocispec.Index
		if err == nil {
			err = json.Unmarshal(raw, &idx)
		}
		if err != nil {
			h.corrupt(r, d, err)
			writeError(w, r, http.StatusInternalServerError, codeCorrupt, fmt.Sprintf("the referrers of %s cannot be served: %v (run vendorimg verify)", subject, err))
			return
		}
		list = idx.Manifests
	}
	if at := r.URL.Query().Get("artifactType"); at != "" {
		list = slices.DeleteFunc(slices.Clone(list), func(d ocispec.Descriptor) bool { return d.ArtifactType != at })
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	if list == nil {
		list = []ocispec.Descriptor{}
	}
	out := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: list}
	out.SchemaVersion = 2
	body, err := json.Marshal(out)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, codeCorrupt, err.Error())
		return
	}
	w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
	w.Header().Set("Content-Length", itoa(int64(len(body))))
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

package testimage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// IndexOf returns the OCI image index of images, the i-th listed for
// platforms[i], in that order, with no annotations. Its entries carry
// media type, digest, size and platform only, as docker buildx writes
// them: go-containerregistry's mutate.AppendManifests would also set
// artifactType to the config's media type, which image-spec reserves for
// artifacts.
func IndexOf(platforms []v1.Platform, images []v1.Image) (v1.ImageIndex, error) {
	if len(platforms) != len(images) || len(images) == 0 {
		return nil, errors.New("building the index: want one image per platform, at least one")
	}
	m := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: make([]v1.Descriptor, len(images))}
	byDigest := make(map[v1.Hash]v1.Image, len(images))
	for i, img := range images {
		d, err := partial.Descriptor(img)
		if err != nil {
			return nil, fmt.Errorf("building the index: %w", err)
		}
		p := platforms[i]
		m.Manifests[i] = v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest, Platform: &p}
		byDigest[d.Digest] = img
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("building the index: %w", err)
	}
	return &index{raw: raw, manifest: &m, images: byDigest}, nil
}

// index is an image index held in memory with its images.
type index struct {
	raw      []byte
	manifest *v1.IndexManifest
	images   map[v1.Hash]v1.Image
}

var _ v1.ImageIndex = (*index)(nil)

// MediaType implements v1.ImageIndex.
func (x *index) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }

// Digest implements v1.ImageIndex.
func (x *index) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(x.raw))
	return h, err
}

// Size implements v1.ImageIndex.
func (x *index) Size() (int64, error) { return int64(len(x.raw)), nil }

// IndexManifest implements v1.ImageIndex.
func (x *index) IndexManifest() (*v1.IndexManifest, error) { return x.manifest.DeepCopy(), nil }

// RawManifest implements v1.ImageIndex.
func (x *index) RawManifest() ([]byte, error) { return bytes.Clone(x.raw), nil }

// Image implements v1.ImageIndex.
func (x *index) Image(h v1.Hash) (v1.Image, error) {
	if img, ok := x.images[h]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("image %s is not in the index", h)
}

// ImageIndex implements v1.ImageIndex: the index holds no nested index.
func (x *index) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("index %s is not in the index", h)
}

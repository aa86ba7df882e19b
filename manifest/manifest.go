package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/reference"
)

// Media types vendorimg walks.
const (
	MediaTypeOCIIndex      = ocispec.MediaTypeImageIndex
	MediaTypeOCIManifest   = ocispec.MediaTypeImageManifest
	MediaTypeDockerList    = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerV2      = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerConfig  = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer   = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json"
	MediaTypeDockerSigned  = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// Accept lists the manifest media types vendorimg asks a registry for, in
// the form of an HTTP Accept header's values.
var Accept = []string{MediaTypeOCIIndex, MediaTypeOCIManifest, MediaTypeDockerList, MediaTypeDockerV2}

// MaxManifestSize is the largest manifest or index vendorimg reads into
// memory: 4 MiB, the limit the distribution registry itself enforces.
const MaxManifestSize = 4 << 20

// MaxConfigSize is the largest image config vendorimg reads into memory to
// learn its platform or diff_ids. Real configs are kilobytes; 64 MiB leaves
// room for images with very long histories.
const MaxConfigSize = 64 << 20

// IsIndex reports whether mediaType is an OCI index or a Docker manifest list.
func IsIndex(mediaType string) bool {
	return mediaType == MediaTypeOCIIndex || mediaType == MediaTypeDockerList
}

// IsManifest reports whether mediaType is an OCI or Docker v2 image manifest.
func IsManifest(mediaType string) bool {
	return mediaType == MediaTypeOCIManifest || mediaType == MediaTypeDockerV2
}

// IsWalkable reports whether vendorimg can read a document of mediaType.
func IsWalkable(mediaType string) bool { return IsIndex(mediaType) || IsManifest(mediaType) }

// Node is one parsed index or manifest: what it is and what it points to.
type Node struct {
	// MediaType is the document's media type (from its mediaType field, or
	// from the one it was served or stored with when the field is absent).
	MediaType string
	// Manifests are an index's entries, in their original order.
	Manifests []ocispec.Descriptor
	// Config is a manifest's config descriptor.
	Config ocispec.Descriptor
	// Layers are a manifest's layers, in order.
	Layers []ocispec.Descriptor
}

// IsIndex reports whether n is an index or manifest list.
func (n *Node) IsIndex() bool { return IsIndex(n.MediaType) }

// Blobs are a manifest's config then its layers; an index has none.
func (n *Node) Blobs() []ocispec.Descriptor {
	if n.IsIndex() {
		return nil
	}
	return append([]ocispec.Descriptor{n.Config}, n.Layers...)
}

// document is the union of the fields of indexes and manifests that
// vendorimg reads.
type document struct {
	SchemaVersion *int                 `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
}

// Parse reads an index or manifest. hint is the media type it was served
// or stored with (ignored unless it is one of the four walkable types).
// When the document's own mediaType field and hint are both set they must
// agree: a registry or layout that lies about a manifest's type is an
// error. OCI documents may omit mediaType; then hint, or the shape of the
// document, decides.
func Parse(hint string, raw []byte) (*Node, error) {
	if len(raw) > MaxManifestSize {
		return nil, fmt.Errorf("manifest of %d bytes: %w (limit %d)", len(raw), errs.ErrTooLarge, MaxManifestSize)
	}
	var doc document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	if !IsWalkable(hint) {
		// Some registries serve "application/json" or nothing useful.
		hint = ""
	}
	mt := doc.MediaType
	switch {
	case mt == "" && hint != "":
		mt = hint
	case mt == "" && doc.Manifests != nil:
		mt = MediaTypeOCIIndex
	case mt == "" && doc.Config != nil:
		mt = MediaTypeOCIManifest
	case mt != "" && hint != "" && mt != hint:
		return nil, fmt.Errorf("manifest says mediaType %q but was given as %q: %w", mt, hint, errs.ErrUnsupportedMediaType)
	}
	if mt == MediaTypeDockerSchema1 || mt == MediaTypeDockerSigned || (doc.SchemaVersion != nil && *doc.SchemaVersion == 1) {
		return nil, fmt.Errorf("docker schema 1 manifests are deprecated and not vendored: %w", errs.ErrUnsupportedMediaType)
	}
	if !IsWalkable(mt) {
		return nil, fmt.Errorf("media type %q: %w", mt, errs.ErrUnsupportedMediaType)
	}
	if doc.SchemaVersion == nil || *doc.SchemaVersion != 2 {
		return nil, fmt.Errorf("parsing %s: schemaVersion must be 2", mt)
	}
	n := &Node{MediaType: mt}
	if IsIndex(mt) {
		if doc.Config != nil || doc.Layers != nil {
			return nil, fmt.Errorf("parsing %s: an index has no config or layers", mt)
		}
		n.Manifests = doc.Manifests
		for i, d := range n.Manifests {
			if err := CheckDescriptor(d); err != nil {
				return nil, fmt.Errorf("parsing %s: manifests[%d]: %w", mt, i, err)
			}
		}
		return n, nil
	}
	if doc.Config == nil {
		return nil, fmt.Errorf("parsing %s: no config", mt)
	}
	if doc.Manifests != nil {
		return nil, fmt.Errorf("parsing %s: a manifest has no manifests list", mt)
	}
	n.Config = *doc.Config
	n.Layers = doc.Layers
	if err := CheckDescriptor(n.Config); err != nil {
		return nil, fmt.Errorf("parsing %s: config: %w", mt, err)
	}
	for i, d := range n.Layers {
		if err := CheckDescriptor(d); err != nil {
			return nil, fmt.Errorf("parsing %s: layers[%d]: %w", mt, i, err)
		}
	}
	return n, nil
}

// CheckDescriptor rejects a descriptor vendorimg must not act on: a digest
// that is not canonical sha256 (which also keeps a hostile digest such as
// "sha256:../../x" from becoming a path), a negative size, or no media type.
func CheckDescriptor(d ocispec.Descriptor) error {
	if err := CheckDigest(d.Digest); err != nil {
		return err
	}
	if d.Size < 0 {
		return fmt.Errorf("%s: negative size %d: %w", d.Digest, d.Size, errs.ErrSizeMismatch)
	}
	if d.MediaType == "" {
		return fmt.Errorf("%s: no mediaType", d.Digest)
	}
	return nil
}

// CheckDigest accepts only canonical sha256 digests; it is
// reference.CheckDigest, the one digest check of vendorimg.
func CheckDigest(d digest.Digest) error { return reference.CheckDigest(d) }

// Config is the part of an image config vendorimg reads: its platform and
// the digests of its uncompressed layers.
type Config struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
	OSVersion    string `json:"os.version,omitempty"`
	RootFS       struct {
		Type    string          `json:"type"`
		DiffIDs []digest.Digest `json:"diff_ids"`
	} `json:"rootfs"`
}

// Platform is the config's platform object.
func (c *Config) Platform() ocispec.Platform {
	return ocispec.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, OSVersion: c.OSVersion}
}

// ParseConfig reads an image config.
func ParseConfig(raw []byte) (*Config, error) {
	if len(raw) > MaxConfigSize {
		return nil, fmt.Errorf("config of %d bytes: %w (limit %d)", len(raw), errs.ErrTooLarge, MaxConfigSize)
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parsing image config: %w", err)
	}
	return &c, nil
}

// IsImageConfig reports whether mediaType is an image config vendorimg can
// read a platform from.
func IsImageConfig(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageConfig || mediaType == MediaTypeDockerConfig
}

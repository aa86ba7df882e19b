package layout

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/platform"
)

// Role is what a blob is to the image that references it.
type Role string

// Roles of blobs in an image graph.
const (
	RoleIndex    Role = "index"
	RoleManifest Role = "manifest"
	RoleConfig   Role = "config"
	RoleLayer    Role = "layer"
	// RoleBlob is anything an index lists that vendorimg does not walk
	// (an artifact, a signature); it is stored as it is.
	RoleBlob Role = "blob"
)

// Blob is a descriptor with its role in the graph and, when known, the
// platform of the manifest it belongs to.
type Blob struct {
	ocispec.Descriptor
	Role     Role
	Platform *ocispec.Platform
}

// IsDocument reports whether the blob is a manifest or index, which
// vendorimg reads to find more blobs.
func (b Blob) IsDocument() bool { return b.Role == RoleIndex || b.Role == RoleManifest }

// Image is a stored, selected image manifest: its platform, config and layers.
type Image struct {
	Manifest ocispec.Descriptor
	Platform ocispec.Platform
	Config   ocispec.Descriptor
	Layers   []ocispec.Descriptor
}

// Inventory is what a layout holds of one image graph, for the selected
// platforms, checked by size (documents are also rehashed, since they are
// read whole anyway; layers are not).
type Inventory struct {
	// Top is the top-level descriptor, with its media type and size once
	// the top blob is stored.
	Top ocispec.Descriptor
	// Present are the stored blobs of the graph, each once.
	Present []Blob
	// Missing are the selected blobs that are absent, of the wrong size,
	// or (for documents) do not hash to their digest; each once.
	Missing []Blob
	// Images are the selected image manifests that are stored, in index order.
	Images []Image
}

// Complete reports whether nothing selected is missing.
func (inv *Inventory) Complete() bool { return len(inv.Missing) == 0 }

// Bytes is the total size of the stored blobs.
func (inv *Inventory) Bytes() int64 {
	var n int64
	for _, b := range inv.Present {
		n += b.Size
	}
	return n
}

// Platforms are the platforms of the stored selected images.
func (inv *Inventory) Platforms() []ocispec.Platform {
	out := make([]ocispec.Platform, 0, len(inv.Images))
	for _, im := range inv.Images {
		out = append(out, im.Platform)
	}
	return out
}

// Inventory walks the graph under top through what is stored (see Walk),
// following only the index entries opts.Platforms selects, and fetching
// missing documents through opts.Fetch when it is set (sync does).
// top.Size and top.MediaType may be zero when only the pin is known. A
// stored document that hashes right but cannot be parsed is an error, as is
// a selection the image cannot satisfy (errs.ErrPlatformMissing): neither
// is fixed by fetching again.
func (l *Layout) Inventory(ctx context.Context, top ocispec.Descriptor, opts WalkOptions) (*Inventory, error) {
	c := &inventoryVisitor{inv: &Inventory{Top: top}, sel: opts.Platforms, seen: map[digest.Digest]bool{}, pending: map[digest.Digest]*Image{}}
	if err := l.Walk(ctx, top, opts, c.visit); err != nil {
		return nil, err
	}
	for _, d := range c.order {
		if im := c.pending[d]; im != nil {
			c.inv.Images = append(c.inv.Images, *im)
		}
	}
	return c.inv, nil
}

// inventoryVisitor builds an Inventory from a walk's steps.
type inventoryVisitor struct {
	inv  *Inventory
	sel  platform.Selection
	seen map[digest.Digest]bool
	// pending are the stored image manifests, in walk order, until their
	// config says whether they are complete (nil: not an image).
	pending map[digest.Digest]*Image
	order   []digest.Digest
}

func (c *inventoryVisitor) add(b Blob, present bool) {
	if c.seen[b.Digest] {
		return
	}
	c.seen[b.Digest] = true
	if present {
		c.inv.Present = append(c.inv.Present, b)
	} else {
		c.inv.Missing = append(c.inv.Missing, b)
	}
}

func (c *inventoryVisitor) visit(s *Step) error {
	if err := stepError(s); err != nil {
		return err
	}
	switch {
	case s.Read && s.ReadErr != nil && !errors.Is(s.ReadErr, errs.ErrDigestMismatch):
		return fmt.Errorf("reading %s %s: %w", s.Role, RelBlobPath(s.Digest), s.ReadErr)
	case s.MediaTypeMismatch():
		return fmt.Errorf("reading %s %s: %w: it is a %s, its descriptor says %s", s.Role, RelBlobPath(s.Digest), errs.ErrUnsupportedMediaType, s.Node.MediaType, s.MediaType)
	case len(s.MissingPlatforms) > 0:
		var absent []string
		for _, p := range s.MissingPlatforms {
			absent = append(absent, p.String())
		}
		return fmt.Errorf("%w: %s not in the index (it has %s)", errs.ErrPlatformMissing, strings.Join(absent, ", "), describePlatforms(s.Node.Manifests))
	}
	b := s.Blob
	if s.Node != nil {
		b.MediaType, b.Size = s.Node.MediaType, int64(len(s.Raw))
		b.Role = RoleManifest
		if s.Node.IsIndex() {
			b.Role = RoleIndex
		}
		if s.Depth == 0 {
			c.inv.Top.MediaType, c.inv.Top.Size = b.MediaType, b.Size
		}
	}
	c.add(b, s.Stored())
	switch {
	case s.Node != nil && !s.Node.IsIndex() && !s.Repeat:
		im := &Image{Manifest: b.Descriptor, Config: s.Node.Config, Layers: s.Node.Layers}
		if b.Platform != nil {
			im.Platform = *b.Platform
		}
		c.pending[b.Digest] = im
		c.order = append(c.order, b.Digest)
	case s.Role == RoleConfig && s.Parent != nil:
		im := c.pending[s.Parent.Digest]
		if im == nil || s.Platform != nil {
			return nil
		}
		// A manifest outside an index: only its config says its platform,
		// and it is an image only once that config is stored.
		if !manifest.IsImageConfig(s.MediaType) {
			return nil
		}
		if s.Config == nil {
			c.pending[s.Parent.Digest] = nil
			return nil
		}
		im.Platform = s.Config.Platform()
		if !c.sel.Matches(&im.Platform) {
			return fmt.Errorf("%w: the image is a single manifest for %s, not %s", errs.ErrPlatformMissing, platform.FromOCI(im.Platform), c.sel)
		}
	}
	return nil
}

// stepError is the error a step's stored file is for a reader that cannot
// go on: a symlink, a special file, a path that cannot be checked, a graph
// nested too deeply.
func stepError(s *Step) error {
	switch s.File {
	case FileSymlink:
		return fmt.Errorf("blob %s: %w: %s is a symlink, which vendorimg never follows", s.Digest, errs.ErrInvalidLayout, RelBlobPath(s.Digest))
	case FileNotRegular:
		return fmt.Errorf("blob %s: %w: %s is not a regular file", s.Digest, errs.ErrInvalidLayout, RelBlobPath(s.Digest))
	}
	return s.Err
}

func describePlatforms(ds []ocispec.Descriptor) string {
	var ps []string
	for _, d := range ds {
		if d.Platform != nil && d.Platform.OS != "unknown" {
			ps = append(ps, platform.FromOCI(*d.Platform).String())
		}
	}
	if len(ps) == 0 {
		return "no platforms"
	}
	return strings.Join(ps, ", ")
}

// CheckSynced reports whether every image is in index.json under its
// name (or in an entry Lookup adopts) with its pin, and complete for its platforms (checked by size, as
// Inventory does): what serving or pushing the images needs. The error
// wraps errs.ErrInvalidLayout and says to run vendorimg sync.
func (l *Layout) CheckSynced(ctx context.Context, images []config.Image) error {
	idx, err := l.ReadIndex(ctx)
	if err != nil {
		return err
	}
	for _, im := range images {
		m, ok := Lookup(idx, im.Name(), im.Digest)
		d := m.Entry
		switch {
		case !ok:
			return fmt.Errorf("%s: %w: %s is not in index.json (run vendorimg sync)", l.Root(), errs.ErrInvalidLayout, im.Name())
		case d.Digest != im.Digest:
			return fmt.Errorf("%s: %w: index.json has %s for %s, vendorimg.yaml pins %s (run vendorimg sync)", l.Root(), errs.ErrInvalidLayout, d.Digest, im.Name(), im.Digest)
		}
		inv, err := l.Inventory(ctx, d, WalkOptions{Platforms: im.Platforms})
		if err != nil {
			return fmt.Errorf("%s: %w", im.Name(), err)
		}
		if !inv.Complete() {
			return fmt.Errorf("%s: %w: %d blobs of %s are missing (run vendorimg sync)", l.Root(), errs.ErrInvalidLayout, len(inv.Missing), im.Name())
		}
	}
	return nil
}

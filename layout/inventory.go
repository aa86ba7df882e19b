package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

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

// Inventory walks the graph under top through what is stored, following
// only the index entries sel selects. top.Size and top.MediaType may be
// zero when only the pin is known. A stored document that hashes right but
// cannot be parsed is an error, as is a selection the image cannot satisfy
// (errs.ErrPlatformMissing): neither is fixed by fetching again.
func (l *Layout) Inventory(ctx context.Context, top ocispec.Descriptor, sel platform.Selection) (*Inventory, error) {
	w := &inventoryWalk{l: l, sel: sel, inv: &Inventory{Top: top}, seen: map[string]bool{}}
	role := RoleManifest
	if manifest.IsIndex(top.MediaType) {
		role = RoleIndex
	}
	if err := w.visit(ctx, Blob{Descriptor: top, Role: role}, true); err != nil {
		return nil, err
	}
	return w.inv, nil
}

type inventoryWalk struct {
	l    *Layout
	sel  platform.Selection
	inv  *Inventory
	seen map[string]bool
}

func (w *inventoryWalk) add(b Blob, present bool) {
	key := string(b.Digest)
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	if present {
		w.inv.Present = append(w.inv.Present, b)
	} else {
		w.inv.Missing = append(w.inv.Missing, b)
	}
}

func (w *inventoryWalk) visit(ctx context.Context, b Blob, isTop bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !b.IsDocument() {
		ok, err := w.l.HasBlob(b.Descriptor)
		if err != nil {
			return err
		}
		w.add(b, ok)
		return nil
	}
	raw, ok, err := w.readDocument(ctx, b.Descriptor, manifest.MaxManifestSize)
	if err != nil {
		return err
	}
	if !ok {
		w.add(b, false)
		return nil
	}
	n, err := manifest.Parse(b.MediaType, raw)
	if err != nil {
		return fmt.Errorf("reading %s %s: %w", b.Role, RelBlobPath(b.Digest), err)
	}
	b.MediaType, b.Size = n.MediaType, int64(len(raw))
	if isTop {
		w.inv.Top.MediaType, w.inv.Top.Size = b.MediaType, b.Size
	}
	w.add(b, true)
	if n.IsIndex() {
		return w.visitIndex(ctx, n)
	}
	return w.visitManifest(ctx, b, n)
}

func (w *inventoryWalk) visitIndex(ctx context.Context, n *manifest.Node) error {
	if !w.sel.All {
		var absent []string
		for _, p := range w.sel.Platforms {
			if !slices.ContainsFunc(n.Manifests, func(d ocispec.Descriptor) bool { return d.Platform != nil && p.Matches(*d.Platform) }) {
				absent = append(absent, p.String())
			}
		}
		if len(absent) > 0 {
			return fmt.Errorf("%w: %s not in the index (it has %s)", errs.ErrPlatformMissing, strings.Join(absent, ", "), describePlatforms(n.Manifests))
		}
	}
	for _, child := range n.Manifests {
		if !w.sel.Matches(child.Platform) {
			continue
		}
		role := RoleBlob
		switch {
		case manifest.IsIndex(child.MediaType):
			role = RoleIndex
		case manifest.IsManifest(child.MediaType):
			role = RoleManifest
		}
		if err := w.visit(ctx, Blob{Descriptor: child, Role: role, Platform: child.Platform}, false); err != nil {
			return err
		}
	}
	return nil
}

func (w *inventoryWalk) visitManifest(ctx context.Context, b Blob, n *manifest.Node) error {
	im := Image{Manifest: b.Descriptor, Config: n.Config, Layers: n.Layers}
	complete := true
	if b.Platform != nil {
		im.Platform = *b.Platform
	}
	cfg := Blob{Descriptor: n.Config, Role: RoleConfig, Platform: b.Platform}
	if b.Platform == nil && manifest.IsImageConfig(n.Config.MediaType) {
		// A manifest outside an index: only its config says its platform.
		raw, ok, err := w.readDocument(ctx, n.Config, manifest.MaxConfigSize)
		if err != nil {
			return err
		}
		w.add(cfg, ok)
		if ok {
			c, err := manifest.ParseConfig(raw)
			if err != nil {
				return fmt.Errorf("reading config %s: %w", RelBlobPath(n.Config.Digest), err)
			}
			im.Platform = c.Platform()
			if !w.sel.Matches(&im.Platform) {
				return fmt.Errorf("%w: the image is a single manifest for %s, not %s", errs.ErrPlatformMissing, platform.FromOCI(im.Platform), w.sel)
			}
		}
		complete = complete && ok
	} else {
		ok, err := w.l.HasBlob(n.Config)
		if err != nil {
			return err
		}
		w.add(cfg, ok)
	}
	for _, layer := range n.Layers {
		if err := w.visit(ctx, Blob{Descriptor: layer, Role: RoleLayer, Platform: b.Platform}, false); err != nil {
			return err
		}
	}
	if complete {
		w.inv.Images = append(w.inv.Images, im)
	}
	return nil
}

// readDocument reads a stored document whole and checks its digest and,
// when known, its size. A missing, mis-sized or mis-hashed file is
// reported as absent (ok false), so that sync fetches it again; symlinks
// and other wrong kinds of file are errors.
func (w *inventoryWalk) readDocument(ctx context.Context, d ocispec.Descriptor, limit int64) (raw []byte, ok bool, err error) {
	size, err := w.l.BlobSize(d.Digest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	case d.Size > 0 && size != d.Size:
		return nil, false, nil
	}
	raw, err = w.l.ReadBlob(ctx, d.Digest, limit)
	switch {
	case errors.Is(err, errs.ErrDigestMismatch):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return raw, true, nil
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

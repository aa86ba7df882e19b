package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/platform"
)

// vendored is one platform's image of a configured image, as the layout
// holds it: everything needed to stream it and to recognise it in docker.
type vendored struct {
	// name is the image's index.json name (the full reference).
	name string
	// tag is the reference docker knows the image by, in docker's short
	// form ("alpine:3.19.1"); "" for a reference with only a digest.
	tag string
	// refTag is the reference's tag alone ("3.19.1").
	refTag   string
	top      ocispec.Descriptor
	manifest ocispec.Descriptor
	platform ocispec.Platform
	config   ocispec.Descriptor
	layers   []ocispec.Descriptor
	diffIDs  []digest.Digest
}

// platformString is the image's platform as vendorimg.yaml writes it.
func (v *vendored) platformString() string { return platform.FromOCI(v.platform).String() }

// size is the bytes the archive carries for the image: manifest, config
// and each distinct layer.
func (v *vendored) size() int64 {
	n := v.manifest.Size + v.config.Size
	seen := map[digest.Digest]bool{}
	for _, l := range v.layers {
		if !seen[l.Digest] {
			seen[l.Digest] = true
			n += l.Size
		}
	}
	return n
}

// Match rules: how an image in docker is recognised as a vendored one.
// The values are part of the JSON output.
const (
	// MatchConfig: the image ID is the config digest (classic store).
	MatchConfig = "config"
	// MatchManifest: the image ID is the platform manifest's digest
	// (containerd store).
	MatchManifest = "manifest"
	// MatchIndex: the image ID is the pinned index's digest (containerd
	// store, for an image pulled or loaded by its index).
	MatchIndex = "index"
)

// matchID says which identity rule id satisfies for v, or "".
func (v *vendored) matchID(id string) string {
	switch digest.Digest(id) {
	case v.config.Digest:
		return MatchConfig
	case v.manifest.Digest:
		return MatchManifest
	case v.top.Digest:
		if v.top.Digest != v.manifest.Digest {
			return MatchIndex
		}
	}
	return ""
}

// layersMatch reports whether the engine's layer list is the config's
// diff_ids.
func (v *vendored) layersMatch(ins image.InspectResponse) bool {
	return equalLayers(ins.RootFS.Layers, v.diffIDs)
}

// identifies reports whether ins is the image v, and by which rule.
func (v *vendored) identifies(ins image.InspectResponse) (string, bool) {
	rule := v.matchID(ins.ID)
	return rule, rule != "" && v.layersMatch(ins)
}

// dockerTag is the name docker gives the configured image: the reference
// with its tag, in docker's short form; "" when it has only a digest.
func dockerTag(im config.Image) string {
	if im.Ref.Tag == "" {
		return ""
	}
	return im.Ref.WithoutDigest().Familiar()
}

// readVendored reads, for a configured image, every stored platform image
// of its graph, in index order. The index.json entry (by name, or one
// layout.Lookup adopts) must carry the pin: otherwise the layout was not
// synced since vendorimg.yaml changed.
func readVendored(ctx context.Context, l *layout.Layout, idx *ocispec.Index, im config.Image) ([]*vendored, error) {
	m, ok := layout.Lookup(idx, im.Name(), im.Digest)
	entry := m.Entry
	if !ok {
		return nil, fmt.Errorf("%s is not in %s: %w (run vendorimg sync)", im.Name(), layout.IndexFile, errs.ErrNotFound)
	}
	if entry.Digest != im.Digest {
		return nil, fmt.Errorf("%s is %s in %s but pinned to %s in vendorimg.yaml: %w (run vendorimg sync)", im.Name(), entry.Digest, layout.IndexFile, im.Digest, errs.ErrDigestMismatch)
	}
	inv, err := l.Inventory(ctx, entry, layout.WalkOptions{Platforms: im.Platforms})
	if err != nil {
		return nil, &graphError{fmt.Errorf("reading %s from the layout: %w", im.Name(), err)}
	}
	var out []*vendored
	for _, ii := range inv.Images {
		v := &vendored{
			name: im.Name(), tag: dockerTag(im), refTag: im.Ref.Tag, top: inv.Top, manifest: ii.Manifest,
			platform: ii.Platform, config: ii.Config, layers: ii.Layers,
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w: no image manifest is vendored (run vendorimg sync)", im.Name(), errs.ErrPlatformMissing)
	}
	return out, nil
}

// graphError is an image whose graph in the layout cannot be read: nested
// too deeply, a document that does not verify or is malformed. Unlike an
// image not synced yet, it is a layout that must not be trusted, and Load
// sends nothing from it.
type graphError struct{ err error }

func (e *graphError) Error() string { return e.err.Error() }
func (e *graphError) Unwrap() error { return e.err }

// readConfig reads v's config (rehashed) for its diff_ids.
func (v *vendored) readConfig(ctx context.Context, l *layout.Layout) error {
	if !manifest.IsImageConfig(v.config.MediaType) {
		return fmt.Errorf("%s (%s): config %s has media type %q, which is not a container image: %w", v.name, v.platformString(), v.config.Digest, v.config.MediaType, errs.ErrUnsupportedMediaType)
	}
	raw, err := l.ReadBlob(ctx, v.config.Digest, manifest.MaxConfigSize)
	if err != nil {
		return fmt.Errorf("%s (%s): reading config %s: %w", v.name, v.platformString(), layout.RelBlobPath(v.config.Digest), err)
	}
	c, err := manifest.ParseConfig(raw)
	if err != nil {
		return fmt.Errorf("%s (%s): %s: %w", v.name, v.platformString(), layout.RelBlobPath(v.config.Digest), err)
	}
	if len(c.RootFS.DiffIDs) != len(v.layers) {
		return fmt.Errorf("%s (%s): config %s lists %s for %s: %w", v.name, v.platformString(), v.config.Digest, count(len(c.RootFS.DiffIDs), "diff_id"), count(len(v.layers), "layer"), errs.ErrInvalidLayout)
	}
	v.diffIDs = c.RootFS.DiffIDs
	return nil
}

// complete checks that every blob of v is stored with its size, so that a
// load that cannot succeed never reaches the engine.
func (v *vendored) complete(ctx context.Context, l *layout.Layout) error {
	var missing []string
	for _, d := range append([]ocispec.Descriptor{v.manifest, v.config}, v.layers...) {
		size, err := l.BlobSize(ctx, d.Digest)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, layout.RelBlobPath(d.Digest))
		case err != nil:
			return err
		case size != d.Size:
			return fmt.Errorf("%s (%s): %s: %w: the file has %d bytes, its descriptor says %d", v.name, v.platformString(), layout.RelBlobPath(d.Digest), errs.ErrSizeMismatch, size, d.Size)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s (%s): %w: %s missing (run vendorimg sync)", v.name, v.platformString(), errs.ErrNotFound, strings.Join(missing, ", "))
	}
	return nil
}

// pick chooses the image for platform p among vs.
func pick(name string, vs []*vendored, p platform.Platform) (*vendored, error) {
	i := slices.IndexFunc(vs, func(v *vendored) bool { return p.Matches(v.platform) })
	if i < 0 {
		var have []string
		for _, v := range vs {
			have = append(have, v.platformString())
		}
		return nil, fmt.Errorf("%s: %w: %s is not vendored (the layout has %s; add it to platforms in vendorimg.yaml and sync, or choose one with --platform)", name, errs.ErrPlatformMissing, p, strings.Join(have, ", "))
	}
	return vs[i], nil
}

// count is "1 layer", "2 layers".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

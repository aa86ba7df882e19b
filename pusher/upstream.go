package pusher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/reference"
	"github.com/vendorimg/vendorimg/registry"
)

// Completing a sparse index from upstream. A layout vendored for some
// platforms holds the index whole but only those platforms' manifests,
// configs and layers; a registry that checks an index's children refuses
// such an index. Push then fetches what the layout lacks, by digest, from
// the image's own registry (its configured mirror first) and streams it to
// the target, so the target holds the whole image under the same pin.
// Nothing fetched is written to the layout: the checkout keeps only the
// platforms it chose.

// Where a pushed image manifest, manifest or blob came from.
const (
	// SourceLayout: read from the layout (vendored).
	SourceLayout = "layout"
	// SourceUpstream: fetched from the image's registry or its mirror,
	// streamed to the target, not stored.
	SourceUpstream = "upstream"
	// SourceTarget: not vendored, and not fetched because the target
	// already serves the pin under its tag.
	SourceTarget = "target"
)

// PushedSource is where one image manifest of a pushed image came from.
type PushedSource struct {
	// Platform is the manifest's platform (os/arch[/variant]), or its
	// digest when the index gives none.
	Platform string        `json:"platform"`
	Manifest digest.Digest `json:"manifest"`
	// Source is SourceLayout, SourceUpstream or SourceTarget.
	Source string `json:"source"`
	// Bytes is the size of the manifest, its config and its layers (0 for
	// SourceTarget, which was not read).
	Bytes int64 `json:"bytes"`
}

// absentChild is an entry of a stored index that the layout does not hold.
type absentChild struct {
	desc     ocispec.Descriptor
	platform string
}

// errNoUpstream says why a sparse index was not completed.
var errNoUpstream = errors.New("completing from upstream is turned off (--no-upstream)")

// Fetcher is what Push needs of the registry a sparse index is completed
// from. *registry.Client implements it (and syncer.Fetcher is the same).
type Fetcher interface {
	// Manifest returns a manifest's or index's bytes as served, checked
	// against d, and the media type the registry gave them.
	Manifest(ctx context.Context, ref reference.Reference, d digest.Digest) ([]byte, string, error)
	// Blob opens a blob for streaming; the caller hashes what it reads.
	Blob(ctx context.Context, ref reference.Reference, desc ocispec.Descriptor) (io.ReadCloser, error)
}

var _ Fetcher = (*registry.Client)(nil)

// layoutSources are the vendored image manifests of inv, with their sizes.
func layoutSources(inv *layout.Inventory) []PushedSource {
	out := []PushedSource{}
	for _, im := range inv.Images {
		n := im.Manifest.Size + im.Config.Size
		for _, l := range im.Layers {
			n += l.Size
		}
		out = append(out, PushedSource{Platform: platform.FromOCI(im.Platform).String(), Manifest: im.Manifest.Digest, Source: SourceLayout, Bytes: n})
	}
	return out
}

// complete adds to pl what its indexes list and the layout lacks, fetched
// from upstream: the documents (held in memory, children first) and the
// blobs (streamed at upload). When upstream is forbidden or fails, pl is
// left as the layout has it and the reason is kept for the error and the
// report; only a cancelled ctx is an error.
func (p *pusher) complete(ctx context.Context, pl *pushPlan, present map[digest.Digest]bool) error {
	if len(pl.absent) == 0 {
		return nil
	}
	if p.opts.NoUpstream {
		pl.upstreamErr = errNoUpstream
		pl.out.UpstreamError = errNoUpstream.Error()
		return nil
	}
	target := pl.image.Digest.String()
	if pl.dest.Tag != "" {
		target = pl.dest.Tag
	}
	// A target that already serves the pin holds every platform (or took
	// the index without them): nothing to ask upstream.
	if have, err := p.client.HasManifest(ctx, pl.dest, target); err == nil && have == pl.image.Digest {
		for _, a := range pl.absent {
			pl.out.Sources = append(pl.out.Sources, PushedSource{Platform: a.platform, Manifest: a.desc.Digest, Source: SourceTarget})
		}
		return nil
	}
	c := &completion{p: p, ref: pl.image.Pinned(), present: present, seen: map[digest.Digest]bool{}}
	p.emit(progress.Event{Kind: progress.Notice, Image: pl.image.Name(), Message: fmt.Sprintf("%s: completing the index from %s: %s not vendored", pl.image.Name(), c.ref.Name(), strings.Join(pl.out.Missing, ", "))})
	for _, a := range pl.absent {
		if err := c.document(ctx, a.desc, a.platform, 1); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			pl.upstreamErr = fmt.Errorf("completing %s from %s: %w", pl.image.Name(), config.NameOf(c.ref), err)
			pl.out.UpstreamError = pl.upstreamErr.Error()
			p.emit(progress.Event{Kind: progress.Notice, Image: pl.image.Name(), Message: fmt.Sprintf("%s: pushing only the vendored platforms: %v", pl.image.Name(), pl.upstreamErr)})
			return nil
		}
	}
	pl.docs = childrenFirst(append(c.docs, pl.docs...))
	pl.blobs = append(pl.blobs, c.blobs...)
	for _, b := range c.blobs {
		pl.fromUpstream[b.Digest] = true
	}
	pl.out.Sources = append(pl.out.Sources, c.sources...)
	pl.out.Upstream = c.ref.Name()
	pl.completed = true
	return nil
}

// completion is one image's walk of upstream documents.
type completion struct {
	p       *pusher
	ref     reference.Reference
	present map[digest.Digest]bool
	seen    map[digest.Digest]bool

	docs    []pushDoc // children first
	blobs   []layout.Blob
	sources []PushedSource
}

// document fetches d from upstream, checked against its digest, then
// walks its children (an index's manifests, a manifest's config and
// layers).
func (c *completion) document(ctx context.Context, d ocispec.Descriptor, plat string, depth int) error {
	if c.seen[d.Digest] || c.present[d.Digest] {
		return nil
	}
	c.seen[d.Digest] = true
	if depth > layout.MaxDepth {
		return fmt.Errorf("%s: %w (more than %d levels)", d.Digest, errs.ErrTooDeep, layout.MaxDepth)
	}
	if !manifest.IsWalkable(d.MediaType) {
		return fmt.Errorf("%s (%s): %w", d.Digest, d.MediaType, errs.ErrUnsupportedMediaType)
	}
	raw, _, err := c.p.upstream.Manifest(ctx, c.ref, d.Digest)
	if err != nil {
		return err
	}
	if int64(len(raw)) != d.Size {
		return fmt.Errorf("manifest %s: %w: %d bytes, the index says %d", d.Digest, errs.ErrSizeMismatch, len(raw), d.Size)
	}
	n, err := manifest.Parse(d.MediaType, raw)
	if err != nil {
		return fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	if n.IsIndex() {
		for _, m := range n.Manifests {
			what := m.Digest.String()
			if m.Platform != nil {
				what = platform.FromOCI(*m.Platform).String()
			}
			if err := c.document(ctx, m, what, depth+1); err != nil {
				return err
			}
		}
		c.docs = append(c.docs, pushDoc{desc: d, raw: raw})
		return nil
	}
	src := PushedSource{Platform: plat, Manifest: d.Digest, Source: SourceUpstream, Bytes: d.Size}
	for i, b := range n.Blobs() {
		src.Bytes += b.Size
		if c.seen[b.Digest] || c.present[b.Digest] {
			continue
		}
		c.seen[b.Digest] = true
		role := layout.RoleLayer
		if i == 0 {
			role = layout.RoleConfig
		}
		c.blobs = append(c.blobs, layout.Blob{Descriptor: b, Role: role})
	}
	c.sources = append(c.sources, src)
	c.docs = append(c.docs, pushDoc{desc: d, platform: plat, raw: raw})
	return nil
}

// childrenFirst orders documents so that every manifest goes before every
// index, keeping the order within each (indexes are already children
// first): a registry that checks an index's children finds them.
func childrenFirst(docs []pushDoc) []pushDoc {
	out := make([]pushDoc, 0, len(docs))
	for _, d := range docs {
		if !manifest.IsIndex(d.desc.MediaType) {
			out = append(out, d)
		}
	}
	for _, d := range docs {
		if manifest.IsIndex(d.desc.MediaType) {
			out = append(out, d)
		}
	}
	return out
}

// openSource opens a blob to upload: from upstream when the layout lacks
// it, else from the layout. The caller hashes what it reads either way.
func (p *pusher) openSource(ctx context.Context, pl *pushPlan, b layout.Blob) (io.ReadCloser, error) {
	if pl.fromUpstream[b.Digest] {
		return p.upstream.Blob(ctx, pl.image.Pinned(), b.Descriptor)
	}
	return p.l.OpenBlob(b.Digest)
}

// upstreamOf is the repository b streams from, or "" for the layout.
func (p *pusher) upstreamOf(pl *pushPlan, b layout.Blob) string {
	if pl.fromUpstream[b.Digest] {
		return pl.image.Pinned().Name()
	}
	return ""
}

// checkUpstream is verifyingReader's end for bytes streamed from upstream:
// what upstream sent is wrong, nothing stored is.
func (v *verifyingReader) checkUpstream(eof error) error {
	if v.n != v.size {
		return fmt.Errorf("fetching blob %s from %s: %w: upstream sent %d of %d bytes", v.want, v.upstream, errs.ErrSizeMismatch, v.n, v.size)
	}
	if got := digest.NewDigest(digest.SHA256, v.h); got != v.want {
		return fmt.Errorf("fetching blob %s from %s: %w: upstream sent bytes hashing to %s", v.want, v.upstream, errs.ErrDigestMismatch, got)
	}
	return eof
}

// countSources marks each blob of out with its source and adds the
// uploads streamed from upstream to the result's counts.
func (p *pusher) countSources(pl *pushPlan, out *PushedImage) {
	for i, b := range out.Blobs {
		out.Blobs[i].Source = SourceLayout
		if !pl.fromUpstream[b.Digest] {
			continue
		}
		out.Blobs[i].Source = SourceUpstream
		if b.Action == PushUploaded {
			p.res.FromUpstream++
			p.res.FromUpstreamBytes += b.Size
		}
	}
}

// completionHint says how to get a sparse index into a registry that
// refused it.
func completionHint(pl *pushPlan) string {
	how := fmt.Sprintf("to push the index itself, push again where %s (or its mirror) answers: push fetches the missing platforms from there and sends them to the registry without storing them", pl.image.Ref.Registry)
	if pl.upstreamErr != nil {
		how = fmt.Sprintf("%s; %s", pl.upstreamErr, how)
	}
	return how + "; or vendor every platform (platforms: all in vendorimg.yaml, then vendorimg sync) and push again"
}

package pusher

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
)

// pushReferrers copies the image's vendored referrers (signatures,
// attestations, SBOMs) into its repository, byte for byte: each
// referrer's blobs, then its manifest by digest (a registry with the
// referrers API indexes it by its subject), then the referrers index under
// the tag schema's sha256-HEX tag, for registries without the API. It
// returns how many referrers the registry now has.
func (p *pusher) pushReferrers(ctx context.Context, pl *pushPlan) (int, error) {
	idx, err := p.l.ReadIndex(ctx)
	if err != nil {
		return 0, err
	}
	refs, err := p.l.ReferrersOf(ctx, idx, pl.image.Name())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range refs {
		if len(r.Manifests) == 0 {
			continue
		}
		for _, m := range r.Manifests {
			if err := p.pushReferrer(ctx, pl, m); err != nil {
				return n, fmt.Errorf("pushing the referrer %s of %s: %w", m.Digest, r.Subject, err)
			}
			n++
		}
		raw, err := p.l.ReadBlob(ctx, r.Entry.Digest, manifest.MaxManifestSize)
		if err != nil {
			return n, err
		}
		if err := p.pushDocument(ctx, pl, r.Entry.Digest, layout.FallbackTag(r.Subject), ocispec.MediaTypeImageIndex, raw); err != nil {
			return n, fmt.Errorf("pushing the referrers of %s: %w", r.Subject, err)
		}
	}
	return n, nil
}

func (p *pusher) pushReferrer(ctx context.Context, pl *pushPlan, m ocispec.Descriptor) error {
	raw, err := p.l.ReadBlob(ctx, m.Digest, manifest.MaxManifestSize)
	if err != nil {
		return err
	}
	if got := digest.FromBytes(raw); got != m.Digest {
		return fmt.Errorf("%s hashes to %s (run vendorimg verify)", layout.RelBlobPath(m.Digest), got)
	}
	n, err := manifest.Parse(m.MediaType, raw)
	if err != nil {
		return err
	}
	for _, b := range n.Blobs() {
		has, err := p.client.HasBlob(ctx, pl.dest, b.Digest)
		if err != nil {
			return err
		}
		if has || p.opts.DryRun {
			continue
		}
		if err := p.upload(ctx, pl, layout.Blob{Descriptor: b, Role: layout.RoleBlob}); err != nil {
			return err
		}
	}
	return p.pushDocument(ctx, pl, m.Digest, m.Digest.String(), m.MediaType, raw)
}

// pushDocument stores a manifest or index as target (a digest or tag),
// unless the registry has it there.
func (p *pusher) pushDocument(ctx context.Context, pl *pushPlan, d digest.Digest, target, mediaType string, raw []byte) error {
	have, err := p.client.HasManifest(ctx, pl.dest, target)
	if err != nil {
		return err
	}
	if have == d || p.opts.DryRun {
		return nil
	}
	if err := p.client.PushManifest(ctx, pl.dest, target, mediaType, raw); err != nil {
		return err
	}
	p.mu.Lock()
	p.res.Manifests++
	p.mu.Unlock()
	return nil
}

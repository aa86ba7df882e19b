package syncer

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/reference"
)

// ReferrerLister lists the referrers of a digest (the referrers API, or
// the tag schema where there is none). *registry.Client implements it.
type ReferrerLister interface {
	Referrers(ctx context.Context, ref reference.Reference, d digest.Digest) ([]ocispec.Descriptor, bool, error)
}

// syncReferrers vendors the referrers of p's pin and of each vendored
// platform's manifest, as the image's referrers: setting chooses them. A
// subject whose referrers index.json already records (for the same
// setting) is not asked again unless Options.Referrers says so: a no-op
// sync makes no request. It returns the index.json entries of the
// referrers indexes, and adds every blob they use to keep.
func (s *syncer) syncReferrers(ctx context.Context, p *imagePlan, old *ocispec.Index, keep map[digest.Digest]bool) ([]ocispec.Descriptor, int, error) {
	im := p.image
	if !im.WantsReferrers() {
		return nil, 0, nil
	}
	subjects := []digest.Digest{im.Digest}
	for _, img := range p.inv.Images {
		if img.Manifest.Digest != im.Digest {
			subjects = append(subjects, img.Manifest.Digest)
		}
	}
	recorded, err := s.layout.ReferrersOf(ctx, old, im.Name())
	if err != nil {
		recorded = nil // unreadable: ask the registry again
	}
	filter := im.ReferrersString()
	var entries []ocispec.Descriptor
	total := 0
	for _, subject := range subjects {
		var list []ocispec.Descriptor
		found := false
		for _, r := range recorded {
			if r.Subject == subject && r.Filter == filter {
				list, found = r.Manifests, true
			}
		}
		if !found || s.opts.Referrers {
			if s.opts.Offline {
				return nil, 0, fmt.Errorf("%w: the referrers of %s are not vendored and --offline forbids looking them up", errs.ErrOffline, subject)
			}
			lister, ok := s.registry().(ReferrerLister)
			if !ok {
				return nil, 0, fmt.Errorf("listing the referrers of %s: the registry client cannot list referrers", subject)
			}
			all, _, err := lister.Referrers(ctx, im.Pinned(), subject)
			if err != nil {
				return nil, 0, err
			}
			list = list[:0:0]
			for _, d := range all {
				if manifest.IsManifest(d.MediaType) {
					// What it is comes from the manifest itself: a registry
					// or a tag schema index may list no annotations, or the
					// config's type as the artifactType.
					if d, err = s.describeReferrer(ctx, im.Pinned(), d); err != nil {
						return nil, 0, fmt.Errorf("reading the referrer %s of %s: %w", d.Digest, subject, err)
					}
				}
				if manifest.IsManifest(d.MediaType) && manifest.ReferrerMatches(d, im.Referrers) {
					list = append(list, d)
				} else {
					s.logger.Debug("referrer not vendored", "subject", subject, "digest", d.Digest, "artifactType", d.ArtifactType, "mediaType", d.MediaType)
				}
			}
		}
		for _, d := range list {
			if err := s.fetchReferrer(ctx, p, d, keep); err != nil {
				return nil, 0, fmt.Errorf("vendoring the referrer %s of %s: %w", d.Digest, subject, err)
			}
		}
		raw, desc, err := layout.EncodeReferrers(list)
		if err != nil {
			return nil, 0, err
		}
		if ok, err := s.view.HasBlob(ctx, desc); err != nil || !ok {
			if err := s.view.WriteBlobBytes(ctx, desc, raw); err != nil {
				return nil, 0, err
			}
		}
		keep[desc.Digest] = true
		entries = append(entries, layout.ReferrersEntry(desc, im.Ref.Name(), im.Name(), subject, filter))
		total += len(list)
	}
	return entries, total, nil
}

// describeReferrer fetches a listed referrer's manifest (kept for
// fetchReferrer) and returns its descriptor with the manifest's own
// artifactType and annotations.
func (s *syncer) describeReferrer(ctx context.Context, ref reference.Reference, d ocispec.Descriptor) (ocispec.Descriptor, error) {
	raw, _, err := s.registry().Manifest(ctx, ref, d.Digest)
	if err != nil {
		return d, err
	}
	if int64(len(raw)) != d.Size {
		return d, fmt.Errorf("%w: the referrers list says %d bytes, the registry served %d", errs.ErrSizeMismatch, d.Size, len(raw))
	}
	var m struct {
		ArtifactType string            `json:"artifactType"`
		Annotations  map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return d, fmt.Errorf("%w: %v", errs.ErrUnsupportedMediaType, err)
	}
	if m.ArtifactType != "" {
		d.ArtifactType = m.ArtifactType
	}
	if len(m.Annotations) > 0 {
		d.Annotations = m.Annotations
	}
	s.mu.Lock()
	s.referrerDocs[d.Digest] = raw
	s.mu.Unlock()
	return d, nil
}

// fetchReferrer stores a referrer's manifest, byte for byte, and its
// config and layers, each verified while it streams, unless stored.
func (s *syncer) fetchReferrer(ctx context.Context, p *imagePlan, d ocispec.Descriptor, keep map[digest.Digest]bool) error {
	im := p.image
	var raw []byte
	stored, err := s.view.HasBlob(ctx, d)
	if err != nil {
		return err
	}
	if stored {
		if raw, err = s.view.ReadBlob(ctx, d.Digest, manifest.MaxManifestSize); err != nil || digest.FromBytes(raw) != d.Digest {
			stored = false
		}
	}
	if !stored {
		if s.opts.Offline {
			return fmt.Errorf("%w: the referrer %s is missing", errs.ErrOffline, d.Digest)
		}
		s.mu.Lock()
		raw = s.referrerDocs[d.Digest]
		s.mu.Unlock()
		if raw == nil {
			if raw, _, err = s.registry().Manifest(ctx, im.Pinned(), d.Digest); err != nil {
				return err
			}
		}
		if int64(len(raw)) != d.Size {
			return fmt.Errorf("%w: the referrers list says %d bytes, the registry served %d", errs.ErrSizeMismatch, d.Size, len(raw))
		}
		if err := s.view.WriteBlobBytes(ctx, ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}, raw); err != nil {
			return err
		}
		s.record(d.Digest, d.Size)
	}
	keep[d.Digest] = true
	n, err := manifest.Parse(d.MediaType, raw)
	if err != nil {
		return err
	}
	for _, b := range n.Blobs() {
		keep[b.Digest] = true
		if ok, err := s.view.HasBlob(ctx, b); err != nil {
			return err
		} else if ok {
			continue
		}
		if s.opts.Offline {
			return fmt.Errorf("%w: blob %s of the referrer %s is missing", errs.ErrOffline, b.Digest, d.Digest)
		}
		if err := s.fetchBlob(ctx, im, layout.Blob{Descriptor: b, Role: layout.RoleBlob}); err != nil {
			return err
		}
	}
	return nil
}

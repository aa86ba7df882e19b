package layout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/manifest"
)

// How referrers (signatures, attestations, SBOMs: manifests whose subject
// is a vendored image) are kept in the layout. There is no specification
// yet (image-spec#1171), and each reader looks in its own place, so the
// layout has them in every place at once:
//
//   - per subject, an index.json entry for a referrers index (the OCI
//     referrers tag schema's document: an image index listing the
//     referrers' descriptors), named REPOSITORY:sha256-HEX in
//     org.opencontainers.image.ref.name only (not io.containerd.image.name:
//     an importer must not take it for an image). regctl finds it by that
//     tag, oras-go indexes the referrers through it, vendorimg serve
//     answers the referrers API and the tag from it, and gc, pruning and
//     tools that clean a layout by index.json keep it and what it lists;
//   - the image's own entry carries cosign's annotation
//     kind=dev.cosignproject.cosign/image, by which cosign verify
//     --local-image finds the image, and then its referrers among the
//     blobs by their subject.
const (
	// AnnotationReferrersOf is, on a referrers index's index.json entry,
	// the name of the image whose referrers it lists.
	AnnotationReferrersOf = "io.vendorimg.referrers.of"
	// AnnotationReferrersSubject is the digest whose referrers it lists.
	AnnotationReferrersSubject = "io.vendorimg.referrers.subject"
	// AnnotationReferrersFilter is the referrers: setting they were
	// selected by ("signatures,sboms"): another setting looks again.
	AnnotationReferrersFilter = "io.vendorimg.referrers.filter"
	// AnnotationCosignKind and CosignImageKind mark an image's entry the
	// way cosign save does, for cosign verify --local-image.
	AnnotationCosignKind = "kind"
	CosignImageKind      = "dev.cosignproject.cosign/image"
)

// KindSignature: a configured signature policy is not met: no signature
// is vendored for the image, or none verifies (vendorimg verify, package
// sigverify). Part of the --json output.
const KindSignature Kind = "signature"

// FallbackTag is the referrers tag schema's tag for subject d:
// "sha256-HEX".
func FallbackTag(d digest.Digest) string {
	return d.Algorithm().String() + "-" + d.Encoded()
}

// Referrers is one subject's vendored referrers.
type Referrers struct {
	// Image is the configured image's name.
	Image string
	// Subject is the digest they refer to: the pin, or a vendored
	// platform's manifest.
	Subject digest.Digest
	// Filter is the referrers: setting they were chosen by.
	Filter string
	// Entry is the index.json entry of the referrers index.
	Entry ocispec.Descriptor
	// Manifests are the referrers' descriptors (with artifactType and
	// annotations), sorted by digest.
	Manifests []ocispec.Descriptor
}

// EncodeReferrers is the referrers index listing manifests, sorted by
// digest, and its descriptor: the same referrers always give the same
// bytes.
func EncodeReferrers(manifests []ocispec.Descriptor) ([]byte, ocispec.Descriptor, error) {
	sorted := slices.Clone(manifests)
	slices.SortFunc(sorted, func(a, b ocispec.Descriptor) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	sorted = slices.CompactFunc(sorted, func(a, b ocispec.Descriptor) bool { return a.Digest == b.Digest })
	if sorted == nil {
		sorted = []ocispec.Descriptor{}
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: sorted}
	idx.SchemaVersion = 2
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(idx); err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("encoding a referrers index: %w", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return b, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(b), Size: int64(len(b))}, nil
}

// ReferrersEntry is the index.json entry of the referrers index idx of
// subject, a digest of the image named image in repository repo
// ("registry.test/probe").
func ReferrersEntry(idx ocispec.Descriptor, repo, image string, subject digest.Digest, filter string) ocispec.Descriptor {
	return ocispec.Descriptor{
		MediaType: idx.MediaType,
		Digest:    idx.Digest,
		Size:      idx.Size,
		Annotations: map[string]string{
			AnnotationRefName:          repo + ":" + FallbackTag(subject),
			AnnotationReferrersOf:      image,
			AnnotationReferrersSubject: subject.String(),
			AnnotationReferrersFilter:  filter,
		},
	}
}

// IsReferrersEntry reports whether an index.json entry is a referrers
// index's (see ReferrersEntry).
func IsReferrersEntry(d ocispec.Descriptor) bool {
	return d.Annotations[AnnotationReferrersOf] != "" && d.Annotations[AnnotationReferrersSubject] != ""
}

// ReferrersOf returns the index.json entries of idx that list referrers
// of the image named image, with their referrers read from the layout
// (each referrers index rehashed), sorted by subject. A referrers index
// that is missing or malformed is an error: verify says more.
func (l *Layout) ReferrersOf(ctx context.Context, idx *ocispec.Index, image string) ([]Referrers, error) {
	var out []Referrers
	for _, d := range idx.Manifests {
		if !IsReferrersEntry(d) || d.Annotations[AnnotationReferrersOf] != image {
			continue
		}
		r, err := l.readReferrers(ctx, d)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Referrers) int { return strings.Compare(string(a.Subject), string(b.Subject)) })
	return out, nil
}

// AllReferrers returns every referrers index of idx, as ReferrersOf does.
func (l *Layout) AllReferrers(ctx context.Context, idx *ocispec.Index) ([]Referrers, error) {
	var out []Referrers
	for _, d := range idx.Manifests {
		if !IsReferrersEntry(d) {
			continue
		}
		r, err := l.readReferrers(ctx, d)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (l *Layout) readReferrers(ctx context.Context, d ocispec.Descriptor) (Referrers, error) {
	subject := digest.Digest(d.Annotations[AnnotationReferrersSubject])
	if err := manifest.CheckDigest(subject); err != nil {
		return Referrers{}, fmt.Errorf("reading the referrers index %s: %w: subject: %w", d.Digest, errs.ErrInvalidLayout, err)
	}
	raw, err := l.ReadBlob(ctx, d.Digest, manifest.MaxManifestSize)
	if err != nil {
		return Referrers{}, fmt.Errorf("reading the referrers of %s: %w", subject, err)
	}
	if got := digest.FromBytes(raw); got != d.Digest {
		return Referrers{}, fmt.Errorf("reading the referrers of %s: %w: %s hashes to %s", subject, errs.ErrDigestMismatch, RelBlobPath(d.Digest), got)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return Referrers{}, fmt.Errorf("reading the referrers of %s: %w: %v", subject, errs.ErrInvalidLayout, err)
	}
	for i, m := range idx.Manifests {
		if err := manifest.CheckDescriptor(m); err != nil {
			return Referrers{}, fmt.Errorf("reading the referrers of %s: %w: manifests[%d]: %w", subject, errs.ErrInvalidLayout, i, err)
		}
	}
	return Referrers{Image: d.Annotations[AnnotationReferrersOf], Subject: subject, Filter: d.Annotations[AnnotationReferrersFilter], Entry: d, Manifests: idx.Manifests}, nil
}

// referrersOfConfigured reports whether d is the referrers index of a
// configured image that vendors referrers.
func (v *verifier) referrersOfConfigured(d ocispec.Descriptor) bool {
	if !IsReferrersEntry(d) {
		return false
	}
	of := d.Annotations[AnnotationReferrersOf]
	return slices.ContainsFunc(v.opts.Images, func(e Expect) bool { return e.Name == of && e.Referrers != "" })
}

// checkReferrers reports each configured image whose pin's referrers are
// not vendored (as its referrers: setting asks).
func (v *verifier) checkReferrers(idx *ocispec.Index) {
	for _, e := range v.opts.Images {
		if e.Referrers == "" {
			continue
		}
		found := slices.ContainsFunc(idx.Manifests, func(d ocispec.Descriptor) bool {
			return IsReferrersEntry(d) && d.Annotations[AnnotationReferrersOf] == e.Name &&
				d.Annotations[AnnotationReferrersSubject] == e.Digest.String() && d.Annotations[AnnotationReferrersFilter] == e.Referrers
		})
		if !found {
			v.add(Finding{Kind: KindNotSynced, Path: IndexFile, Image: e.Name, Expected: e.Referrers,
				Message: fmt.Sprintf("the referrers of %s (%s) are not vendored: run vendorimg sync", e.Digest, e.Referrers)})
		}
	}
}

// ReferrerStatus is one vendored referrer of an image.
type ReferrerStatus struct {
	// Subject is the digest it refers to: the pin or a platform's
	// manifest.
	Subject digest.Digest `json:"subject"`
	Digest  digest.Digest `json:"digest"`
	// ArtifactType says what it is
	// ("application/vnd.dev.sigstore.bundle.v0.3+json").
	ArtifactType string `json:"artifactType"`
	// Kind is "signature", "sbom", "attestation" or "other".
	Kind string `json:"kind"`
	// PredicateType is an attestation's predicate type, when its
	// descriptor says.
	PredicateType string `json:"predicateType,omitempty"`
}

// referrerStatus lists the vendored referrers of the image named image.
func (l *Layout) referrerStatus(ctx context.Context, idx *ocispec.Index, image string) []ReferrerStatus {
	out := []ReferrerStatus{}
	refs, err := l.ReferrersOf(ctx, idx, image)
	if err != nil {
		return out
	}
	for _, r := range refs {
		for _, m := range r.Manifests {
			kind := "other"
			switch {
			case manifest.IsSignatureReferrer(m):
				kind = "signature"
			case manifest.IsSBOMReferrer(m):
				kind = "sbom"
			case manifest.IsAttestationReferrer(m):
				kind = "attestation"
			}
			out = append(out, ReferrerStatus{Subject: r.Subject, Digest: m.Digest, ArtifactType: m.ArtifactType, Kind: kind,
				PredicateType: m.Annotations[manifest.AnnotationBundlePredicateType]})
		}
	}
	return out
}

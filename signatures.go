package vendorimg

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/sigverify"
)

// checkSignatures adds to rep a finding (layout.KindSignature) for each
// image whose verify: policy its vendored signatures do not meet, checked
// offline under the layout's shared lock (see sigverify.Verify).
func checkSignatures(ctx context.Context, l *layout.Layout, cfg *config.Config, rep *layout.Report, p progress.Func) error {
	if !slices.ContainsFunc(cfg.Images, func(im config.Image) bool { return im.Verify != nil }) || !l.Exists() {
		return nil
	}
	lock, err := l.Lock(ctx, false, p)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	findings, err := sigverify.Verify(ctx, l, cfg.Images)
	if err != nil {
		return fmt.Errorf("verifying the signatures in %s: %w", l.Root(), err)
	}
	rep.Findings = append(rep.Findings, findings...)
	slices.SortStableFunc(rep.Findings, func(a, b layout.Finding) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(string(a.Kind), string(b.Kind))
	})
	return nil
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

func referrerStatus(ctx context.Context, l *layout.Layout, idx *ocispec.Index, im config.Image) []ReferrerStatus {
	out := []ReferrerStatus{}
	refs, err := l.ReferrersOf(ctx, idx, im.Name())
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

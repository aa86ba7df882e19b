package manifest

import (
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// What a referrer is, from its descriptor (as the referrers API and the
// tag schema list it: artifactType and the manifest's annotations).
const (
	// AnnotationBundlePredicateType is cosign's annotation of a Sigstore
	// bundle referrer: the predicate type of the in-toto statement inside.
	AnnotationBundlePredicateType = "dev.sigstore.bundle.predicateType"
	// CosignSignPredicate is the predicate type of cosign v3's image
	// signatures (cosign sign).
	CosignSignPredicate = "https://sigstore.dev/cosign/sign/v1"
	// MediaTypeBundlePrefix starts every Sigstore bundle's media type
	// ("application/vnd.dev.sigstore.bundle.v0.3+json").
	MediaTypeBundlePrefix = "application/vnd.dev.sigstore.bundle"
)

var (
	legacySignatureTypes = []string{"application/vnd.dev.cosign.artifact.sig.v1+json", "application/vnd.dev.cosign.simplesigning.v1+json"}
	sbomTypes            = []string{"application/spdx+json", "text/spdx", "application/vnd.cyclonedx+json", "application/vnd.cyclonedx+xml", "application/vnd.dev.cosign.artifact.sbom.v1+json", "application/vnd.syft+json"}
	attestationTypes     = []string{"application/vnd.in-toto+json", "application/vnd.dsse.envelope.v1+json", "application/vnd.dev.cosign.artifact.att.v1+json"}
	sbomPredicates       = []string{"https://spdx.dev/Document", "https://cyclonedx.org/bom", "https://syft.dev/bom"}
)

// AnnotationBundleContent is cosign's annotation of a Sigstore bundle
// referrer: what the bundle holds ("dsse-envelope").
const AnnotationBundleContent = "dev.sigstore.bundle.content"

// IsBundle reports whether a referrer is a Sigstore bundle: by its
// artifactType, or, where a registry lists the config's media type as the
// artifactType (go-containerregistry's does), by cosign's annotations.
func IsBundle(d ocispec.Descriptor) bool {
	return strings.HasPrefix(d.ArtifactType, MediaTypeBundlePrefix) ||
		d.Annotations[AnnotationBundleContent] != "" || d.Annotations[AnnotationBundlePredicateType] != ""
}

// IsSignatureReferrer reports whether a referrer is a cosign signature: a
// bundle of cosign's signing predicate, or cosign's older signature
// artifact.
func IsSignatureReferrer(d ocispec.Descriptor) bool {
	if IsBundle(d) {
		p := d.Annotations[AnnotationBundlePredicateType]
		return p == CosignSignPredicate || p == "" && strings.HasPrefix(d.ArtifactType, MediaTypeBundlePrefix)
	}
	return slices.Contains(legacySignatureTypes, d.ArtifactType)
}

// IsSBOMReferrer reports whether a referrer is an SBOM, attached or
// attested.
func IsSBOMReferrer(d ocispec.Descriptor) bool {
	if slices.Contains(sbomTypes, d.ArtifactType) {
		return true
	}
	p := d.Annotations[AnnotationBundlePredicateType]
	return slices.ContainsFunc(sbomPredicates, func(s string) bool { return strings.HasPrefix(p, s) })
}

// IsAttestationReferrer reports whether a referrer is an in-toto
// attestation (an SBOM attestation included) that is not a signature.
func IsAttestationReferrer(d ocispec.Descriptor) bool {
	if IsBundle(d) {
		return !IsSignatureReferrer(d)
	}
	return slices.Contains(attestationTypes, d.ArtifactType)
}

// ReferrerMatches reports whether a referrer is one that classes
// (vendorimg.yaml's referrers: "signatures", "attestations", "sboms",
// "all", or artifactTypes) asks for.
func ReferrerMatches(d ocispec.Descriptor, classes []string) bool {
	for _, c := range classes {
		switch c {
		case "all":
			return true
		case "signatures":
			if IsSignatureReferrer(d) {
				return true
			}
		case "attestations":
			if IsAttestationReferrer(d) {
				return true
			}
		case "sboms":
			if IsSBOMReferrer(d) {
				return true
			}
		default:
			if d.ArtifactType == c {
				return true
			}
		}
	}
	return false
}

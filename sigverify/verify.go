package sigverify

import (
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
)

// maxBundleSize bounds how much of a bundle is read: a signature bundle
// is a few KiB, an SBOM attestation a few MiB.
const maxBundleSize = 64 << 20

// maxKeySize bounds a public key or trusted root file.
const maxKeySize = 4 << 20

// Verify checks the vendored signatures of each image that has a verify:
// policy and returns a finding (layout.KindSignature) for each image whose
// policy is not met, naming the image and why. An image passes when a
// signature of its pin verifies, or, for signatures attached per platform,
// when every vendored platform's manifest has one that verifies. Read the
// layout under its shared lock (vendorimg.Check does). The error is for
// what stops the check (a cancelled ctx, an unreadable index.json).
func Verify(ctx context.Context, l *layout.Layout, images []config.Image) ([]layout.Finding, error) {
	var findings []layout.Finding
	var idx *ocispec.Index
	for _, im := range images {
		if im.Verify == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if idx == nil {
			var err error
			if idx, err = l.ReadIndex(ctx); errors.Is(err, fs.ErrNotExist) {
				idx = &ocispec.Index{}
			} else if err != nil {
				return nil, err
			}
		}
		if msg := checkImage(ctx, l, idx, im); msg != "" {
			findings = append(findings, layout.Finding{Kind: layout.KindSignature, Path: layout.IndexFile, Image: im.Name(),
				Expected: describePolicy(im.Verify), Message: msg})
		}
	}
	return findings, nil
}

func describePolicy(p *config.Policy) string {
	if p.Key != "" {
		return "signed with the key " + p.Key
	}
	return fmt.Sprintf("signed by %s (issuer %s, trusted root %s)", p.Identity, p.Issuer, p.TrustedRoot)
}

// checkImage says why im's policy is not met, or "".
func checkImage(ctx context.Context, l *layout.Layout, idx *ocispec.Index, im config.Image) string {
	v, policyOpt, err := newVerifier(im.Verify)
	if err != nil {
		return "cannot load the verify: policy: " + err.Error()
	}
	refs, err := l.ReferrersOf(ctx, idx, im.Name())
	if err != nil {
		return "cannot read the vendored referrers: " + err.Error()
	}
	if len(refs) == 0 {
		return "no signature is vendored: set referrers: [signatures] in vendorimg.yaml and run vendorimg sync"
	}
	// The pin first; then, failing that, every vendored platform.
	bySubject := map[digest.Digest]layout.Referrers{}
	for _, r := range refs {
		bySubject[r.Subject] = r
	}
	var why []string
	if r, ok := bySubject[im.Digest]; ok {
		reason := checkSubject(ctx, l, v, policyOpt, r)
		if reason == "" {
			return ""
		}
		why = append(why, fmt.Sprintf("%s: %s", im.Digest, reason))
	} else {
		why = append(why, fmt.Sprintf("%s: its referrers are not vendored", im.Digest))
	}
	inv, err := l.Inventory(ctx, ocispec.Descriptor{Digest: im.Digest}, layout.WalkOptions{Platforms: im.Platforms})
	if err != nil {
		return "no valid signature: " + strings.Join(append(why, "reading the image: "+err.Error()), "; ")
	}
	var bad []string
	platforms := 0
	for _, img := range inv.Images {
		if img.Manifest.Digest == im.Digest {
			continue
		}
		platforms++
		r, ok := bySubject[img.Manifest.Digest]
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: its referrers are not vendored", img.Manifest.Digest))
			continue
		}
		if reason := checkSubject(ctx, l, v, policyOpt, r); reason != "" {
			bad = append(bad, fmt.Sprintf("%s: %s", r.Subject, reason))
		}
	}
	if platforms > 0 && len(bad) == 0 {
		return ""
	}
	return "no valid signature: " + strings.Join(append(why, bad...), "; ")
}

// checkSubject says why no signature of r's subject verifies, or "".
func checkSubject(ctx context.Context, l *layout.Layout, v *verify.Verifier, policyOpt verify.PolicyOption, r layout.Referrers) string {
	hexDigest, err := hex.DecodeString(r.Subject.Encoded())
	if err != nil {
		return err.Error()
	}
	policy := verify.NewPolicy(verify.WithArtifactDigest(r.Subject.Algorithm().String(), hexDigest), policyOpt)
	var why []string
	n := 0
	for _, d := range r.Manifests {
		if !manifest.IsBundle(d) || !manifest.IsSignatureReferrer(d) {
			continue
		}
		bundles, err := readBundles(ctx, l, d)
		if err != nil {
			why = append(why, fmt.Sprintf("%s: %v", d.Digest, err))
			continue
		}
		for _, b := range bundles {
			n++
			if _, err := v.Verify(b, policy); err != nil {
				why = append(why, fmt.Sprintf("%s: %v", d.Digest, err))
				continue
			}
			return ""
		}
	}
	if n == 0 && len(why) == 0 {
		return "no signature is vendored"
	}
	return strings.Join(why, "; ")
}

// readBundles reads the Sigstore bundles a referrer manifest holds, each
// rehashed against its digest.
func readBundles(ctx context.Context, l *layout.Layout, d ocispec.Descriptor) ([]*bundle.Bundle, error) {
	raw, err := readVerified(ctx, l, d.Digest, manifest.MaxManifestSize)
	if err != nil {
		return nil, err
	}
	n, err := manifest.Parse(d.MediaType, raw)
	if err != nil {
		return nil, err
	}
	var out []*bundle.Bundle
	for _, layer := range n.Layers {
		if !strings.HasPrefix(layer.MediaType, manifest.MediaTypeBundlePrefix) {
			continue
		}
		b, err := readVerified(ctx, l, layer.Digest, maxBundleSize)
		if err != nil {
			return nil, err
		}
		var bu bundle.Bundle
		if err := bu.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("bundle %s: %w", layer.Digest, err)
		}
		out = append(out, &bu)
	}
	if len(out) == 0 {
		return nil, errors.New("holds no Sigstore bundle")
	}
	return out, nil
}

func readVerified(ctx context.Context, l *layout.Layout, d digest.Digest, limit int64) ([]byte, error) {
	raw, err := l.ReadBlob(ctx, d, limit)
	if err != nil {
		return nil, err
	}
	if got := digest.FromBytes(raw); got != d {
		return nil, fmt.Errorf("%s hashes to %s: its bytes changed", layout.RelBlobPath(d), got)
	}
	return raw, nil
}

// newVerifier builds the verifier and the identity part of the policy.
// Nothing is fetched: the key or trusted root comes from its file.
func newVerifier(p *config.Policy) (*verify.Verifier, verify.PolicyOption, error) {
	if p.Key != "" {
		pem, err := readSmall(p.Key)
		if err != nil {
			return nil, nil, err
		}
		pub, err := cryptoutils.UnmarshalPEMToPublicKey(pem)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the key %s: %w", p.Key, err)
		}
		sv, err := signature.LoadVerifier(pub, crypto.SHA256)
		if err != nil {
			return nil, nil, fmt.Errorf("loading the key %s: %w", p.Key, err)
		}
		tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
			return root.NewExpiringKey(sv, time.Time{}, time.Time{}), nil
		})
		v, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
		if err != nil {
			return nil, nil, err
		}
		return v, verify.WithKey(), nil
	}
	rootJSON, err := readSmall(p.TrustedRoot)
	if err != nil {
		return nil, nil, err
	}
	tr, err := root.NewTrustedRootFromJSON(rootJSON)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the trusted root %s: %w", p.TrustedRoot, err)
	}
	v, err := verify.NewVerifier(tr, verify.WithSignedCertificateTimestamps(1), verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		return nil, nil, err
	}
	id, err := verify.NewShortCertificateIdentity(p.Issuer, "", p.Identity, "")
	if err != nil {
		return nil, nil, fmt.Errorf("the identity %s of issuer %s: %w", p.Identity, p.Issuer, err)
	}
	return v, verify.WithCertificateIdentity(id), nil
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxKeySize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxKeySize)
	}
	return os.ReadFile(path)
}

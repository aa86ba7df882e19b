package config

import (
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The referrer classes vendorimg.yaml's referrers: names; any other entry
// must be an artifactType (a media type, "type/subtype").
const (
	// ReferrersSignatures are cosign signatures: Sigstore bundles of
	// cosign's signing predicate, and cosign's older signature artifacts.
	ReferrersSignatures = "signatures"
	// ReferrersAttestations are in-toto attestations other than SBOMs.
	ReferrersAttestations = "attestations"
	// ReferrersSBOMs are SBOMs: SPDX or CycloneDX documents, attached or
	// attested.
	ReferrersSBOMs = "sboms"
	// ReferrersAll is every referrer.
	ReferrersAll = "all"
)

var referrerClasses = []string{ReferrersSignatures, ReferrersAttestations, ReferrersSBOMs, ReferrersAll}

// Policy is an offline signature policy (verify: in vendorimg.yaml): a
// cosign public key, or keyless, a certificate identity and issuer checked
// against a Sigstore trusted root. Paths are absolute (resolved against
// vendorimg.yaml's folder).
type Policy struct {
	// Key is the path of a PEM public key (cosign.pub).
	Key string `json:"key,omitempty"`
	// Identity is the certificate's subject (an email or URI) that keyless
	// signatures must have.
	Identity string `json:"identity,omitempty"`
	// Issuer is the OIDC issuer keyless signatures must have.
	Issuer string `json:"issuer,omitempty"`
	// TrustedRoot is the path of a trusted_root.json for keyless
	// verification.
	TrustedRoot string `json:"trustedRoot,omitempty"`
	// Line is the policy's line in the file.
	Line int `json:"-"`
}

// Keyless reports whether p is a keyless policy.
func (p *Policy) Keyless() bool { return p != nil && p.Key == "" }

func (p parser) referrers(v *yaml.Node) ([]string, error) {
	if v.Kind == yaml.ScalarNode && v.Value == ReferrersAll {
		return []string{ReferrersAll}, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, p.errorf(v, nil, "referrers must be a list of %s or artifactTypes, or all", strings.Join(referrerClasses[:3], ", "))
	}
	var out []string
	for _, item := range v.Content {
		s, err := p.str(item, "referrers entries")
		if err != nil {
			return nil, err
		}
		if !slices.Contains(referrerClasses, s) && !isMediaType(s) {
			return nil, p.errorf(item, nil, "unknown referrers value %q (known: %s, or an artifactType like application/spdx+json)", s, strings.Join(referrerClasses, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// isMediaType reports whether s looks like "type/subtype".
func isMediaType(s string) bool {
	t, sub, ok := strings.Cut(s, "/")
	return ok && t != "" && sub != "" && !strings.ContainsAny(s, " \t\n") && !strings.Contains(sub, "/")
}

func (p parser) policy(v *yaml.Node) (*Policy, error) {
	if v.Kind != yaml.MappingNode {
		return nil, p.errorf(v, nil, "verify must be {key: path/to/cosign.pub} or {identity: ..., issuer: ..., trustedRoot: path/to/trusted_root.json}")
	}
	pol := &Policy{Line: v.Line}
	dir := filepath.Dir(p.path)
	abs := func(s string) string {
		if filepath.IsAbs(s) {
			return filepath.Clean(s)
		}
		return filepath.Join(dir, filepath.FromSlash(s))
	}
	err := p.mapping(v, "verify", []string{"key", "identity", "issuer", "trustedRoot"}, func(key string, n *yaml.Node) error {
		s, err := p.str(n, "verify's "+key)
		if err != nil {
			return err
		}
		if s == "" {
			return p.errorf(n, nil, "verify's %s must not be empty", key)
		}
		switch key {
		case "key":
			pol.Key = abs(s)
		case "identity":
			pol.Identity = s
		case "issuer":
			pol.Issuer = s
		case "trustedRoot":
			pol.TrustedRoot = abs(s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	keyless := pol.Identity != "" || pol.Issuer != "" || pol.TrustedRoot != ""
	switch {
	case pol.Key != "" && keyless:
		return nil, p.errorf(v, nil, "verify takes either key or identity, issuer and trustedRoot, not both")
	case pol.Key == "" && (pol.Identity == "" || pol.Issuer == "" || pol.TrustedRoot == ""):
		return nil, p.errorf(v, nil, "verify needs key, or all of identity, issuer and trustedRoot")
	}
	return pol, nil
}

// applyDefaults gives each image the top-level referrers: and verify:
// it does not set itself (an image's own setting replaces the default).
func (c *Config) applyDefaults() {
	for i := range c.Images {
		if !c.Images[i].ownReferrers {
			c.Images[i].Referrers = slices.Clone(c.Referrers)
		}
		if !c.Images[i].ownVerify {
			c.Images[i].Verify = c.Verify
		}
	}
}

// WantsReferrers reports whether the image vendors referrers.
func (im Image) WantsReferrers() bool { return len(im.Referrers) > 0 }

// ReferrersString is the image's referrers: setting in one word list
// ("signatures,sboms"), as recorded in the layout.
func (im Image) ReferrersString() string { return strings.Join(im.Referrers, ",") }

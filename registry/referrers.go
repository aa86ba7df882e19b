package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/reference"
)

// Referrers lists the manifests whose subject is d in ref's repository:
// through the referrers API (GET /v2/NAME/referrers/DIGEST) and, when the
// registry has no referrers API, through the referrers tag schema (the
// image index tagged sha256-HEX, which cosign, oras and regctl push
// there). No referrers is an empty list, not an error. viaAPI says which
// way answered.
func (c *Client) Referrers(ctx context.Context, ref reference.Reference, d digest.Digest) (_ []ocispec.Descriptor, viaAPI bool, _ error) {
	if err := manifest.CheckDigest(d); err != nil {
		return nil, false, err
	}
	raw, err := c.referrersAPI(ctx, ref, d)
	if err == nil {
		list, err := parseReferrers(raw, d)
		return list, true, err
	}
	if !noReferrersAPI(err) {
		return nil, false, fmt.Errorf("listing the referrers of %s in %s: %w", d, ref.Name(), err)
	}
	c.logger.Debug("no referrers API, reading the fallback tag", "repository", ref.Name(), "subject", d)
	tag := d.Algorithm().String() + "-" + d.Encoded()
	raw, _, err = c.fetchManifest(ctx, ref, tag)
	if errors.Is(err, errs.ErrNotFound) {
		return []ocispec.Descriptor{}, false, nil
	}
	if err != nil {
		return nil, false, withContext(err, "listing the referrers of %s in %s (tag %s)", d, ref.Name(), tag)
	}
	list, err := parseReferrers(raw, d)
	return list, false, err
}

func (c *Client) referrersAPI(ctx context.Context, ref reference.Reference, d digest.Digest) ([]byte, error) {
	resp, _, err := c.get(ctx, http.MethodGet, ref, "/referrers/"+d.String(), []string{ocispec.MediaTypeImageIndex})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, manifest.MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the referrers of %s: %w", d, err)
	}
	if n > manifest.MaxManifestSize {
		return nil, fmt.Errorf("the referrers of %s: %w (more than %d bytes)", d, errs.ErrTooLarge, manifest.MaxManifestSize)
	}
	return buf.Bytes(), nil
}

// noReferrersAPI reports whether err is a registry's way of saying it has
// no referrers API: distribution 2 answers 404 to the unknown route,
// others 400, 405 or 501.
func noReferrersAPI(err error) bool {
	if errors.Is(err, errs.ErrNotFound) {
		return true
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusNotImplemented:
			return true
		}
	}
	return false
}

// parseReferrers reads a referrers index, keeping only well-formed
// manifest descriptors.
func parseReferrers(raw []byte, subject digest.Digest) ([]ocispec.Descriptor, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("reading the referrers of %s: %w: %v", subject, errs.ErrUnsupportedMediaType, err)
	}
	out := []ocispec.Descriptor{}
	for _, m := range idx.Manifests {
		if manifest.CheckDescriptor(m) != nil {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

package vendorimg

import (
	"context"
	"fmt"
	"runtime"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// What Add did to an image's pin. The values are part of the JSON output.
const (
	// Pinned: the image was not configured; it is now.
	Pinned = "pinned"
	// Repinned: the pin moved to another digest.
	Repinned = "re-pinned"
	// Replatformed: same pin, other platforms.
	Replatformed = "platforms-changed"
	// Unchanged: same pin, same platforms.
	Unchanged = "unchanged"
)

// DefaultPlatforms is what Add vendors of an image that is not configured
// yet, unless told otherwise: linux on this machine's architecture.
func DefaultPlatforms() platform.Selection {
	return platform.Selection{Platforms: []platform.Platform{{OS: "linux", Architecture: runtime.GOARCH}}}
}

// AddOptions configure Add.
type AddOptions struct {
	SyncOptions
	// Ref is the image to pin: a tag to resolve, or a reference with a
	// digest. Required.
	Ref reference.Reference
	// Platforms are the platforms to vendor. Default (the zero
	// Selection): an image already configured keeps its platforms, and a
	// new one gets DefaultPlatforms.
	Platforms platform.Selection
}

// AddResult says what Add pinned and what the sync that followed did.
type AddResult struct {
	Image config.Image `json:"-"`
	// Name and Digest are the pinned image's.
	Name      string   `json:"name"`
	Digest    string   `json:"digest"`
	MediaType string   `json:"mediaType"`
	Platforms []string `json:"platforms"`
	// Action is Pinned, Repinned, Replatformed or Unchanged.
	Action string `json:"action"`
	// Previous and PreviousPlatforms are the image's pin and platforms
	// before, for an image that was configured.
	Previous          string             `json:"previous,omitempty"`
	PreviousPlatforms []string           `json:"previousPlatforms,omitempty"`
	Created           bool               `json:"created"` // vendorimg.yaml did not exist
	Replaced          bool               `json:"replaced"`
	Top               ocispec.Descriptor `json:"-"`
	Sync              *SyncResult        `json:"sync"`
}

// Add pins opts.Ref: it resolves the tag to the digest of the manifest or index
// the registry serves (unless ref already carries a digest), sets the
// image's entry in a copy of cfg (replacing one with the same name, keeping
// its place, comments and, unless told otherwise, its platforms), syncs,
// and saves vendorimg.yaml once the image is complete in the stage, just
// before the layout changes; then cfg becomes the saved configuration. A
// failure changes no file: not vendorimg.yaml, not the layout.
func Add(ctx context.Context, cfg *config.Config, opts AddOptions) (*AddResult, error) {
	ref := opts.Ref
	if ref.Repository == "" {
		return nil, fmt.Errorf("%w: adding: no image reference given", errs.ErrInvalidReference)
	}
	c := client(cfg, opts.SyncOptions)
	pin := ref.Digest
	var top ocispec.Descriptor
	if pin == "" {
		if opts.Offline {
			return nil, fmt.Errorf("adding %s: %w: resolving a tag needs the registry (give a digest, ref@sha256:...)", ref, errs.ErrOffline)
		}
		d, err := c.Resolve(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("adding %s: %w", ref, err)
		}
		pin, top = d.Digest, d
	}
	sel := opts.Platforms
	im := config.Image{Ref: ref.WithoutDigest(), Digest: pin}
	res := &AddResult{Name: im.Name(), Digest: pin.String(), MediaType: top.MediaType, Top: top, Action: Pinned}
	if i := cfg.Lookup(im.Pinned()); i >= 0 {
		was := cfg.Images[i]
		res.Replaced, res.Previous, res.PreviousPlatforms = true, was.Digest.String(), was.Platforms.Strings()
		if isZero(sel) {
			sel = was.Platforms
		}
		switch {
		case was.Digest != pin:
			res.Action = Repinned
		case !was.Platforms.Equal(sel):
			res.Action = Replatformed
		default:
			res.Action = Unchanged
		}
	} else if isZero(sel) {
		sel = DefaultPlatforms()
	}
	im.Platforms = sel
	res.Image, res.Platforms = im, sel.Strings()
	next := cfg.Clone()
	if err := next.Set(im); err != nil {
		return nil, err
	}
	syncOpts := opts.SyncOptions
	syncOpts.Client = c
	if res.Action != Unchanged {
		// "unchanged" changes no byte of vendorimg.yaml: not its
		// formatting, comments or encoding either.
		syncOpts.BeforeCommit = func() error { return next.Save(ctx) }
	}
	sr, err := Sync(ctx, next, syncOpts)
	res.Sync = sr
	if sr == nil {
		return nil, fmt.Errorf("adding %s: %w", im.Name(), err)
	}
	for _, r := range sr.Images {
		if r.Name != im.Name() {
			continue
		}
		if r.Err() != nil {
			return res, r.Err()
		}
		res.MediaType = r.MediaType
		if err != nil {
			// Another image failed: nothing was saved.
			return res, fmt.Errorf("adding %s: vendorimg.yaml and the layout are unchanged because another image does not sync: %w", im.Name(), err)
		}
		*cfg = *next
		return res, nil
	}
	return res, fmt.Errorf("adding %s: the sync did not report the image", im.Name())
}

// isZero reports whether sel is the zero Selection (nothing chosen).
func isZero(sel platform.Selection) bool { return !sel.All && len(sel.Platforms) == 0 }

package vendorimg

import (
	"context"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// AddResult says what Add pinned and what the sync that followed did.
type AddResult struct {
	Image config.Image `json:"-"`
	// Name and Digest are the pinned image's.
	Name      string             `json:"name"`
	Digest    string             `json:"digest"`
	MediaType string             `json:"mediaType"`
	Platforms []string           `json:"platforms"`
	Created   bool               `json:"created"` // vendorimg.yaml did not exist
	Replaced  bool               `json:"replaced"`
	Top       ocispec.Descriptor `json:"-"`
	Sync      *SyncResult        `json:"sync"`
}

// Add pins ref: it resolves the tag to the digest of the manifest or index
// the registry serves (unless ref already carries a digest), sets the
// image's entry in a copy of cfg (replacing one with the same name, keeping
// its place and comments), syncs, and saves vendorimg.yaml only once the new
// image is in the layout; then cfg becomes the saved configuration. A
// failure leaves vendorimg.yaml and cfg untouched.
func Add(ctx context.Context, cfg *config.Config, ref reference.Reference, sel platform.Selection, opts SyncOptions) (*AddResult, error) {
	s := newSyncer(cfg, opts)
	pin := ref.Digest
	var top ocispec.Descriptor
	if pin == "" {
		if opts.Offline {
			return nil, fmt.Errorf("adding %s: %w: resolving a tag needs the registry (give a digest, ref@sha256:...)", ref, errs.ErrOffline)
		}
		d, err := s.registry().Resolve(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("adding %s: %w", ref, err)
		}
		pin, top = d.Digest, d
	}
	im := config.Image{Ref: ref.WithoutDigest(), Digest: pin, Platforms: sel}
	res := &AddResult{Image: im, Name: im.Name(), Digest: pin.String(), MediaType: top.MediaType, Platforms: sel.Strings(), Top: top}
	res.Replaced = cfg.Lookup(im.Pinned()) >= 0
	next := cfg.Clone()
	if err := next.Set(im); err != nil {
		return nil, err
	}
	sr, err := Sync(ctx, next, SyncOptions{Offline: opts.Offline, Jobs: opts.Jobs, Client: s.registry(), Logger: opts.Logger, Progress: opts.Progress})
	res.Sync = sr
	if sr == nil {
		return nil, err
	}
	for _, r := range sr.Images {
		if r.Name != im.Name() {
			continue
		}
		if r.Err() != nil {
			return res, r.Err()
		}
		res.MediaType = r.MediaType
		if saveErr := next.Save(ctx); saveErr != nil {
			return res, errors.Join(saveErr, err)
		}
		*cfg = *next
		return res, err
	}
	return res, fmt.Errorf("adding %s: the sync did not report the image", im.Name())
}

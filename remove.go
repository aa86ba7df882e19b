package vendorimg

import (
	"context"
	"fmt"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
)

// RemoveOptions configure Remove.
type RemoveOptions struct {
	// SyncOptions configure the offline sync that follows (Offline is
	// always set).
	SyncOptions
	// Images are the images to remove, in any form Config.Select takes;
	// at least one.
	Images []string
}

// RemoveResult says what Remove dropped and what the sync did.
type RemoveResult struct {
	// Removed are the names of the images dropped from vendorimg.yaml.
	Removed []string `json:"removed"`
	// Sync is the offline sync that dropped their index.json entries and
	// pruned their blobs.
	Sync *SyncResult `json:"sync"`
}

// Remove drops the named images from vendorimg.yaml (every other entry
// keeps its place and comments) and syncs offline, which drops their
// index.json entries and prunes the blobs no remaining image uses (unless
// opts.NoPrune). Names are as Config.Select takes them; one that is not
// configured is an error (errs.ErrConfig) and nothing changes. It never
// uses the network: a remaining image that is incomplete is an error
// (errs.ErrOffline) and nothing changes. On success cfg becomes the saved
// configuration.
func Remove(ctx context.Context, cfg *config.Config, ro RemoveOptions) (*RemoveResult, error) {
	if len(ro.Images) == 0 {
		return nil, fmt.Errorf("%w: name the images to remove", errs.ErrConfig)
	}
	opts := ro.SyncOptions
	images, err := cfg.Select(ro.Images)
	if err != nil {
		return nil, err
	}
	next := cfg.Clone()
	res := &RemoveResult{Removed: []string{}}
	for _, im := range images {
		if next.Remove(im.Name()) {
			res.Removed = append(res.Removed, im.Name())
		}
	}
	opts.Offline = true
	opts.BeforeCommit = func() error { return next.Save(ctx) }
	sr, err := Sync(ctx, next, opts)
	res.Sync = sr
	if err != nil {
		return res, err
	}
	*cfg = *next
	return res, nil
}

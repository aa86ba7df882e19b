package vendorimg

import (
	"context"
	"errors"

	"github.com/vendorimg/vendorimg/config"
)

// UpdateOptions configure Update.
type UpdateOptions struct {
	SyncOptions
	// Images are the images to update, in any form Config.Select takes.
	// Default: every image of the configuration.
	Images []string
}

// UpdateResult says what Update re-pinned and what the sync did.
type UpdateResult struct {
	// Images are the images asked about, each with its old pin and what
	// its tag points to now.
	Images []TagState `json:"images"`
	// Updated are the names of the images re-pinned.
	Updated []string `json:"updated"`
	// Sync is the sync that vendored the new pins (nil when nothing moved
	// or the sync could not start).
	Sync *SyncResult `json:"sync,omitempty"`
}

// Update re-pins the tags of images that moved upstream (see Outdated),
// keeping each image's platforms, place and comments in vendorimg.yaml,
// then syncs and prunes. vendorimg.yaml is saved once the new pins are
// complete in the stage, just before the layout changes; then cfg becomes
// the saved configuration. A failure changes no file. Images whose tag
// could not be resolved are reported and left as they are; the error then
// names them, after the others are updated.
func Update(ctx context.Context, cfg *config.Config, uo UpdateOptions) (*UpdateResult, error) {
	images, err := cfg.Select(uo.Images)
	if err != nil {
		return nil, err
	}
	opts := uo.SyncOptions
	c := client(cfg, opts)
	check, err := outdated(ctx, cfg, images, OutdatedOptions{Client: c, Jobs: opts.Jobs, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	res := &UpdateResult{Images: check.Images, Updated: []string{}}
	next := cfg.Clone()
	for i, st := range check.Images {
		if !st.Moved {
			continue
		}
		im := images[i]
		im.Digest = st.Current
		if err := next.Set(im); err != nil {
			return res, err
		}
		res.Updated = append(res.Updated, st.Name)
	}
	checkErr := check.Err()
	if len(res.Updated) == 0 {
		return res, checkErr
	}
	opts.Client = c
	// update is a network command anyway: it also looks for referrers
	// attached since the last sync.
	opts.Referrers = true
	opts.BeforeCommit = func() error { return next.Save(ctx) }
	sr, err := Sync(ctx, next, opts)
	res.Sync = sr
	if err != nil {
		return res, errors.Join(err, checkErr)
	}
	*cfg = *next
	return res, checkErr
}

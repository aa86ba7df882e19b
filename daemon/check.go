package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/progress"
)

// CheckOptions configure Check.
type CheckOptions struct {
	// Images are the images whose tags are checked in the engine. Default:
	// every image of the configuration. The layout is always checked
	// against the whole configuration.
	Images []config.Image
	// Deep also decompresses every layer of the layout and checks it
	// against its config's diff_ids. Default false.
	Deep bool
	// DeepDaemon also exports each image from the engine and rehashes it
	// (VerifyOptions.Deep), so that a file changed in the engine's storage
	// is found. "vendorimg verify --daemon --deep" sets both Deep and
	// DeepDaemon. Default false: the engine's image IDs and layer lists
	// are compared, which such a change leaves as they were.
	DeepDaemon bool
	// Jobs is how many blobs are hashed at once. Default GOMAXPROCS.
	Jobs int
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
	// Progress, if not nil, receives the layout verification's events
	// (see layout.VerifyOptions).
	Progress progress.Func
}

// CheckReport is the proof that the vendored images are intact: the
// layout's report and, when an engine was checked, the engine's. It is
// what "vendorimg verify [--daemon] --json" prints.
type CheckReport struct {
	// OK: no finding in either part.
	OK bool `json:"ok"`
	// Layout is the layout's verification (layout.Verify against the
	// configuration).
	Layout *layout.Report `json:"layout"`
	// Daemon is the engine's check (Verify), nil when no engine was asked
	// or it could not be reached.
	Daemon *Report `json:"daemon,omitempty"`
}

// Check proves that cfg's vendored images did not change, the one
// composition of the layout's verification and the engine's (the root
// package's Verify and Check, and vendorimgtest, call it): it rehashes the
// layout (layout.Verify against every configured image) and then, when c
// is not nil, checks that the engine's tags still point to the vendored
// images (Verify; with opts.DeepDaemon, rehashing what the engine exports). Findings are in the report, not errors. The error is
// for what stops a check: a cancelled ctx, or an engine that cannot be
// reached (errs.ErrNoEngine); the report then still holds the layout's
// part. It changes nothing.
func Check(ctx context.Context, c Client, cfg *config.Config, opts CheckOptions) (*CheckReport, error) {
	if opts.Jobs < 0 {
		return nil, fmt.Errorf("%w: jobs %d: must not be negative", errs.ErrInvalidOption, opts.Jobs)
	}
	l := layout.New(cfg.LayoutDir())
	lrep, err := l.Verify(ctx, layout.VerifyOptions{Images: layout.Expectations(cfg.Images), Deep: opts.Deep, Jobs: opts.Jobs, Progress: opts.Progress})
	if err != nil {
		return nil, fmt.Errorf("verifying %s: %w", l.Root(), err)
	}
	rep := &CheckReport{OK: lrep.OK(), Layout: lrep}
	if c == nil {
		return rep, nil
	}
	images := opts.Images
	if images == nil {
		images = cfg.Images
	}
	drep, err := Verify(ctx, c, l, images, VerifyOptions{Logger: opts.Logger, Progress: opts.Progress, Deep: opts.DeepDaemon})
	if err != nil {
		rep.OK = false
		return rep, err
	}
	rep.Daemon = drep
	rep.OK = rep.OK && drep.OK()
	return rep, nil
}

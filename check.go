package vendorimg

import (
	"context"
	"log/slog"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/progress"
)

// CheckOptions configure Check.
type CheckOptions struct {
	// Images are the images whose tags are checked in the engine, in any
	// form Config.Select takes. Default: every image of the configuration.
	// The layout is always checked against the whole configuration.
	Images []string
	// Daemon also checks the engine: each image's tag must point to the
	// vendored image (daemon.Verify). Default false: the layout only.
	Daemon bool
	// Engine is the engine Daemon checks. Default: daemon.NewClient (the
	// DOCKER_HOST engine, or the local socket), closed on return.
	Engine daemon.Client
	// Deep also decompresses every layer of the layout and checks it
	// against its config's diff_ids. Default false.
	Deep bool
	// DeepDaemon also exports each image from the engine and rehashes it
	// (daemon.VerifyOptions.Deep), so that a file changed in the engine's
	// storage is found. "vendorimg verify --daemon --deep" sets both Deep
	// and DeepDaemon. Default false: the engine's image IDs and layer lists
	// are compared, which such a change leaves as they were.
	DeepDaemon bool
	// Jobs is how many blobs are hashed at once. Default GOMAXPROCS.
	Jobs int
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
	// Progress, if not nil, receives the layout verification's events
	// (see layout.VerifyOptions).
	Progress progress.Func
	// Signatures checks the verify: policies of the configuration's
	// images. Default (nil): the vendorimg-sigverify program, run for the
	// check when an image has a policy and the layout exists, found at
	// $VENDORIMG_SIGVERIFY, beside the running executable, or on PATH
	// (errs.ErrNoSigverify when there is none of vendorimg's version).
	// Set it to sigverify.Verify to check in this process instead (a Go
	// test's TestMain, say), which links the Sigstore libraries into the
	// caller's binary: vendorimg itself does not, to start faster.
	Signatures SignatureVerifier
}

// CheckReport is the proof that the vendored images are intact: the
// layout's report and, when an engine was checked, the engine's (see
// daemon.CheckReport). It is what "vendorimg verify [--daemon] --json"
// prints.
type CheckReport = daemon.CheckReport

// Check proves that cfg's vendored images did not change: it rehashes the
// layout against every configured image and then, with opts.Daemon, checks
// that the engine's tags still point to the vendored images (daemon.Check,
// where the two are composed). Findings are in the report, not errors. The
// error is for what stops a check: a bad option, a cancelled ctx, or an
// engine that cannot be reached (errs.ErrNoEngine); the report then still
// holds the layout's part. A verify: policy that cannot be checked
// (errs.ErrNoSigverify: see Signatures) is an error too, and then there is
// no report. It changes nothing.
func Check(ctx context.Context, cfg *config.Config, opts CheckOptions) (*CheckReport, error) {
	images, err := cfg.Select(opts.Images)
	if err != nil {
		return nil, err
	}
	var c daemon.Client
	if opts.Daemon || opts.Engine != nil {
		var done func()
		if c, done, err = engine(opts.Engine); err != nil {
			return nil, err
		}
		defer done()
	}
	rep, err := daemon.Check(ctx, c, cfg, daemon.CheckOptions{Images: images, Deep: opts.Deep, DeepDaemon: opts.DeepDaemon, Jobs: opts.Jobs, Logger: opts.Logger, Progress: opts.Progress})
	if rep == nil || rep.Layout == nil {
		return rep, err
	}
	// The verify: policies, checked offline on the vendored signatures.
	if serr := checkSignatures(ctx, layout.New(cfg.LayoutDir()), cfg, rep.Layout, opts.Signatures, opts.Logger, opts.Progress); serr != nil {
		return nil, serr
	}
	rep.OK = rep.OK && rep.Layout.OK()
	return rep, err
}

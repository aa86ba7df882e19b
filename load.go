package vendorimg

import (
	"context"
	"log/slog"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/progress"
)

// LoadOptions configure Load.
type LoadOptions struct {
	// Images are the images to load, in any form Config.Select takes.
	// Default: every image of the configuration.
	Images []string
	// Platform is the platform to load. Default: the engine's own.
	Platform *platform.Platform
	// Engine is the engine to load into. Default: daemon.NewClient (the
	// DOCKER_HOST engine, or the local socket), closed on return.
	Engine daemon.Client
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
	// Progress, if not nil, receives daemon.Load's events.
	Progress progress.Func
	// Replace removes and loads again an image already in the engine
	// under its tag (daemon.LoadOptions.Replace). Default false.
	Replace bool
	// Archive always sends archives (daemon.LoadOptions.Archive).
	Archive bool
}

// Load loads the configured images from the layout into the engine and
// tags each as its reference, offline, rehashing every blob as it streams;
// an image already there with the vendored ID is skipped (see
// daemon.Load). An image that fails does not stop the others.
func Load(ctx context.Context, cfg *config.Config, opts LoadOptions) (*daemon.LoadReport, error) {
	images, err := cfg.Select(opts.Images)
	if err != nil {
		return nil, err
	}
	c, done, err := engine(opts.Engine)
	if err != nil {
		return nil, err
	}
	defer done()
	return daemon.Load(ctx, c, layout.New(cfg.LayoutDir()), images, daemon.LoadOptions{Platform: opts.Platform, Logger: opts.Logger, Progress: opts.Progress, Replace: opts.Replace, Archive: opts.Archive})
}

// UnloadOptions configure Unload.
type UnloadOptions struct {
	// Images are the images to unload, in any form Config.Select takes.
	// Default: every image of the configuration.
	Images []string
	// Engine is the engine to unload from. Default: daemon.NewClient,
	// closed on return.
	Engine daemon.Client
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
	// Progress, if not nil, receives a progress.Waiting event if another
	// vendorimg holds the layout's lock.
	Progress progress.Func
}

// Unload removes from the engine the tags Load made, and each image
// nothing else uses; a tag that now points elsewhere is kept and reported
// (see daemon.Unload). It never uses the network.
func Unload(ctx context.Context, cfg *config.Config, opts UnloadOptions) (*daemon.UnloadReport, error) {
	images, err := cfg.Select(opts.Images)
	if err != nil {
		return nil, err
	}
	c, done, err := engine(opts.Engine)
	if err != nil {
		return nil, err
	}
	defer done()
	return daemon.Unload(ctx, c, layout.New(cfg.LayoutDir()), images, daemon.UnloadOptions{Logger: opts.Logger, Progress: opts.Progress})
}

// engine returns c, or a new client of the DOCKER_HOST engine that done
// closes.
func engine(c daemon.Client) (_ daemon.Client, done func(), _ error) {
	if c != nil {
		return c, func() {}, nil
	}
	dc, err := daemon.NewClient()
	if err != nil {
		return nil, nil, err
	}
	return dc, func() { dc.Close() }, nil
}

package vendorimg

import (
	"context"
	"log/slog"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
)

// WatchOptions configure Watch.
type WatchOptions struct {
	// Images are the images to watch, in any form Config.Select takes.
	// Default: every image of the configuration.
	Images []string
	// Platform is the vendored platform that was loaded. Default: the
	// engine's own.
	Platform *platform.Platform
	// Engine is the engine to watch. Default: daemon.NewClient (the
	// DOCKER_HOST engine, or the local socket), closed by the returned
	// function.
	Engine daemon.WatchClient
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
}

// Watch starts the per-test check of the loaded images (daemon.Watcher):
// call its Check after each test. The returned function closes the
// engine connection Watch opened (none when opts.Engine is set).
func Watch(ctx context.Context, cfg *config.Config, opts WatchOptions) (*daemon.Watcher, func(), error) {
	images, err := cfg.Select(opts.Images)
	if err != nil {
		return nil, nil, err
	}
	c, done := opts.Engine, func() {}
	if c == nil {
		dc, err := daemon.NewClient()
		if err != nil {
			return nil, nil, err
		}
		c, done = dc, func() { dc.Close() }
	}
	w, err := daemon.NewWatcher(ctx, c, layout.New(cfg.LayoutDir()), images, daemon.WatchOptions{Platform: opts.Platform, Logger: opts.Logger})
	if err != nil {
		done()
		return nil, nil, err
	}
	return w, done, nil
}

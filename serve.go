package vendorimg

import (
	"context"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/serve"
)

// ServeOptions configure Serve: the address (default serve.DefaultAddr,
// loopback), a logger, progress, and Ready, called with what is served
// once it listens (see serve.RunOptions).
type ServeOptions = serve.RunOptions

// Serve serves the configured images from the layout, in place, as a
// read-only registry until ctx is done, holding the layout's shared lock
// (see serve.Run). It has no result but what opts.Ready hears: it returns
// only when it stops.
func Serve(ctx context.Context, cfg *config.Config, opts ServeOptions) error {
	return serve.Run(ctx, cfg, opts)
}

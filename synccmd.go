package vendorimg

import (
	"context"
	"sync"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/registry"
	"github.com/vendorimg/vendorimg/syncer"
)

// DefaultJobs is how many blobs sync downloads, and how many images
// outdated asks about, at once unless told.
const DefaultJobs = syncer.DefaultJobs

// SyncOptions configure Sync, Add, Update and Remove; package syncer
// documents them.
type SyncOptions = syncer.Options

// SyncResult says what Sync did; package syncer documents it.
type SyncResult = syncer.Result

// Sync makes the layout match the configuration: it fetches only the
// missing blobs, by digest, verifying each while it streams, rewrites
// index.json with one entry per configured image, and prunes the blobs no
// configured image uses (see syncer.Sync). A failure leaves the layout as
// it was.
func Sync(ctx context.Context, cfg *config.Config, opts SyncOptions) (*SyncResult, error) {
	return syncer.Sync(ctx, cfg, opts)
}

// client returns opts.Client, or the client Sync would make: the
// configuration's (registry.ForConfig) with opts' insecure hosts, logger,
// client options, and notices as progress.Notice events.
func client(cfg *config.Config, opts SyncOptions) syncer.Registry {
	if opts.Client != nil {
		return opts.Client
	}
	return registry.ForConfig(cfg, registry.ConfigOptions{
		Insecure: opts.Insecure,
		Logger:   opts.Logger,
		Options:  append([]registry.Option{registry.WithNotice(notices(opts.Progress))}, opts.ClientOptions...),
	})
}

// notices passes a client's notices on to f as progress.Notice events, one
// at a time: the client calls it from its requests' goroutines.
func notices(f progress.Func) func(string) {
	var mu sync.Mutex
	return func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		f.Emit(progress.Event{Kind: progress.Notice, Message: msg})
	}
}

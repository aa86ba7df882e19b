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

// The sync engine's types, which Sync, Add, Update and Remove take and
// return; package syncer documents them.
type (
	// SyncOptions configure Sync, Add, Update and Remove.
	SyncOptions = syncer.Options
	// SyncResult says what Sync did.
	SyncResult = syncer.Result
	// ImageResult is one image's outcome of a sync.
	ImageResult = syncer.ImageResult
	// Adopted is an index.json entry another tool wrote, renamed by sync.
	Adopted = syncer.Adopted
	// Repaired is a blob that sync --repair fetched again.
	Repaired = syncer.Repaired
	// Fetcher is what Sync needs of a registry.
	Fetcher = syncer.Fetcher
	// Resolver turns a tag into a descriptor.
	Resolver = syncer.Resolver
	// Registry is what Add needs of a registry.
	Registry = syncer.Registry
)

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
func client(cfg *config.Config, opts SyncOptions) Registry {
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

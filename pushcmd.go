package vendorimg

import (
	"context"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/pusher"
)

// PushOptions configure Push; package pusher documents them.
type PushOptions = pusher.Options

// PushResult says what Push did, per image, manifest and blob, with the
// actions pusher.PushUploaded, PushMounted, PushExists, ...
type PushResult = pusher.Result

// ErrNotStored: the registry acknowledged a blob or manifest that a HEAD
// right after does not find (pusher.ErrNotStored).
var ErrNotStored = pusher.ErrNotStored

// Push copies the configured images from the layout into the registry
// opts.Target (REGISTRY[/PREFIX]) byte for byte, skipping the blobs it has (see
// pusher.Push). It never writes the layout.
func Push(ctx context.Context, cfg *config.Config, opts PushOptions) (*PushResult, error) {
	return pusher.Push(ctx, cfg, opts)
}

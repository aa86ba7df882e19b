package vendorimg

import (
	"context"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/pusher"
)

// The push engine's types, which Push takes and returns; package pusher
// documents them.
type (
	// PushOptions configure Push.
	PushOptions = pusher.Options
	// PushResult says what Push did.
	PushResult = pusher.Result
	// PushedImage is one image's outcome of a push.
	PushedImage = pusher.PushedImage
	// PushedManifest is a manifest or index of a pushed image.
	PushedManifest = pusher.PushedManifest
	// PushedBlob is a config, layer or other blob of a pushed image.
	PushedBlob = pusher.PushedBlob
	// Pusher is what Push needs of a registry.
	Pusher = pusher.Pusher
	// PushedSource is where one image manifest of a pushed image came
	// from: the layout, or upstream for a sparse index completed there.
	PushedSource = pusher.PushedSource
	// PushFetcher is what Push needs of the registry a sparse index is
	// completed from.
	PushFetcher = pusher.Fetcher
)

// Push actions, in PushResult's blobs and manifests.
const (
	PushUploaded    = pusher.PushUploaded
	PushMounted     = pusher.PushMounted
	PushExists      = pusher.PushExists
	PushPushed      = pusher.PushPushed
	PushRefused     = pusher.PushRefused
	PushWouldUpload = pusher.PushWouldUpload
	PushWouldMount  = pusher.PushWouldMount
	PushWouldPush   = pusher.PushWouldPush
)

// Push sources, in PushedSource, PushedBlob and PushedManifest.
const (
	PushSourceLayout   = pusher.SourceLayout
	PushSourceUpstream = pusher.SourceUpstream
	PushSourceTarget   = pusher.SourceTarget
)

// ErrNotStored: the registry acknowledged a blob or manifest that a HEAD
// right after does not find (pusher.ErrNotStored).
var ErrNotStored = pusher.ErrNotStored

// Push copies the configured images from the layout into the registry
// opts.Target (REGISTRY[/PREFIX]) byte for byte, skipping the blobs it has (see
// pusher.Push). It never writes the layout.
func Push(ctx context.Context, cfg *config.Config, opts PushOptions) (*PushResult, error) {
	return pusher.Push(ctx, cfg, opts)
}

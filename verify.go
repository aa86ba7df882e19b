package vendorimg

import (
	"context"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Deep also decompresses layers and checks them against diff_ids.
	Deep bool
	// Jobs is how many blobs are hashed at once. Default GOMAXPROCS.
	Jobs int
	// Progress, if not nil, gets the bytes hashed so far and the total.
	Progress func(done, total int64)
	// Waiting, if not nil, is called when a sync holds the layout's lock.
	Waiting func()
}

// Expectations are what cfg says its layout must hold, as layout.Verify
// takes them.
func Expectations(cfg *config.Config) []layout.Expect {
	out := make([]layout.Expect, 0, len(cfg.Images))
	for _, im := range cfg.Images {
		out = append(out, layout.Expect{Name: im.Name(), Digest: im.Digest, Platforms: im.Platforms})
	}
	return out
}

// Verify rehashes every blob of cfg's layout and checks it against cfg:
// pins, platforms, completeness, strays (see layout.Verify). It holds the
// layout's shared lock, so it never sees a sync half-done. A layout with
// findings is not an error: check Report.OK.
func Verify(ctx context.Context, cfg *config.Config, opts VerifyOptions) (*layout.Report, error) {
	l := layout.New(cfg.LayoutDir())
	if l.Exists() {
		lock, err := l.Lock(ctx, false, opts.Waiting)
		if err != nil {
			return nil, err
		}
		defer lock.Unlock()
	}
	return l.Verify(ctx, layout.VerifyOptions{Images: Expectations(cfg), Deep: opts.Deep, Jobs: opts.Jobs, Progress: opts.Progress})
}

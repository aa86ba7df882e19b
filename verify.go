package vendorimg

import (
	"context"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/progress"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Deep also decompresses layers and checks them against diff_ids.
	Deep bool
	// Jobs is how many blobs are hashed at once. Default GOMAXPROCS.
	Jobs int
	// Progress, if not nil, receives a progress.Waiting event when a sync
	// holds the layout's lock and progress.Advance events as blobs hash.
	Progress progress.Func
	// Signatures checks the verify: policies (see
	// CheckOptions.Signatures). Default: the vendorimg-sigverify program.
	Signatures SignatureVerifier
}

// Verify rehashes every blob of cfg's layout and checks it against cfg:
// pins, platforms, completeness, strays (see layout.Verify and
// layout.Expectations). It is Check without the engine. It holds the
// layout's shared lock, so it never sees a sync half-done. A layout with
// findings is not an error: check Report.OK.
func Verify(ctx context.Context, cfg *config.Config, opts VerifyOptions) (*layout.Report, error) {
	rep, err := Check(ctx, cfg, CheckOptions{Deep: opts.Deep, Jobs: opts.Jobs, Progress: opts.Progress, Signatures: opts.Signatures})
	if err != nil {
		return nil, err
	}
	return rep.Layout, nil
}

package vendorimg

import (
	"context"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
)

// GCOptions configure GC.
type GCOptions struct {
	// DryRun returns the plan without deleting anything. Default false.
	DryRun bool
}

// GC deletes the blobs of cfg's layout that index.json does not reach, and
// temporary files left by interrupted runs. It plans first, under the
// layout's exclusive lock, and with opts.DryRun returns the plan without
// deleting anything.
func GC(ctx context.Context, cfg *config.Config, opts GCOptions) (*layout.GCPlan, error) {
	l := layout.New(cfg.LayoutDir())
	lock, err := l.Lock(ctx, true, nil)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	plan, err := l.PlanGC(ctx)
	if err != nil || opts.DryRun {
		return plan, err
	}
	return plan, l.ApplyGC(ctx, plan)
}

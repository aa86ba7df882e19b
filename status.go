package vendorimg

import (
	"context"
	"log/slog"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/layout"
)

// StatusReport is what Status found: per configured image, its pin and
// what the layout holds of it, checked by size only (verify rehashes).
type StatusReport struct {
	Config string               `json:"config"`
	Layout string               `json:"layout"`
	Images []layout.ImageStatus `json:"images"`
	// Unconfigured are index.json entries vendorimg.yaml does not list.
	Unconfigured []string `json:"unconfigured"`
	// Daemon is what the engine holds under each image's tag
	// (StatusOptions.Daemon), else nil.
	Daemon *daemon.Report `json:"daemon,omitempty"`
}

// StatusOptions configure Status.
type StatusOptions struct {
	// Daemon also asks the engine what it holds under each image's tag
	// (daemon.Verify). Default false: the layout only.
	Daemon bool
	// Engine is the engine Daemon asks. Default: daemon.NewClient, closed
	// on return.
	Engine daemon.Client
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
}

// Status reports each configured image's pin, platforms, size and what is
// missing (layout.Holdings), without the network and without rehashing
// layers, and with opts.Daemon what the engine holds. It holds the
// layout's shared lock while it reads, so that it never sees a sync half
// done. When the engine cannot be asked, the report still holds the
// layout's part.
func Status(ctx context.Context, cfg *config.Config, opts StatusOptions) (*StatusReport, error) {
	l := layout.New(cfg.LayoutDir())
	h, err := l.Holdings(ctx, cfg.Images)
	if err != nil {
		return nil, err
	}
	rep := &StatusReport{Config: cfg.Path, Layout: l.Root(), Images: h.Images, Unconfigured: h.Unconfigured}
	if !opts.Daemon && opts.Engine == nil {
		return rep, nil
	}
	c, done, err := engine(opts.Engine)
	if err != nil {
		return rep, err
	}
	defer done()
	rep.Daemon, err = daemon.Verify(ctx, c, l, cfg.Images, daemon.VerifyOptions{Logger: opts.Logger})
	return rep, err
}

// Complete reports whether every configured image is in index.json with
// nothing selected missing, and every graph could be read.
func (r *StatusReport) Complete() bool {
	for _, im := range r.Images {
		if !im.Complete || im.Error != "" {
			return false
		}
	}
	return true
}

package vendorimg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/registry"
	"github.com/vendorimg/vendorimg/syncer"
)

// OutdatedOptions configure Outdated.
type OutdatedOptions struct {
	// Images are the images to ask about, in any form Config.Select
	// takes. Default: every image of the configuration.
	Images []string
	// Client resolves tags. Default: registry.ForConfig with the config's mirrors
	// and insecure hosts, credentials from the docker config, and Logger.
	Client syncer.Resolver
	// Insecure adds hosts that may be reached over plain http.
	Insecure []string
	// Jobs is how many images are asked about at once. Default DefaultJobs.
	Jobs int
	// ClientOptions are passed to the default Client after vendorimg's
	// own. Default none.
	ClientOptions []registry.Option
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
	// Progress, if not nil, receives the default Client's notices (a wait
	// a registry asked for, a failing mirror) as progress.Notice events.
	Progress progress.Func
}

// OutdatedReport says, for each image asked about, whether its tag moved
// upstream since it was pinned.
type OutdatedReport struct {
	Images []TagState `json:"images"`
}

// Moved are the images whose tag moved.
func (r *OutdatedReport) Moved() []TagState {
	var out []TagState
	for _, im := range r.Images {
		if im.Moved {
			out = append(out, im)
		}
	}
	return out
}

// Err joins the errors of the images that could not be checked.
func (r *OutdatedReport) Err() error {
	var failed []error
	for _, im := range r.Images {
		if im.err != nil {
			failed = append(failed, im.err)
		}
	}
	return errors.Join(failed...)
}

// TagState is one image's pin against what its tag points to now.
type TagState struct {
	// Name is the image's name (its reference with the tag).
	Name string `json:"name"`
	// Tag is the reference's tag ("" for an image pinned by digest only,
	// which cannot move).
	Tag string `json:"tag,omitempty"`
	// Pinned is the digest in vendorimg.yaml.
	Pinned digest.Digest `json:"pinned"`
	// Current is what the tag points to now ("" when unknown).
	Current digest.Digest `json:"current,omitempty"`
	// Moved: Current differs from Pinned.
	Moved bool `json:"moved"`
	// DigestOnly: the image has no tag to follow.
	DigestOnly bool `json:"digestOnly,omitempty"`
	// Error is why the tag could not be resolved ("" normally).
	Error string `json:"error,omitempty"`
	err   error
}

// Err is why the tag could not be resolved, or nil.
func (t TagState) Err() error { return t.err }

// Outdated asks the registry (through its mirror and with credentials, as
// sync does) what each image's tag points to now, one request per image,
// in parallel, and reports which tags moved since they were pinned. An
// image that cannot be checked does not stop the others: its TagState
// carries the error (Report.Err joins them). Images pinned by digest only
// are reported as such, with no request. It changes nothing.
func Outdated(ctx context.Context, cfg *config.Config, opts OutdatedOptions) (*OutdatedReport, error) {
	images, err := cfg.Select(opts.Images)
	if err != nil {
		return nil, err
	}
	return outdated(ctx, cfg, images, opts)
}

// outdated is Outdated of images.
func outdated(ctx context.Context, cfg *config.Config, images []config.Image, opts OutdatedOptions) (*OutdatedReport, error) {
	if opts.Jobs < 0 {
		return nil, fmt.Errorf("%w: jobs %d: must not be negative", errs.ErrInvalidOption, opts.Jobs)
	}
	if opts.Jobs == 0 {
		opts.Jobs = DefaultJobs
	}
	client := opts.Client
	if client == nil {
		client = registry.ForConfig(cfg, registry.ConfigOptions{
			Insecure: opts.Insecure,
			Logger:   opts.Logger,
			Options:  append([]registry.Option{registry.WithNotice(notices(opts.Progress))}, opts.ClientOptions...),
		})
	}
	rep := &OutdatedReport{Images: make([]TagState, len(images))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Jobs)
	for i, im := range images {
		st := &rep.Images[i]
		*st = TagState{Name: im.Name(), Tag: im.Ref.Tag, Pinned: im.Digest, DigestOnly: im.Ref.Tag == ""}
		if st.DigestOnly {
			continue
		}
		g.Go(func() error {
			d, err := client.Resolve(gctx, im.Ref.WithoutDigest())
			if err != nil {
				st.err = fmt.Errorf("checking %s: %w", im.Name(), err)
				st.Error = st.err.Error()
				return gctx.Err()
			}
			st.Current = d.Digest
			st.Moved = d.Digest != im.Digest
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return rep, nil
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg"
)

// syncFlags are the flags of every command that syncs.
type syncFlags struct {
	offline  bool
	jobs     int
	insecure []string
	noPrune  bool
	timeout  timeoutFlag
}

// timeoutFlag is --timeout: a deadline for the whole command, for the
// commands that use the network.
type timeoutFlag struct{ d time.Duration }

func (f *timeoutFlag) bind(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.d, "timeout", 0, "give up after `DURATION` in all, e.g. 10m (default: no limit; each request is bounded anyway: 30s for response headers, 30s without a byte of the body)")
}

// context is the command's context with the deadline, if any.
func (f *timeoutFlag) context(ctx context.Context) (context.Context, context.CancelFunc, error) {
	switch {
	case f.d < 0:
		return nil, nil, usagef("--timeout %s: must not be negative", f.d)
	case f.d == 0:
		ctx, cancel := context.WithCancel(ctx)
		return ctx, cancel, nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.d)
	return ctx, cancel, nil
}

// explain says that err is the deadline's doing, when it is.
func (f *timeoutFlag) explain(ctx context.Context, err error) error {
	if f.d > 0 && err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("gave up after --timeout %s: %w", f.d, err)
	}
	return err
}

func (f *syncFlags) bind(cmd *cobra.Command) {
	f.timeout.bind(cmd)
	cmd.Flags().BoolVar(&f.offline, "offline", false, "never use the network: fail, listing what is missing, instead of fetching")
	cmd.Flags().IntVar(&f.jobs, "jobs", vendorimg.DefaultJobs, "download up to `N` blobs at once")
	cmd.Flags().StringArrayVar(&f.insecure, "insecure-registry", nil, "allow plain http to `HOST` (loopback hosts always are); repeatable")
	cmd.Flags().BoolVar(&f.noPrune, "no-prune", false, "keep the blobs no configured image uses (by default they are deleted after a successful sync)")
}

func (f *syncFlags) options(g *globals, p *progressView) (vendorimg.SyncOptions, error) {
	if f.jobs < 1 {
		return vendorimg.SyncOptions{}, usagef("--jobs %d: must be at least 1", f.jobs)
	}
	return vendorimg.SyncOptions{Offline: f.offline, Jobs: f.jobs, Insecure: f.insecure, NoPrune: f.noPrune, Logger: g.logger, Progress: p.event}, nil
}

func newSyncCommand(g *globals) *cobra.Command {
	var f syncFlags
	var repair, referrers bool
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Make the layout match vendorimg.yaml, fetching only missing blobs",
		Long: `sync makes the OCI layout match vendorimg.yaml. For each image it reads what is
stored, fetches only what is missing, by digest, from the registry (or its
mirror), hashing every byte as it is written. New blobs are staged in the
layout's folder and moved into place only when every image is complete;
then index.json gets one entry per configured image, and the blobs no
configured image uses any more are deleted (--no-prune keeps them). A sync
that fails changes no file. An entry another tool wrote for a pin (named by
its tag alone, as regctl and skopeo do, or not at all, as crane does) is
adopted: renamed to vendorimg's name, its other annotations kept.

On a complete layout sync sends no request and writes nothing, so it is
safe in offline CI and in a go generate hook. --offline makes a missing blob
an error. --repair first rehashes every stored blob, as verify does, and
fetches again each one whose bytes are wrong.

Images with referrers: in vendorimg.yaml also get the signatures,
attestations and SBOMs attached to their pin and to each vendored
platform's manifest (the registry's referrers API, or the sha256-HEX tag
where it has none). The layout records them, so a sync of a complete layout
does not ask again; --referrers (or update) looks for new ones.`,
		Example: `  vendorimg sync
  vendorimg sync --offline
  vendorimg sync --repair        # after verify reported a blob with wrong bytes
  vendorimg sync --referrers     # look for signatures attached since the last sync
  vendorimg sync --jobs 8 -v`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd.Context())
			if err != nil {
				return err
			}
			p := g.newProgress()
			opts, err := f.options(g, p)
			if err != nil {
				return err
			}
			if repair && f.offline {
				return usagef("--repair fetches blobs again: it cannot be combined with --offline")
			}
			if referrers && f.offline {
				return usagef("--referrers asks the registries for new referrers: it cannot be combined with --offline")
			}
			opts.Repair, opts.Referrers = repair, referrers
			ctx, cancel, err := f.timeout.context(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			res, err := vendorimg.Sync(ctx, cfg, opts)
			err = f.timeout.explain(ctx, err)
			p.done()
			if g.json {
				return g.finish(res, err)
			}
			if res != nil {
				g.printSync(res)
			}
			return err
		},
	}
	f.bind(cmd)
	cmd.Flags().BoolVar(&repair, "repair", false, "rehash every stored blob and fetch again each one whose bytes are wrong")
	cmd.Flags().BoolVar(&referrers, "referrers", false, "look up the referrers (signatures, attestations, SBOMs) of the images that vendor them again, to find new ones")
	return cmd
}

// printSync prints what a sync did, for people.
func (g *globals) printSync(res *vendorimg.SyncResult) {
	if g.quiet || res == nil {
		return
	}
	for _, im := range res.Images {
		if im.Error != "" {
			continue // reported as the command's error
		}
		what := "up to date"
		if im.Fetched > 0 {
			what = fmt.Sprintf("fetched %s (%s)", plural(im.Fetched, "blob"), humanBytes(im.FetchedBytes))
		}
		fmt.Fprintf(g.stdout, "%s  %s  %s  %s, %s\n", im.Name, short(im.Digest.String()), strings.Join(im.Platforms, ","), humanBytes(im.Bytes), what)
	}
	for _, r := range res.Repaired {
		fmt.Fprintf(g.stdout, "repaired %s (%s was wrong)\n", r.Path, r.Problem)
	}
	for _, a := range res.Adopted {
		was := "with no name"
		if a.Was != "" {
			was = fmt.Sprintf("named %q", a.Was)
		}
		fmt.Fprintf(g.stdout, "%s  adopted the index.json entry %s (another tool's) and renamed it\n", a.Name, was)
	}
	for _, name := range res.Removed {
		fmt.Fprintf(g.stdout, "%s  removed from index.json\n", name)
	}
	if n := len(res.Pruned); n > 0 {
		var bytes int64
		for _, p := range res.Pruned {
			bytes += p.Size
		}
		fmt.Fprintf(g.stdout, "pruned %s no configured image uses (%s)\n", plural(n, "blob"), humanBytes(bytes))
	}
	if res.UpToDate {
		fmt.Fprintf(g.stdout, "everything up to date in %s\n", res.Layout)
	}
}

// plural is "1 blob", "2 blobs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

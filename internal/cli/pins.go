package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg"
)

// errMoved is outdated's failure: a tag moved (exit 1, for scheduled jobs).
var errMoved = errors.New("tags moved upstream since they were pinned")

func newOutdatedCommand(g *globals) *cobra.Command {
	var insecure []string
	var jobs int
	var timeout timeoutFlag
	cmd := &cobra.Command{
		Use:   "outdated [REF]...",
		Short: "Say which pinned tags moved upstream since they were pinned",
		Long: `outdated asks the registry (through its mirror and with the credentials sync
uses) what each image's tag points to now, with one request per image, and
prints a table of image, pinned digest, current digest and whether it moved.
With no REF it checks every image of vendorimg.yaml. Images pinned by digest
only have no tag to follow and are listed as such.

It exits 0 when nothing moved and 1 when a tag moved or could not be
checked, so that a scheduled CI job can open a pull request with
"vendorimg update". It changes nothing.`,
		Example: `  vendorimg outdated
  vendorimg outdated docker.io/library/alpine:3.19.1 --json`,
		RunE: func(cmd *cobra.Command, refs []string) error {
			if jobs < 1 {
				return usagef("--jobs %d: must be at least 1", jobs)
			}
			cfg, err := g.configFor(cmd.Context(), refs)
			if err != nil {
				return err
			}
			ctx, cancel, err := timeout.context(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			p := g.newProgress()
			rep, err := vendorimg.Outdated(ctx, cfg, vendorimg.OutdatedOptions{Images: refs, Insecure: insecure, Jobs: jobs, Logger: g.logger, Progress: p.event})
			p.done()
			if err == nil {
				err = rep.Err()
			}
			err = timeout.explain(ctx, err)
			if err == nil && len(rep.Moved()) > 0 {
				err = quietError{errMoved}
			}
			if g.json {
				if errors.As(err, new(quietError)) {
					// A moved tag is an answer, not a failure: exit 1
					// with the report alone.
					_ = g.finish(rep, nil)
					return err
				}
				return g.finish(rep, err)
			}
			if rep != nil && !g.quiet {
				printTagStates(g, rep.Images)
			}
			if rep != nil && len(rep.Moved()) > 0 && !g.quiet {
				fmt.Fprintf(g.stderr, "%s moved upstream (vendorimg update re-pins)\n", plural(len(rep.Moved()), "tag"))
			}
			return err
		},
	}
	cmd.Flags().StringArrayVar(&insecure, "insecure-registry", nil, "allow plain http to `HOST` (loopback hosts always are); repeatable")
	cmd.Flags().IntVar(&jobs, "jobs", vendorimg.DefaultJobs, "ask about up to `N` images at once")
	timeout.bind(cmd)
	return cmd
}

// printTagStates is outdated's and update's table.
func printTagStates(g *globals, states []vendorimg.TagState) {
	tw := g.newTable()
	fmt.Fprintln(tw, "IMAGE\tPINNED\tCURRENT\tMOVED")
	for _, st := range states {
		current, moved := short(st.Current.String()), "no"
		switch {
		case st.DigestOnly:
			current, moved = "-", "pinned by digest only"
		case st.Error != "":
			current, moved = "?", "error: "+st.Error
		case st.Moved:
			moved = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", st.Name, short(st.Pinned.String()), current, moved)
	}
	tw.Flush()
}

func newUpdateCommand(g *globals) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "update [REF]...",
		Short: "Re-pin the tags that moved upstream, keeping each image's platforms, and sync",
		Long: `update asks the registry what each image's tag points to now (as outdated
does) and re-pins the tags that moved, keeping each image's platforms, its
place and its comments in vendorimg.yaml; then it syncs and prunes the blobs
of the old pins. With no REF it updates every image of vendorimg.yaml. It
prints "OLD -> NEW" for each image it re-pinned.

vendorimg.yaml and the layout change only once every new pin is complete:
a failed update changes no file. An image whose tag cannot be checked is
reported and left as it is (exit 1).`,
		Example: `  vendorimg update
  vendorimg update docker.io/library/alpine:3.19.1`,
		RunE: func(cmd *cobra.Command, refs []string) error {
			cfg, err := g.configFor(cmd.Context(), refs)
			if err != nil {
				return err
			}
			p := g.newProgress()
			opts, err := f.options(g, p)
			if err != nil {
				return err
			}
			if opts.Offline {
				return usagef("update asks the registry what the tags point to: it cannot be --offline")
			}
			ctx, cancel, err := f.timeout.context(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			res, err := vendorimg.Update(ctx, cfg, vendorimg.UpdateOptions{SyncOptions: opts, Images: refs})
			err = f.timeout.explain(ctx, err)
			p.done()
			if g.json {
				return g.finish(res, err)
			}
			if res != nil && !g.quiet {
				for _, st := range res.Images {
					if st.Moved {
						fmt.Fprintf(g.stdout, "re-pinned %s %s -> %s\n", st.Name, short(st.Pinned.String()), short(st.Current.String()))
					}
				}
				if len(res.Updated) == 0 && err == nil {
					fmt.Fprintln(g.stdout, "every tag is still at its pin")
				}
				g.printSync(res.Sync)
			}
			return err
		},
	}
	f.bind(cmd)
	return cmd
}

func newRemoveCommand(g *globals) *cobra.Command {
	var noPrune bool
	cmd := &cobra.Command{
		Use:   "remove REF...",
		Short: "Drop images from vendorimg.yaml and from the layout, offline",
		Long: `remove drops the named images from vendorimg.yaml (every other entry keeps its
place and comments) and syncs offline: their index.json entries go, and so do
the blobs no remaining image uses (--no-prune keeps them). It never uses the
network; a failed remove changes no file.`,
		Example: `  vendorimg remove docker.io/library/alpine:3.19.1
  vendorimg remove alpine:3.19.1 busybox:1.36`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, refs []string) error {
			cfg, err := g.configFor(cmd.Context(), refs)
			if err != nil {
				return err
			}
			p := g.newProgress()
			res, err := vendorimg.Remove(cmd.Context(), cfg, vendorimg.RemoveOptions{Images: refs, SyncOptions: vendorimg.SyncOptions{NoPrune: noPrune, Logger: g.logger, Progress: p.event}})
			p.done()
			if g.json {
				return g.finish(res, err)
			}
			if res != nil && err == nil && !g.quiet {
				for _, name := range res.Removed {
					fmt.Fprintf(g.stdout, "removed %s from %s\n", name, cfg.Path)
				}
				g.printSync(res.Sync)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "keep the removed images' blobs in the layout")
	return cmd
}

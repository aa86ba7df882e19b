package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg"
)

type syncFlags struct {
	offline  bool
	jobs     int
	insecure []string
}

func (f *syncFlags) bind(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.offline, "offline", false, "never use the network: fail, listing what is missing, instead of fetching")
	cmd.Flags().IntVar(&f.jobs, "jobs", vendorimg.DefaultJobs, "download up to `N` blobs at once")
	cmd.Flags().StringArrayVar(&f.insecure, "insecure-registry", nil, "allow plain http to `HOST` (loopback hosts always are); repeatable")
}

func (f *syncFlags) options(g *globals, p *progressView) (vendorimg.SyncOptions, error) {
	if f.jobs < 1 {
		return vendorimg.SyncOptions{}, usagef("--jobs %d: must be at least 1", f.jobs)
	}
	return vendorimg.SyncOptions{Offline: f.offline, Jobs: f.jobs, Insecure: f.insecure, Logger: g.logger, Progress: p.event}, nil
}

func newSyncCommand(g *globals) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Make the layout match vendorimg.yaml, fetching only missing blobs",
		Long: `sync makes the OCI layout match vendorimg.yaml. For each image it reads what is
stored, fetches only what is missing, by digest, from the registry (or its
mirror), hashing every byte as it is written and renaming a blob into place
only when its digest and size match. It then rewrites index.json with one
entry per configured image, dropping images no longer configured (their
blobs stay until vendorimg gc).

On a complete layout sync sends no request at all, so it is safe in offline
CI and in a go generate hook. --offline makes a missing blob an error.`,
		Example: `  vendorimg sync
  vendorimg sync --offline
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
			res, err := vendorimg.Sync(cmd.Context(), cfg, opts)
			p.done()
			if res != nil {
				if perr := g.printSync(res); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	f.bind(cmd)
	return cmd
}

func (g *globals) printSync(res *vendorimg.SyncResult) error {
	if g.json {
		return printJSON(g.stdout, res)
	}
	if g.quiet {
		return nil
	}
	for _, im := range res.Images {
		if im.Error != "" {
			continue // reported as the command's error
		}
		what := "up to date"
		if im.Fetched > 0 {
			what = fmt.Sprintf("fetched %d blobs (%s)", im.Fetched, humanBytes(im.FetchedBytes))
		}
		fmt.Fprintf(g.stdout, "%s  %s  %s  %s, %s\n", im.Name, short(im.Digest), strings.Join(im.Platforms, ","), humanBytes(im.Bytes), what)
	}
	for _, name := range res.Removed {
		fmt.Fprintf(g.stdout, "%s  removed from index.json (vendorimg gc deletes its blobs)\n", name)
	}
	if res.UpToDate {
		fmt.Fprintf(g.stdout, "everything up to date in %s\n", res.Layout)
	}
	return nil
}

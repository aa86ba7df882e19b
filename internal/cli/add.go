package cli

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

func newAddCommand(g *globals) *cobra.Command {
	var f syncFlags
	var platforms []string
	cmd := &cobra.Command{
		Use:   "add REF",
		Short: "Pin an image by digest in vendorimg.yaml and vendor it",
		Long: `add resolves REF's tag to the digest of the manifest or index the registry
serves, writes the pin into vendorimg.yaml (creating the file, with the layout
testdata/images, if there is none; keeping comments and order otherwise),
then syncs. It prints "pinned" for a new image, "re-pinned OLD -> NEW" when
the tag moved, "unchanged" when it did not.

--platform selects the platforms to vendor (repeatable, or comma-separated);
"all" keeps every platform. An image already in vendorimg.yaml keeps its
platforms unless --platform is given; a new one gets linux/` + runtime.GOARCH + ` (this
machine's architecture).

A failed add changes no file: vendorimg.yaml and the layout are written only
once the image is complete.`,
		Example: `  vendorimg add docker.io/library/alpine:3.19.1 --platform linux/amd64,linux/arm64
  vendorimg add alpine:3.19.1                      # docker.io/library/alpine:3.19.1
  vendorimg add registry.internal:5000/tools/probe:1 --platform all
  vendorimg add alpine@sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ref, err := reference.Parse(a[0])
			if err != nil {
				return usageError{err}
			}
			opts := vendorimg.AddOptions{Ref: ref}
			if len(platforms) > 0 {
				var specs []string
				for _, p := range platforms {
					specs = append(specs, strings.Split(p, ",")...)
				}
				if opts.Platforms, err = platform.ParseSelection(specs); err != nil {
					return usageError{err}
				}
			}
			cfg, created, err := g.loadOrCreateConfig(cmd.Context())
			if err != nil {
				return err
			}
			p := g.newProgress()
			if opts.SyncOptions, err = f.options(g, p); err != nil {
				return err
			}
			ctx, cancel, err := f.timeout.context(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			res, err := vendorimg.Add(ctx, cfg, opts)
			err = f.timeout.explain(ctx, err)
			p.done()
			if res != nil {
				res.Created = created && err == nil
			}
			if g.json {
				return g.finish(res, err)
			}
			if err == nil && !g.quiet {
				fmt.Fprintln(g.stdout, describeAdd(res, cfg.Path))
				g.printSync(res.Sync)
			}
			return err
		},
	}
	f.bind(cmd)
	cmd.Flags().StringArrayVar(&platforms, "platform", nil, "vendor `OS/ARCH[/VARIANT]` (repeatable or comma-separated; \"all\" for every platform; default: the image's platforms in vendorimg.yaml, or linux/"+runtime.GOARCH+" for a new image)")
	return cmd
}

// describeAdd is add's line: what happened to the pin.
func describeAdd(res *vendorimg.AddResult, path string) string {
	plats := strings.Join(res.Platforms, ",")
	switch res.Action {
	case vendorimg.Repinned:
		return fmt.Sprintf("re-pinned %s %s -> %s (%s) in %s", res.Name, short(res.Previous), short(res.Digest), plats, path)
	case vendorimg.Replatformed:
		return fmt.Sprintf("%s at %s: platforms %s -> %s in %s", res.Name, short(res.Digest), strings.Join(res.PreviousPlatforms, ","), plats, path)
	case vendorimg.Unchanged:
		return fmt.Sprintf("unchanged %s at %s (%s)", res.Name, short(res.Digest), plats)
	}
	return fmt.Sprintf("pinned %s at %s (%s) in %s", res.Name, res.Digest, plats, path)
}

// loadOrCreateConfig loads the configuration, or starts a new one in the
// base folder (or at --config) when none exists.
func (g *globals) loadOrCreateConfig(ctx context.Context) (*config.Config, bool, error) {
	path, err := g.configFile()
	switch {
	case errors.Is(err, errs.ErrNoConfig):
		base, berr := g.baseDir()
		if berr != nil {
			return nil, false, berr
		}
		cfg, err := config.New(base + "/" + config.FileName)
		return cfg, true, err
	case err != nil:
		return nil, false, err
	}
	cfg, err := config.Load(ctx, path)
	if errors.Is(err, errs.ErrNoConfig) && g.configPath != "" {
		cfg, err := config.New(path)
		return cfg, true, err
	}
	return cfg, false, err
}

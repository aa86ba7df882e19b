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
then syncs. An image already listed under the same reference is re-pinned in
place. vendorimg.yaml changes only once the image is in the layout.

--platform selects the platforms to vendor (repeatable, or comma-separated);
"all" keeps every platform. Without it, add vendors linux/` + runtime.GOARCH + ` (this
machine's architecture).`,
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
			var specs []string
			for _, p := range platforms {
				specs = append(specs, strings.Split(p, ",")...)
			}
			if len(specs) == 0 {
				specs = []string{"linux/" + runtime.GOARCH}
			}
			sel, err := platform.ParseSelection(specs)
			if err != nil {
				return usageError{err}
			}
			cfg, created, err := g.loadOrCreateConfig(cmd.Context())
			if err != nil {
				return err
			}
			p := g.newProgress()
			opts, err := f.options(g, p)
			if err != nil {
				return err
			}
			res, err := vendorimg.Add(cmd.Context(), cfg, ref, sel, opts)
			p.done()
			if res == nil {
				return err
			}
			res.Created = created && err == nil
			if g.json {
				if perr := printJSON(g.stdout, res); perr != nil {
					return perr
				}
				return err
			}
			if err == nil && !g.quiet {
				verb := "pinned"
				if res.Replaced {
					verb = "re-pinned"
				}
				fmt.Fprintf(g.stdout, "%s %s at %s (%s) in %s\n", verb, res.Name, res.Digest, strings.Join(res.Platforms, ","), cfg.Path)
				if perr := g.printSync(res.Sync); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	f.bind(cmd)
	cmd.Flags().StringArrayVar(&platforms, "platform", nil, "vendor `OS/ARCH[/VARIANT]` (repeatable or comma-separated; \"all\" for every platform)")
	return cmd
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

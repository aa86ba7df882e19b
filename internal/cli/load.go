package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/vendorimg/vendorimg"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/errs"
)

func newLoadCommand(g *globals) *cobra.Command {
	var platformFlag string
	var replace, archive bool
	cmd := &cobra.Command{
		Use:   "load [REF]...",
		Short: "Load vendored images into docker from the layout, offline",
		Long: `load loads images from the layout into the docker engine (DOCKER_HOST, or the
local socket) and tags each as its ref. With no REF it loads every image of
vendorimg.yaml.

It streams each image to the engine's API straight from the layout's blobs,
with no temporary file and no network, rehashing every blob as it goes: a
blob that changed on disk aborts the load, and docker loads nothing. An
image whose tag already points to exactly the vendored image is skipped in
milliseconds; one docker already holds under another name is only tagged.
The images to send go in one archive, each blob once.

podman instead pulls the images from a server vendorimg runs on 127.0.0.1
for the load, which is faster there: the layout served as is, every blob
rehashed as it streams and checked by podman, those podman already had
rehashed from the layout, under a temporary name that vendorimg replaces
by the image's tag. If podman cannot pull, it gets the archive; --archive
always sends it.

The platform loaded is the engine's own (from docker info) unless
--platform chooses another vendored one; docker accepts images of other
architectures. A platform the layout does not have is an error that lists
those it has.

A tag that pointed to another image is moved, and the output says what
became of that image (left in the engine, untagged or still tagged).
--replace removes the image under each tag, even the vendored one, and
loads it again from the layout: the remedy for a file changed inside the
engine's storage, which leaves the image's ID as it was, so that a plain
load skips it ("vendorimg verify --daemon --deep" finds such a change).

Output: a table of image, platform, image ID, action (loaded, skipped,
tagged), size and time; --json prints the report.`,
		Example: `  vendorimg load
  vendorimg load docker.io/library/alpine:3.19.1 --platform linux/arm64
  vendorimg load --json | jq -r '.images[].imageId'`,
		RunE: func(cmd *cobra.Command, refs []string) error {
			var opts vendorimg.LoadOptions
			pl, err := platformOption(platformFlag)
			if err != nil {
				return err
			}
			opts.Platform = pl
			cfg, err := g.configFor(cmd.Context(), refs)
			if err != nil {
				return err
			}
			p := g.newProgress()
			opts.Images, opts.Logger, opts.Progress, opts.Replace, opts.Archive = refs, g.logger, p.load, replace, archive
			rep, err := vendorimg.Load(cmd.Context(), cfg, opts)
			p.done()
			if g.json {
				return g.finish(rep, err)
			}
			if rep != nil {
				if perr := g.printLoad(rep); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&platformFlag, "platform", "", "load the vendored `OS/ARCH[/VARIANT]` (default: the docker engine's platform)")
	cmd.Flags().BoolVar(&archive, "archive", false, "send every image as an archive: never let podman pull from vendorimg's loopback server")
	cmd.Flags().BoolVar(&replace, "replace", false, "remove the image under each tag (forced) and load it again from the layout, even when its ID is the vendored one")
	return cmd
}

// configFor loads the configuration and checks that refs name images of it
// (every image when refs is empty), as the commands that take them pass
// them on. A malformed REF is a usage error.
func (g *globals) configFor(ctx context.Context, refs []string) (*config.Config, error) {
	cfg, err := g.loadConfig(ctx)
	if err != nil {
		return nil, err
	}
	_, err = cfg.Select(refs)
	if errors.Is(err, errs.ErrInvalidReference) || errors.Is(err, errs.ErrInvalidDigest) {
		return nil, usageError{err}
	}
	return cfg, err
}

func (g *globals) printLoad(rep *daemon.LoadReport) error {
	if g.quiet {
		return nil
	}
	if !slices.ContainsFunc(rep.Images, func(im daemon.LoadResult) bool { return im.Error == "" }) {
		return nil
	}
	tw := g.newTable()
	fmt.Fprintln(tw, "IMAGE\tPLATFORM\tIMAGE ID\tACTION\tSIZE\tTIME")
	for _, im := range rep.Images {
		if im.Error != "" {
			continue // reported as the command's error
		}
		action := im.Action
		if im.Replaced != "" {
			action += " (replaced " + short(im.Replaced)
			if im.ReplacedAction != "" {
				action += ": " + im.ReplacedAction
			}
			action += ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", nameOf(im.Tag, im.Ref), im.Platform, short(im.ImageID), action, humanBytes(im.Bytes), im.Duration.Round(time.Millisecond))
	}
	return tw.Flush()
}

// nameOf is how an image is shown: its docker tag, or its reference when it
// has none.
func nameOf(tag, ref string) string {
	if tag != "" {
		return tag
	}
	return ref
}

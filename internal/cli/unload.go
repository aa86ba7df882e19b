package cli

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/progress"
)

func newUnloadCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unload [REF]...",
		Short: "Remove from docker the tags load made, and their images if unused",
		Long: `unload undoes load, for test teardown: it removes each image's tag from the
docker engine and, when nothing else uses the image (no other tag, no
container), the image too. With no REF it unloads every image of
vendorimg.yaml.

It never forces and never touches anything that is not the vendored image:
a tag that now points to another image (a re-tag, a docker commit, a pull)
is reported as kept and left alone, and so is an image a container still
uses. A tag that is not in docker is reported as absent. It never uses the
network.`,
		Example: `  vendorimg unload
  vendorimg unload docker.io/library/alpine:3.19.1
  vendorimg unload --json | jq '.images[] | select(.action == "kept")'`,
		RunE: func(cmd *cobra.Command, refs []string) error {
			cfg, err := g.configFor(cmd.Context(), refs)
			if err != nil {
				return err
			}
			rep, err := vendorimg.Unload(cmd.Context(), cfg, vendorimg.UnloadOptions{
				Images: refs,
				Logger: g.logger,
				Progress: func(e progress.Event) {
					if e.Kind == progress.Waiting && !g.quiet {
						fmt.Fprintln(g.stderr, "waiting for another vendorimg to release the layout...")
					}
				},
			})
			if g.json {
				return g.finish(rep, err)
			}
			if rep != nil {
				if perr := g.printUnload(rep); perr != nil {
					return perr
				}
			}
			return err
		},
	}
}

func (g *globals) printUnload(rep *daemon.UnloadReport) error {
	for _, im := range rep.Images {
		if im.Action == daemon.UnloadKept {
			fmt.Fprintf(g.stderr, "vendorimg: kept %s: %s\n", nameOf(im.Tag, im.Ref), im.Reason)
		}
	}
	if g.quiet {
		return nil
	}
	if !slices.ContainsFunc(rep.Images, func(im daemon.UnloadResult) bool { return im.Error == "" }) {
		return nil
	}
	tw := g.newTable()
	fmt.Fprintln(tw, "IMAGE\tIMAGE ID\tACTION")
	for _, im := range rep.Images {
		if im.Error != "" {
			continue // reported as the command's error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", nameOf(im.Tag, im.Ref), short(im.ImageID), im.Action)
	}
	return tw.Flush()
}

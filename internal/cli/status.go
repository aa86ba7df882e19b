package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg"
)

func newStatusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show each image's pin, platforms, size and what is missing",
		Long: `status lists the images of vendorimg.yaml with their pins, selected and vendored
platforms, their size in the layout, and any blob that is missing. It checks
sizes only (verify rehashes) and never uses the network.`,
		Example: `  vendorimg status
  vendorimg status --json | jq '.images[] | select(.complete | not)'`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd.Context())
			if err != nil {
				return err
			}
			rep, err := vendorimg.Status(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, rep)
			}
			if g.quiet {
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tDIGEST\tPLATFORMS\tSIZE\tSTATE")
			for _, im := range rep.Images {
				state := "complete"
				switch {
				case im.Error != "":
					state = "error: " + im.Error
				case !im.Complete && len(im.Missing) > 0:
					state = fmt.Sprintf("incomplete: %d blobs missing", len(im.Missing))
				case !im.InIndex:
					state = "not synced"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", im.Name, short(im.Digest), strings.Join(im.Platforms, ","), humanBytes(im.Bytes), state)
			}
			tw.Flush()
			for _, name := range rep.Unconfigured {
				fmt.Fprintf(g.stdout, "%s is in index.json but not in vendorimg.yaml (vendorimg sync drops it)\n", name)
			}
			return nil
		},
	}
}

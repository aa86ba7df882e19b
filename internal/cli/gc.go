package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg"
)

func newGCCommand(g *globals) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete blobs nothing in index.json references",
		Long: `gc deletes the blobs of the layout that no index.json entry reaches (for
example after an image was removed from vendorimg.yaml and sync dropped its
entry), and temporary files left by an interrupted run. It plans first and
deletes only what the plan lists; --dry-run prints the plan and deletes
nothing.`,
		Example: `  vendorimg gc --dry-run
  vendorimg gc`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd.Context())
			if err != nil {
				return err
			}
			plan, err := vendorimg.GC(cmd.Context(), cfg, dryRun)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, map[string]any{"dryRun": dryRun, "remove": plan.Remove, "kept": plan.Kept, "bytes": plan.Bytes()})
			}
			if g.quiet {
				return nil
			}
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			for _, r := range plan.Remove {
				fmt.Fprintf(g.stdout, "%s %s (%s, %s)\n", verb, r.Path, r.Reason, humanBytes(r.Size))
			}
			fmt.Fprintf(g.stdout, "%s %d files (%s); %d blobs in use\n", verb, len(plan.Remove), humanBytes(plan.Bytes()), plan.Kept)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be deleted, delete nothing")
	return cmd
}

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print vendorimg's version",
		Long:    "version prints the module version vendorimg was built from.",
		Example: "  vendorimg version",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.json {
				return printJSON(g.stdout, map[string]string{"version": vendorimg.Version()})
			}
			fmt.Fprintln(g.stdout, "vendorimg", vendorimg.Version())
			return nil
		},
	}
}

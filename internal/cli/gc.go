package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/layout"
)

func newGCCommand(g *globals) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete blobs nothing in index.json references",
		Long: `gc deletes the blobs of the layout that no index.json entry reaches through
any platform, and the temporary files and stages of interrupted runs. sync
already prunes what no configured image uses after each successful run, so
gc is for layouts synced with --no-prune, or written by other tools. It
plans first and deletes only what the plan lists; --dry-run prints the plan
and deletes nothing. It never uses the network.`,
		Example: `  vendorimg gc --dry-run
  vendorimg gc`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd.Context())
			if err != nil {
				return err
			}
			plan, err := vendorimg.GC(cmd.Context(), cfg, vendorimg.GCOptions{DryRun: dryRun})
			if g.json {
				var out *gcOutput
				if plan != nil {
					out = &gcOutput{DryRun: dryRun, Remove: plan.Remove, Kept: plan.Kept, Bytes: plan.Bytes()}
				}
				return g.finish(out, err)
			}
			if err != nil {
				return err
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
			fmt.Fprintf(g.stdout, "%s %s (%s); %s in use\n", verb, plural(len(plan.Remove), "file"), humanBytes(plan.Bytes()), plural(plan.Kept, "blob"))
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be deleted, delete nothing")
	return cmd
}

// gcOutput is gc's --json document.
type gcOutput struct {
	DryRun bool             `json:"dryRun"`
	Remove []layout.Garbage `json:"remove"`
	Kept   int              `json:"kept"`
	Bytes  int64            `json:"bytes"`
}

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print vendorimg's version and the commit it was built from",
		Long: `version prints the version vendorimg was built from (a release's, the
module version go install recorded, or "(devel)") and the git commit (a
release's, or the one go build stamped from a checkout; none after go
install of a module version).`,
		Example: "  vendorimg version\n  vendorimg version --json",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.json {
				return g.finish(versionOutput{vendorimg.Version(), vendorimg.Commit()}, nil)
			}
			fmt.Fprintln(g.stdout, versionLine())
			return nil
		},
	}
}

// versionOutput is version's --json document.
type versionOutput struct {
	Version string `json:"version"`
	// Commit is "" when the build recorded none.
	Commit string `json:"commit"`
}

// versionLine is what "vendorimg version" and "vendorimg --version" print:
// "vendorimg v1.2.3 (commit 0123456789ab)".
func versionLine() string {
	line := "vendorimg " + vendorimg.Version()
	if c := vendorimg.Commit(); c != "" {
		short, dirty := c, ""
		if len(short) > 6 && short[len(short)-6:] == "-dirty" {
			short, dirty = short[:len(short)-6], "-dirty"
		}
		if len(short) > 12 {
			short = short[:12]
		}
		line += " (commit " + short + dirty + ")"
	}
	return line
}

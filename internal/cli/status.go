package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/daemon"
)

func newStatusCommand(g *globals) *cobra.Command {
	var withDaemon bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each image's pin, platforms, size and what is missing",
		Long: `status lists the images of vendorimg.yaml with their pins, selected and vendored
platforms, their size in the layout, and any blob that is missing. It checks
sizes only (verify rehashes) and never uses the network. It exits 1 when the
layout is incomplete (vendorimg sync completes it) or cannot be read (an
image graph nested too deeply or malformed: the message says why).

--daemon also says, per image, what the docker engine holds under its tag:
the vendored image (with its ID), nothing, or another image.`,
		Example: `  vendorimg status
  vendorimg status --daemon
  vendorimg status --json | jq '.images[] | select(.complete | not)'`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd.Context())
			if err != nil {
				return err
			}
			rep, err := vendorimg.Status(cmd.Context(), cfg, vendorimg.StatusOptions{Daemon: withDaemon, Logger: g.logger})
			if rep == nil {
				return g.finish(nil, err)
			}
			if err != nil {
				return g.finish(rep, err)
			}
			failure := statusFailure(rep)
			if g.json {
				return g.finish(rep, failure)
			}
			if !g.quiet {
				g.printStatus(rep)
			}
			if failure != nil {
				return quietError{failure}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&withDaemon, "daemon", false, "also show what the docker engine holds under each image's tag")
	return cmd
}

// statusFailure is why status exits 1: the graphs that cannot be read
// (whose errors say why, and which sync does not fix), else the layout
// being incomplete.
func statusFailure(rep *vendorimg.StatusReport) error {
	var unreadable []error
	for _, im := range rep.Images {
		if err := im.Err(); err != nil {
			unreadable = append(unreadable, err)
		}
	}
	switch {
	case len(unreadable) > 0:
		return errors.Join(unreadable...)
	case !rep.Complete():
		return fmt.Errorf("%w: vendorimg sync completes it", errIncomplete)
	}
	return nil
}

func (g *globals) printStatus(out *vendorimg.StatusReport) {
	tw := g.newTable()
	header := "IMAGE\tDIGEST\tPLATFORMS\tSIZE\tSTATE"
	if out.Daemon != nil {
		header += "\tENGINE"
	}
	fmt.Fprintln(tw, header)
	for i, im := range out.Images {
		state := "complete"
		switch {
		case im.Error != "":
			state = "error: " + im.Error
		case !im.Complete && len(im.Missing) > 0:
			state = "incomplete: " + plural(len(im.Missing), "blob") + " missing"
		case !im.InIndex:
			state = "not synced"
		case im.Adopted != nil:
			state = "complete (in another tool's index.json entry: vendorimg sync renames it)"
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", im.Name, short(im.Digest.String()), strings.Join(im.Platforms, ","), humanBytes(im.Bytes), state)
		if out.Daemon != nil && i < len(out.Daemon.Images) {
			line += "\t" + engineState(out.Daemon, out.Daemon.Images[i])
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	for _, im := range out.Images {
		if im.Referrers == nil {
			continue
		}
		counts := map[string]int{}
		for _, r := range im.Referrers {
			counts[r.Kind]++
		}
		var parts []string
		for _, k := range []string{"signature", "attestation", "sbom", "other"} {
			if counts[k] > 0 {
				parts = append(parts, plural(counts[k], k))
			}
		}
		if len(parts) == 0 {
			parts = []string{"none"}
		}
		fmt.Fprintf(g.stdout, "%s referrers: %s\n", im.Name, strings.Join(parts, ", "))
	}
	for _, name := range out.Unconfigured {
		fmt.Fprintf(g.stdout, "%s is in index.json but not in vendorimg.yaml (vendorimg sync drops it)\n", name)
	}
	switch failure := statusFailure(out); {
	case failure == nil:
	case errors.Is(failure, errIncomplete):
		fmt.Fprintln(g.stderr, "status: the layout is incomplete: vendorimg sync completes it")
	default:
		// A graph that cannot be read (too deep, malformed) is not
		// something sync completes.
		fmt.Fprintf(g.stderr, "status: the layout cannot be read: %v\n", failure)
	}
}

// engineState says what the engine holds for one image.
func engineState(rep *daemon.Report, chk daemon.ImageCheck) string {
	switch {
	case chk.OK:
		return fmt.Sprintf("loaded %s (%s)", short(chk.ImageID), chk.Platform)
	case chk.ImageID == "":
		for _, f := range rep.Findings {
			if f.Image == chk.Ref && f.Kind == daemon.KindLayout {
				return "unknown: the layout cannot tell (" + f.Message + ")"
			}
		}
		return "not loaded"
	case chk.Match != "":
		return fmt.Sprintf("%s has other layers", short(chk.ImageID))
	}
	return fmt.Sprintf("points to another image, %s", short(chk.ImageID))
}

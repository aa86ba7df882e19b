package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
)

// verifyFlags are verify's flags; daemon checks add to them.
type verifyFlags struct {
	deep bool
	jobs int
}

// verifyHooks let the docker commands extend verify with --daemon without
// this file importing the docker client.
var verifyHooks []func(cmd *cobra.Command, g *globals) verifyExtension

// verifyExtension is an extra check verify runs after the layout's.
type verifyExtension interface {
	// Enabled says whether the extension's flag was given.
	Enabled() bool
	// Run checks cfg and returns a JSON-able result and whether it passed.
	Run(cmd *cobra.Command, g *globals, cfg *config.Config) (result any, ok bool, err error)
	// Key is the extension's field name in --json output.
	Key() string
}

func newVerifyCommand(g *globals) *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Rehash every blob and check the layout against vendorimg.yaml",
		Long: `verify proves the layout holds exactly what vendorimg.yaml pins. It rehashes
every blob reachable from index.json (in parallel, streaming), checks sizes
and media types against their descriptors, that every selected platform is
complete, that index.json's digests equal the pins, and reports anything
else in the layout folder: unreferenced blobs, temporary files, symlinks,
special files, strays. --deep also decompresses every layer and checks it
against its config's diff_ids.

It reports every finding, not only the first, each with its path and the
expected and actual digest, and exits 1 if there is any. It never uses the
network.`,
		Example: `  vendorimg verify
  vendorimg verify --deep --json`,
		Args: args(cobra.NoArgs),
	}
	var exts []verifyExtension
	for _, h := range verifyHooks {
		exts = append(exts, h(cmd, g))
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := g.loadConfig()
		if err != nil {
			return err
		}
		p := g.newProgress()
		rep, err := vendorimg.Verify(cmd.Context(), cfg, vendorimg.VerifyOptions{Deep: f.deep, Jobs: f.jobs, Progress: p.verify, Waiting: func() {
			p.line("waiting for another vendorimg to release the layout...")
		}})
		p.done()
		if err != nil {
			return err
		}
		ok := rep.OK()
		out := map[string]any{"ok": ok, "layout": rep}
		if !g.json {
			g.printVerify(rep)
		}
		for _, e := range exts {
			if !e.Enabled() {
				continue
			}
			res, eok, err := e.Run(cmd, g, cfg)
			if err != nil {
				return err
			}
			out[e.Key()] = res
			ok = ok && eok
			out["ok"] = ok
		}
		if g.json {
			if err := printJSON(g.stdout, out); err != nil {
				return err
			}
		}
		if !ok {
			return quietError{fmt.Errorf("%w", errs.ErrVerifyFailed)}
		}
		return nil
	}
	cmd.Flags().BoolVar(&f.deep, "deep", false, "also decompress every layer and check it against the config's diff_ids")
	cmd.Flags().IntVar(&f.jobs, "jobs", 0, "hash up to `N` blobs at once (default: the number of CPUs)")
	return cmd
}

func (g *globals) printVerify(rep *layout.Report) {
	for _, f := range rep.Findings {
		fmt.Fprintln(g.stderr, f.String())
		if f.Expected != "" || f.Actual != "" {
			fmt.Fprintf(g.stderr, "    expected %s\n    actual   %s\n", orDash(f.Expected), orDash(f.Actual))
		}
	}
	if rep.OK() {
		if !g.quiet {
			deep := ""
			if rep.Deep {
				deep = ", layers decompressed and checked against diff_ids"
			}
			fmt.Fprintf(g.stdout, "ok: %d images, %d blobs, %s rehashed%s\n", len(rep.Images), rep.Blobs, humanBytes(rep.Bytes), deep)
		}
		return
	}
	hint := ""
	if rep.Incomplete() {
		hint = " (the layout is incomplete, not corrupt: vendorimg sync completes it)"
	}
	fmt.Fprintf(g.stderr, "verify: %d problems in %s%s\n", len(rep.Findings), rep.Layout, hint)
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

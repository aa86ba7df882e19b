package cli

import (
	"fmt"
	"github.com/vendorimg/vendorimg"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
)

// verifyFlags are verify's flags.
type verifyFlags struct {
	deep   bool
	jobs   int
	daemon bool
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

--daemon also checks the docker engine (DOCKER_HOST, or the local socket):
each image's tag must point to the vendored image (its ID is the config
digest, or with the containerd image store the manifest or index digest)
with the config's layers. A missing tag, or one that now points elsewhere (a
re-tag, a docker commit onto it, a pull that replaced it), is a finding that
names the tag; --json reports them under "daemon". With --deep it also
exports each image from the engine (docker save, streamed, with no
temporary file of its own) and rehashes it: every layer against the config's diff_ids (classic
store, podman) or every blob against the vendored manifest (containerd
store), so that a file changed inside the engine's storage, which leaves
the IDs as they were, is a "content" finding naming the layer. Where the
engine's storage can be read (on its machine, as root: overlay2 and
fuse-overlayfs, podman's vfs, the containerd store's native and overlayfs
snapshotters), --deep also compares every file of the image's layer
folders with the vendored layers: type, mode (setuid bits included),
owner, link target, size, content and the set of files; a difference is a
"files" finding naming the layer and the file. Where it cannot, verify
says so and why (--json: "storage" of each image).

It reports every finding, not only the first, each with its path and the
expected and actual digest, and exits 1 if there is any but "extra" (a
harmless file) and "adopted" (an index.json entry another tool wrote for the
pin, which the next sync renames). It never uses the network.`,
		Example: `  vendorimg verify
  vendorimg verify --deep --json
  vendorimg verify --daemon    # after the tests: the images in docker did not change
  vendorimg verify --daemon --deep    # and rehash what docker holds of them`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd.Context())
			if err != nil {
				return err
			}
			p := g.newProgress()
			rep, err := vendorimg.Check(cmd.Context(), cfg, vendorimg.CheckOptions{Daemon: f.daemon, Deep: f.deep, DeepDaemon: f.deep && f.daemon, Jobs: f.jobs, Logger: g.logger, Progress: p.verify})
			p.done()
			if err == nil && !rep.OK {
				err = quietError{fmt.Errorf("%w: %s", errs.ErrVerifyFailed, problems(rep))}
			}
			if g.json {
				return g.finish(rep, err)
			}
			if rep != nil {
				g.printVerify(rep.Layout)
				if rep.Daemon != nil {
					g.printDaemonVerify(rep.Daemon)
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&f.deep, "deep", false, "also decompress every layer and check it against the config's diff_ids; with --daemon, also export each image from docker and rehash it")
	cmd.Flags().IntVar(&f.jobs, "jobs", 0, "hash up to `N` blobs at once (default: the number of CPUs)")
	cmd.Flags().BoolVar(&f.daemon, "daemon", false, "also check that each image's tag in docker still points to the vendored image")
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
			fmt.Fprintf(g.stdout, "ok: %s, %s, %s rehashed%s\n", plural(len(rep.Images), "image"), plural(rep.Blobs, "blob"), humanBytes(rep.Bytes), deep)
		}
		return
	}
	hint := ""
	switch {
	case harmlessOnly(rep.Findings):
		hint = " (only extras: the images are intact; vendorimg sync prunes unreferenced blobs, gc removes them too)"
	case rep.Incomplete():
		hint = " (the layout is incomplete, not corrupt: vendorimg sync completes it)"
	}
	fmt.Fprintf(g.stderr, "verify: %s in %s%s\n", plural(len(rep.Findings), "problem"), rep.Layout, hint)
}

// harmlessOnly reports whether every finding leaves the images intact.
func harmlessOnly(fs []layout.Finding) bool {
	for _, f := range fs {
		if !f.Kind.Harmless() {
			return false
		}
	}
	return len(fs) > 0
}

// problems says how many findings a check made, in which part.
func problems(rep *vendorimg.CheckReport) string {
	var parts []string
	if n := len(rep.Layout.Findings); n > 0 {
		parts = append(parts, plural(n, "problem")+" in the layout")
	}
	if rep.Daemon != nil && len(rep.Daemon.Findings) > 0 {
		parts = append(parts, plural(len(rep.Daemon.Findings), "problem")+" in the engine")
	}
	return strings.Join(parts, ", ")
}

func (g *globals) printDaemonVerify(rep *daemon.Report) {
	for _, f := range rep.Findings {
		fmt.Fprintln(g.stderr, f.String())
		if f.Expected != "" || f.Actual != "" {
			fmt.Fprintf(g.stderr, "    expected %s\n    actual   %s\n", orDash(f.Expected), orDash(f.Actual))
		}
	}
	deep := ""
	if rep.Deep {
		deep = fmt.Sprintf(", %s exported and rehashed", humanBytes(rep.Bytes))
		checked := 0
		for _, im := range rep.Images {
			switch {
			case im.Storage == nil:
			case im.Storage.Checked:
				checked++
			case !g.quiet:
				fmt.Fprintf(g.stderr, "verify --daemon --deep: the files of %s in the engine's storage were not compared: %s\n", im.Tag, im.Storage.Reason)
			}
		}
		if checked > 0 {
			deep += fmt.Sprintf(", the files of %s compared in the engine's storage", plural(checked, "image"))
		}
	}
	switch {
	case rep.OK() && len(rep.Images) == 1 && !g.quiet:
		fmt.Fprintf(g.stdout, "ok: 1 image in docker is the vendored one%s\n", deep)
	case rep.OK() && !g.quiet:
		fmt.Fprintf(g.stdout, "ok: %d images in docker are the vendored ones%s\n", len(rep.Images), deep)
	case !rep.OK():
		hint := "vendorimg load puts the vendored images back"
		for _, f := range rep.Findings {
			if f.Kind == daemon.KindContent {
				// load skips an image whose ID is the vendored one.
				hint = "vendorimg load puts the vendored images back; a changed layer stays until its image is removed: vendorimg unload, then vendorimg load"
				break
			}
		}
		fmt.Fprintf(g.stderr, "verify --daemon: %s in docker %s, %s store (%s)\n", plural(len(rep.Findings), "problem"), rep.Engine.Version, rep.Engine.Store, hint)
	}
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

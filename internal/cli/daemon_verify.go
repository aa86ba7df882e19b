package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/layout"
)

func init() {
	verifyHooks = append(verifyHooks, newDaemonVerify)
}

// daemonVerify is verify --daemon: the images docker holds under the
// configured tags must still be the vendored ones.
type daemonVerify struct {
	enabled bool
}

func newDaemonVerify(cmd *cobra.Command, g *globals) verifyExtension {
	d := &daemonVerify{}
	cmd.Flags().BoolVar(&d.enabled, "daemon", false, "also check that each image's tag in docker still points to the vendored image")
	cmd.Long += `

--daemon also checks the docker engine (DOCKER_HOST, or the local socket):
each image's tag must point to the vendored image (its ID is the config
digest, or with the containerd image store the manifest or index digest)
with the config's layers. A missing tag, or one that now points elsewhere (a
re-tag, a docker commit onto it, a pull that replaced it), is a finding that
names the tag; --json reports them under "daemon".`
	cmd.Example += `
  vendorimg verify --daemon    # after the tests: the images in docker did not change`
	return d
}

func (d *daemonVerify) Enabled() bool { return d.enabled }

func (d *daemonVerify) Key() string { return "daemon" }

func (d *daemonVerify) Run(cmd *cobra.Command, g *globals, cfg *config.Config) (any, bool, error) {
	c, err := daemon.NewClient()
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	rep, err := daemon.Verify(cmd.Context(), c, layout.New(cfg.LayoutDir()), cfg.Images, daemon.VerifyOptions{Logger: g.logger})
	if err != nil {
		return nil, false, err
	}
	if !g.json {
		for _, f := range rep.Findings {
			fmt.Fprintln(g.stderr, f.String())
			if f.Expected != "" || f.Actual != "" {
				fmt.Fprintf(g.stderr, "    expected %s\n    actual   %s\n", orDash(f.Expected), orDash(f.Actual))
			}
		}
		if rep.OK() && !g.quiet {
			fmt.Fprintf(g.stdout, "ok: %d images in docker are the vendored ones\n", len(rep.Images))
		}
	}
	return rep, rep.OK(), nil
}

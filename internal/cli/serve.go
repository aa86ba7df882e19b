package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/vendorimg/vendorimg/serve"
)

func newServeCommand(g *globals) *cobra.Command {
	addr := serve.DefaultAddr
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT]",
		Short: "Serve the layout in place as a read-only registry (also a docker.io mirror)",
		Long: `serve answers the OCI distribution API's pull endpoints from the layout, in
place: docker, podman, containerd (kind, k3s), buildkit or skopeo pull the
vendored images from it with no other network. It copies nothing and
writes nothing, and holds the layout's shared lock while it runs, so a sync
waits until it stops.

Each image is served under its repository path with and without its
registry host: registry.example/team/app:1 as HOST:PORT/registry.example/team/app:1
and HOST:PORT/team/app:1; docker.io/library/alpine:3.19.1 also as
HOST:PORT/library/alpine:3.19.1, so that serve works as a docker.io mirror
(docker's registry-mirrors, a containerd hosts.toml, podman's
registries.conf; see docs/serve.md). Manifests are served byte for byte, blobs
are rehashed as they stream: if a file's bytes are wrong the connection is
cut and the error logged, so no client accepts them. A platform that was not
vendored answers MANIFEST_UNKNOWN saying so.

serve listens on loopback unless --addr names another address, and stops
gracefully on SIGINT or SIGTERM. With --json it prints one document with the
address and the served images once it listens (use --addr 127.0.0.1:0 for a
free port); -v logs a line per request.`,
		Example: `  vendorimg serve
  vendorimg serve --addr 127.0.0.1:0 --json     # a free port; read .addr
  docker pull 127.0.0.1:5000/library/alpine:3.19.1`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd.Context())
			if err != nil {
				return err
			}
			p := g.newProgress()
			err = serve.Run(cmd.Context(), cfg, serve.RunOptions{
				Addr:     addr,
				Logger:   g.logger,
				Progress: p.event,
				Ready: func(info serve.Info) {
					p.done()
					if g.json {
						_ = g.finish(info, nil)
						return
					}
					g.printServing(info)
				},
			})
			return g.finish(nil, err)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", addr, "listen on `HOST:PORT` (port 0: a free one)")
	return cmd
}

// printServing says where serve listens and what it serves, for people.
func (g *globals) printServing(info serve.Info) {
	if g.quiet {
		return
	}
	fmt.Fprintf(g.stdout, "serving %s on http://%s (read-only; Ctrl-C stops)\n", plural(len(info.Images), "image"), info.Addr)
	for _, im := range info.Images {
		var refs []string
		for _, r := range im.Repositories {
			ref := info.Addr + "/" + r
			if im.Tag != "" {
				ref += ":" + im.Tag
			}
			refs = append(refs, ref)
		}
		fmt.Fprintf(g.stdout, "  %s  %s  %s\n", strings.Join(refs, "  "), short(im.Digest.String()), strings.Join(im.Platforms, ","))
	}
}

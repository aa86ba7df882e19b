package cli

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/pusher"
)

func newPushCommand(g *globals) *cobra.Command {
	var opts vendorimg.PushOptions
	var timeout timeoutFlag
	cmd := &cobra.Command{
		Use:   "push REGISTRY[/PREFIX] [REF]...",
		Short: "Copy the vendored images into a registry, byte for byte",
		Long: `push copies the vendored images (all, or the REFs named) from the layout into a
registry, such as a team's internal mirror, byte for byte: every manifest and
blob keeps its digest, and each image's pin is tagged with its tag under
PREFIX/REPOSITORY (docker.io/library/alpine:3.19.1 goes to
REGISTRY/PREFIX/library/alpine:3.19.1). Without a prefix the registry then
serves the same repositories as the images' registry, so another checkout
can name it under mirrors: in vendorimg.yaml and sync from it.

Blobs the registry already has are skipped (HEAD), a blob another pushed
repository has is mounted, the rest are uploaded in parallel (--jobs), each
rehashed as it is read. Manifests go children first: each vendored
platform's manifest by digest, then the index or manifest by tag.
Credentials come from the docker config, as for sync.

An index that lists platforms that were not vendored (a sparse index) is
completed from upstream: the manifests, configs and layers the layout lacks
are fetched by digest from the image's registry (its mirror first, as for
sync), verified while they stream, and sent straight to the target; nothing
of them is written to the checkout. The target then holds the whole image
under the pin. The report says, per image, which platforms came from the
layout and which from upstream, with their sizes.

With --no-upstream, or when upstream cannot be reached, only the vendored
platforms are pushed; a registry that checks an index's children (the
distribution registry does) then refuses the index: push leaves the vendored
platforms' manifests in the registry by digest, does not tag the image, and
fails (kind sparse-index) saying how to complete it.
--dry-run asks the registry what it has (and upstream for the manifests a
sparse index lacks) and says what a push would send, sending nothing.`,
		Example: `  vendorimg push registry.internal:5000
  vendorimg push registry.internal:5000/vendored alpine:3.19.1
  vendorimg push --dry-run registry.internal:5000 --json
  vendorimg push --no-upstream registry.internal:5000`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if opts.Jobs < 1 {
				return usagef("--jobs %d: must be at least 1", opts.Jobs)
			}
			cfg, err := g.loadConfig(cmd.Context())
			if err != nil {
				return err
			}
			opts.Target, opts.Images = a[0], a[1:]
			opts.Logger = g.logger
			pv := &pushView{w: g.stderr, quiet: g.quiet, tty: isTerminal(g.stderr)}
			opts.Progress = pv.event
			ctx, cancel, err := timeout.context(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			res, err := vendorimg.Push(ctx, cfg, opts)
			err = timeout.explain(ctx, err)
			pv.done()
			if errors.Is(err, errs.ErrInvalidReference) {
				err = usageError{err}
			}
			if g.json {
				return g.finish(res, err)
			}
			if res != nil {
				g.printPush(res)
			}
			return err
		},
	}
	timeout.bind(cmd)
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "ask the registry what it has and print what would be sent, sending nothing")
	cmd.Flags().BoolVar(&opts.NoUpstream, "no-upstream", false, "push only what the layout holds: never complete a sparse index from the image's registry")
	cmd.Flags().IntVar(&opts.Jobs, "jobs", vendorimg.DefaultJobs, "upload up to `N` blobs at once")
	cmd.Flags().StringArrayVar(&opts.Insecure, "insecure-registry", nil, "allow plain http to `HOST` (loopback hosts always are); repeatable")
	return cmd
}

// printPush says what push did, for people.
func (g *globals) printPush(res *vendorimg.PushResult) {
	if g.quiet {
		return
	}
	verb := map[bool]string{false: "pushed", true: "would push"}[res.DryRun]
	for _, im := range res.Images {
		if im.Error != "" {
			continue // the command's error says it
		}
		sent, there := 0, 0
		for _, b := range im.Blobs {
			switch b.Action {
			case pusher.PushExists:
				there++
			default:
				sent++
			}
		}
		fmt.Fprintf(g.stdout, "%s  %s  %s  %s %s, %d already there\n", im.Target, short(im.Digest.String()), joinOr(im.Platforms, "-"), verb, plural(sent, "blob"), there)
		g.printSources(im)
	}
	if res.DryRun {
		upload, mount := 0, 0
		for _, im := range res.Images {
			for _, b := range im.Blobs {
				switch b.Action {
				case pusher.PushWouldUpload:
					upload++
				case pusher.PushWouldMount:
					mount++
				}
			}
		}
		fmt.Fprintf(g.stdout, "%s: would upload %s, mount %d; %d already there (dry run: nothing sent)\n", res.Target, plural(upload, "blob"), mount, res.Skipped)
		return
	}
	fmt.Fprintf(g.stdout, "%s: %d uploaded (%s), %d mounted, %d already there; %s stored\n", res.Target, res.Uploaded, humanBytes(res.UploadedBytes), res.Mounted, res.Skipped, plural(res.Manifests, "manifest"))
	if res.FromUpstream > 0 {
		fmt.Fprintf(g.stdout, "%s: %s (%s) of those streamed from upstream, not stored in the checkout\n", res.Target, plural(res.FromUpstream, "blob"), humanBytes(res.FromUpstreamBytes))
	}
}

// printSources says, for an image whose index was not wholly vendored,
// where each platform came from.
func (g *globals) printSources(im pusher.PushedImage) {
	if len(im.Missing) == 0 {
		return
	}
	from := map[string]string{
		pusher.SourceLayout:   "from the layout",
		pusher.SourceUpstream: "from upstream " + im.Upstream,
		pusher.SourceTarget:   "already in the registry",
	}
	for _, s := range im.Sources {
		size := ""
		if s.Source != pusher.SourceTarget {
			size = "  " + humanBytes(s.Bytes)
		}
		fmt.Fprintf(g.stdout, "  %s  %s%s\n", s.Platform, from[s.Source], size)
	}
	if im.UpstreamError == "" {
		return
	}
	for _, m := range im.Missing {
		fmt.Fprintf(g.stdout, "  %s  not vendored, not pushed\n", m)
	}
	fmt.Fprintf(g.stdout, "  (%s)\n", im.UpstreamError)
}

func joinOr(s []string, empty string) string {
	if len(s) == 0 {
		return empty
	}
	out := s[0]
	for _, x := range s[1:] {
		out += "," + x
	}
	return out
}

// pushView renders push's progress on stderr: a redrawn line on a
// terminal, a line per uploaded blob otherwise.
type pushView struct {
	w     io.Writer
	quiet bool
	tty   bool

	mu     sync.Mutex
	total  int64
	sent   int64
	active map[string]int64
	last   time.Time
	drawn  bool
}

func (p *pushView) event(e progress.Event) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active == nil {
		p.active = map[string]int64{}
	}
	switch e.Kind {
	case progress.Waiting:
		p.line("waiting for another vendorimg to release the layout...")
	case progress.Plan:
		p.total = e.Size
	case progress.Advance:
		p.active[e.Digest.String()] = e.Done
		p.draw()
	case progress.Done:
		delete(p.active, e.Digest.String())
		p.sent += e.Size
		if !p.tty {
			p.line(fmt.Sprintf("uploaded %s %s (%s) for %s", e.Role, short(e.Digest.String()), humanBytes(e.Size), e.Image))
		}
	case progress.Retry:
		p.line(fmt.Sprintf("retrying %s %s: %v", e.Role, short(e.Digest.String()), e.Err))
	case progress.Notice:
		p.line(e.Message)
	}
}

func (p *pushView) draw() {
	if !p.tty || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	cur := p.sent
	for _, n := range p.active {
		cur += n
	}
	fmt.Fprintf(p.w, "\r\033[Kpushing %s / %s", humanBytes(cur), humanBytes(p.total))
	p.drawn = true
}

func (p *pushView) line(s string) {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
	fmt.Fprintln(p.w, s)
}

func (p *pushView) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/layout"
)

// watchRequest is one line a harness sends to vendorimg watch.
type watchRequest struct {
	// Op is "check", "tag" or "untag".
	Op string `json:"op"`
	// Restore (check) puts the vendored images back after a change;
	// Since (check, seconds since the epoch, optional) is when the test
	// started, when the watch started during it.
	Restore bool    `json:"restore"`
	Since   float64 `json:"since"`
	// Ref and Token (tag) name the image and the test; Tag (untag) the
	// tag to drop.
	Ref   string `json:"ref"`
	Token string `json:"token"`
	Tag   string `json:"tag"`
}

// watchReady is watch's first line.
type watchReady struct {
	Ready  bool                  `json:"ready"`
	Engine daemon.Engine         `json:"engine"`
	Images []daemon.WatchedImage `json:"images"`
	// Files is how many layout files are watched; Before those already
	// wrong at the start.
	Files  int                 `json:"files"`
	Before []layout.FileChange `json:"before"`
	// Quiet is how a check knows that no image changed without listing
	// them: "events", "store-file" or "none" (daemon.Watcher.Quiet).
	Quiet string `json:"quiet"`
}

// watchTagged is the answer to tag and untag.
type watchTagged struct {
	Tag    string `json:"tag,omitempty"`
	Action string `json:"action,omitempty"`
}

func newWatchCommand(g *globals) *cobra.Command {
	var platformFlag string
	cmd := &cobra.Command{
		Use:   "watch [REF]...",
		Short: "Check loaded images after each test, for a test harness (JSON lines on stdin and stdout)",
		Long: `watch is the per-test check of a test harness (pytest-vendorimg runs it): a
long-lived process that keeps one engine connection, so that a check after
every test costs a stat of each layout file and, when nothing changed, one
short request to the engine (dockerd: its event log of the window) or none
(podman: its image store's file, when readable here); only a change, or an
engine where neither can tell, costs the image list.

It watches the images REF names (default: every image of vendorimg.yaml),
which must be loaded already (vendorimg load). It rehashes their blobs once,
prints one JSON line ({"ready": true, "engine": ..., "images": [...],
"files": N, "before": [files already wrong], "quiet": "events" | "store-file"
| "none"}) and then answers each JSON line
read on stdin with one JSON line on stdout:

  {"op": "check", "restore": true, "since": 1796664062.5}
      whether a tag moved or was removed, the vendored image removed, or a
      watched layout file changed since the last check; the engine's events
      of the window that touched the images; with restore, what was put back
      (the report of "vendorimg watch" in the README); since, optional, is
      when the test started, if the watch started during it
  {"op": "tag", "ref": "REF", "token": "T"}
      gives the image a tag of its own for one test ({"tag": "..."})
  {"op": "untag", "tag": "TAG"}
      removes such a tag ({"action": "..."})

A request that fails is answered {"error": "...", "kind": "..."}. It exits
0 at the end of stdin; a failed start prints one error document and exits 1.`,
		Example: `  printf '{"op":"check","restore":true}\n' | vendorimg watch`,
		RunE: func(cmd *cobra.Command, refs []string) error {
			g.json = true
			var opts vendorimg.WatchOptions
			pl, err := platformOption(platformFlag)
			if err != nil {
				return err
			}
			opts.Platform = pl
			cfg, err := g.configFor(cmd.Context(), refs)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			opts.Images, opts.Logger = refs, g.logger
			w, done, err := vendorimg.Watch(ctx, cfg, opts)
			if err != nil {
				return err
			}
			defer done()
			out := bufio.NewWriter(g.stdout)
			send := func(v any, err error) error {
				b, merr := marshal(withError(v, err))
				if merr != nil {
					return merr
				}
				out.Write(b)
				out.WriteByte('\n')
				return out.Flush()
			}
			g.printed = true
			if err := send(watchReady{Ready: true, Engine: w.Engine(), Images: w.Images(), Files: w.Files(), Before: append([]layout.FileChange{}, w.Before()...), Quiet: w.Quiet()}, nil); err != nil {
				return err
			}
			in := bufio.NewScanner(stdin(cmd))
			in.Buffer(make([]byte, 64<<10), 1<<20)
			for in.Scan() {
				var req watchRequest
				if err := json.Unmarshal(in.Bytes(), &req); err != nil {
					err = send(nil, usagef("reading a request: %v", err))
					if err != nil {
						return err
					}
					continue
				}
				var v any
				var rerr error
				switch req.Op {
				case "check":
					opts := daemon.CheckTestOptions{Restore: req.Restore}
					if req.Since > 0 {
						opts.Since = time.Unix(0, int64(req.Since*1e9))
					}
					v, rerr = w.Check(ctx, opts)
				case "tag":
					var tag string
					tag, rerr = w.AddTag(ctx, req.Ref, req.Token)
					v = watchTagged{Tag: tag}
				case "untag":
					var action string
					action, rerr = w.RemoveTag(ctx, req.Tag)
					v = watchTagged{Tag: req.Tag, Action: action}
				default:
					rerr = usagef("unknown op %q: want check, tag or untag", req.Op)
				}
				if rerr != nil {
					v = nil
				}
				if err := send(v, rerr); err != nil {
					return err
				}
			}
			if err := in.Err(); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("reading stdin: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&platformFlag, "platform", "", "the vendored `OS/ARCH[/VARIANT]` that was loaded (default: the docker engine's platform)")
	return cmd
}

// stdin is the command's input: cobra's, which tests set, else os.Stdin.
func stdin(cmd *cobra.Command) io.Reader {
	if r := cmd.InOrStdin(); r != nil {
		return r
	}
	return os.Stdin
}

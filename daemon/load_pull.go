package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/serve"
)

// podman's docker-compatible /images/load writes the whole archive to a
// file before it imports it; pulling, it fetches and stores the layers as
// they arrive. So Load has podman pull the images it has to send from a
// server of its own on 127.0.0.1 (package serve: manifests byte for byte,
// blobs rehashed as they stream and the connection cut on a wrong byte;
// podman checks every digest too), by the platform manifest's digest
// under a temporary name, which it replaces by the image's tag, through
// podman's own API (load_libpod.go). The blobs podman did not fetch (it
// already held those layers) are rehashed from the layout before the tag
// is set, so that a blob changed on disk still loads nothing. An engine
// that refuses the pull gets the archive instead, as does an image whose
// blob does not verify: the archive route then names the blob.
//
// Docker gets the archive. On Engine 20.10's classic store, pulling
// measured no faster. On the containerd store it measured 0.68-0.70 x
// "docker load -i", but an image pulled right after "docker rmi" of it
// came out with its config and layers missing from the content store
// (the pull found them there, pending garbage collection, and did not
// fetch them): "docker save" and verify --daemon --deep then lack them.
// The archive's import does not do that (internal/testsupport/bench/
// FINDINGS.md, fourth round).

// pullStopTimeout bounds the server's graceful stop.
const pullStopTimeout = 5 * time.Second

// pullServer is the layout served on 127.0.0.1 for one Load.
type pullServer struct {
	addr string
	srv  *http.Server
	done chan struct{}
	// repos are the repository paths each image is served under, by
	// index.json name.
	repos map[string]string
	// log counts the bytes served and cancels the pull in flight when a
	// blob does not verify.
	log *pullLog
}

// startPullServer serves the images vs on 127.0.0.1 on a free port.
func (ld *loader) startPullServer(ctx context.Context, vs []*vendored) (*pullServer, error) {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.name
	}
	log := &pullLog{}
	h, err := serve.New(ctx, ld.l, serve.Options{Names: names, Logger: slog.New(log)})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ps := &pullServer{addr: ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, done: make(chan struct{}), repos: map[string]string{}, log: log}
	for _, im := range h.Images() {
		// A path with a port ("127.0.0.1:5000/team/app") is no repository
		// name under another host: the one without the host is served too
		// unless another image claims it.
		for _, r := range im.Repositories {
			if !strings.Contains(r, ":") {
				ps.repos[im.Name] = r
				break
			}
		}
	}
	go func() {
		defer close(ps.done)
		_ = ps.srv.Serve(ln)
	}()
	return ps, nil
}

func (ps *pullServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), pullStopTimeout)
	defer cancel()
	if ps.srv.Shutdown(ctx) != nil {
		ps.srv.Close()
	}
	<-ps.done
}

// pullLog is the server's logger: it counts the blob and manifest bytes
// served and, when a
// blob does not verify, cancels the pull in flight (docker would retry).
type pullLog struct {
	served atomic.Int64
	mu     sync.Mutex
	// blobs are the bytes served of each blob.
	blobs  map[digest.Digest]int64
	cancel context.CancelFunc
	bad    []string
}

func (p *pullLog) Enabled(context.Context, slog.Level) bool { return true }
func (p *pullLog) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *pullLog) WithGroup(string) slog.Handler            { return p }

func (p *pullLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		p.mu.Lock()
		p.bad = append(p.bad, r.Message)
		if p.cancel != nil {
			p.cancel()
		}
		p.mu.Unlock()
		return nil
	}
	// Blob and manifest bytes only: not the API's answers (/v2/'s "{}").
	var path string
	var n int64
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "path":
			path = a.Value.String()
		case "bytes":
			n = a.Value.Int64()
		}
		return true
	})
	if strings.Contains(path, "/blobs/") || strings.Contains(path, "/manifests/") {
		p.served.Add(n)
	}
	if _, d, ok := strings.Cut(path, "/blobs/"); ok {
		p.mu.Lock()
		if p.blobs == nil {
			p.blobs = map[digest.Digest]int64{}
		}
		p.blobs[digest.Digest(d)] += n
		p.mu.Unlock()
	}
	return nil
}

// watch makes cancel the pull to stop on a wrong blob (nil: none).
func (p *pullLog) watch(cancel context.CancelFunc) {
	p.mu.Lock()
	p.cancel = cancel
	p.mu.Unlock()
}

// servedWhole reports whether the server sent all of blob d's bytes
// (each rehashed as it went).
func (p *pullLog) servedWhole(d ocispec.Descriptor) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blobs[d.Digest] >= d.Size
}

// badCount is how many wrong blobs the server found so far.
func (p *pullLog) badCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.bad)
}

// wrong says what the server found wrong so far.
func (p *pullLog) wrong() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.bad, "; ")
}

// errNoPull: the engine did not pull the image from the server; the
// archive route takes over.
var errNoPull = errors.New("the engine did not pull from vendorimg's loopback server")

// pullable reports whether v may go to the engine by a pull: podman
// (ld.libpod), a tag to give it (the temporary name is then removed
// without removing the image), unless LoadOptions.Archive.
func (ld *loader) pullable(v *vendored) bool {
	return ld.libpod != nil && !ld.archive && v.tag != ""
}

// pull has the engine pull v from ps by its platform manifest's digest
// under a temporary name, tags it, and removes the temporary name. An
// error wrapping errNoPull means the engine loaded nothing of it by
// pulling (the caller sends the archive instead); any other error is the
// engine's and stands.
func (ld *loader) pull(ctx context.Context, ps *pullServer, v *vendored, res *LoadResult) error {
	repo, ok := ps.repos[v.name]
	if !ok {
		return fmt.Errorf("%w: %s is not served", errNoPull, v.name)
	}
	ref := ps.addr + "/" + repo + "@" + v.manifest.Digest.String()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ps.log.watch(cancel)
	defer ps.log.watch(nil)
	unlock, err := ld.libpod.lock(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %w", errNoPull, err)
	}
	defer unlock()
	before := ps.log.served.Load()
	ld.progress.Emit(progress.Event{Kind: progress.Start, Image: v.name, Size: v.size()})
	ld.logger.Debug("the engine pulls the image from vendorimg's loopback server", "image", v.name, "ref", ref)
	err = ld.libpod.pull(pctx, ref)
	res.Streamed = ps.log.served.Load() - before
	if err != nil {
		// Whatever the pull left under the temporary name goes.
		ld.removeTemp(ctx, ref)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if gone := ld.gone(ctx, err); gone != nil {
			return fmt.Errorf("loading %s into docker: the engine stopped answering after %d of %d bytes were served to its pull from %s: %w", v.name, res.Streamed, v.size(), ps.addr, gone)
		}
		if bad := ps.log.wrong(); bad != "" {
			err = fmt.Errorf("%w (the server found: %s)", err, bad)
		}
		return fmt.Errorf("%w: %w", errNoPull, err)
	}
	// The blobs podman did not fetch, it had: they are rehashed here, so
	// that a layout that changed on disk loads nothing.
	if err := ld.checkUnserved(ctx, ps, v); err != nil {
		ld.removeTemp(ctx, ref)
		return err
	}
	// The first change that stays: the engine must be what the load
	// assumed (load_info.go).
	if err := ld.settle(ctx); err != nil {
		ld.removeTemp(ctx, ref)
		return err
	}
	// Tagged, then the temporary name removed: the image stays.
	if err := ld.c.ImageTag(ctx, ref, v.tag); err != nil {
		ld.removeTemp(ctx, ref)
		return fmt.Errorf("tagging %s as %s after the engine pulled it: %w", ref, v.tag, err)
	}
	if err := ld.dropTemp(ctx, ps.addr, v.tag); err != nil {
		return err
	}
	ld.progress.Emit(progress.Event{Kind: progress.Done, Image: v.name, Size: res.Streamed, Done: res.Streamed})
	return nil
}

// checkUnserved rehashes from the layout each blob of v the server did
// not send whole during the pull (served blobs were rehashed as they
// streamed). The error names the blob and wraps errs.ErrDigestMismatch or
// errs.ErrSizeMismatch.
func (ld *loader) checkUnserved(ctx context.Context, ps *pullServer, v *vendored) error {
	blobs := append([]ocispec.Descriptor{v.config}, v.layers...)
	for _, d := range blobs {
		if ps.log.servedWhole(d) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := rehash(ld.l, d); err != nil {
			return fmt.Errorf("loading %s: %s, which the engine already held: %w", v.name, layout.RelBlobPath(d.Digest), err)
		}
	}
	return nil
}

// rehash checks that the stored blob d has its size and digest.
func rehash(l *layout.Layout, d ocispec.Descriptor) error {
	f, err := l.OpenBlob(d.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, make([]byte, copyBuffer))
	switch {
	case err != nil:
		return err
	case n != d.Size:
		return fmt.Errorf("%w: the file has %d bytes, its descriptor says %d", errs.ErrSizeMismatch, n, d.Size)
	}
	if got := digest.NewDigest(digest.SHA256, h); got != d.Digest {
		return fmt.Errorf("%w: it hashes to %s", errs.ErrDigestMismatch, got)
	}
	return nil
}

// dropTemp removes from the image tag names every name under the server's
// address addr, and checks none is left. podman adds the temporary name
// when the pull stores the image, not always when it already held it, so
// the names are read rather than assumed; a removal that fails is judged
// by what is left.
func (ld *loader) dropTemp(ctx context.Context, addr, tag string) error {
	temp := func() ([]string, error) {
		ins, err := ld.c.ImageInspect(ctx, tag)
		if err != nil {
			return nil, fmt.Errorf("inspecting %s after the engine pulled it: %w", tag, err)
		}
		var names []string
		for _, n := range append(ins.RepoTags, ins.RepoDigests...) {
			if strings.HasPrefix(n, addr+"/") {
				names = append(names, n)
			}
		}
		return names, nil
	}
	names, err := temp()
	if err != nil {
		return err
	}
	var failed []error
	for _, n := range names {
		if _, err := ld.c.ImageRemove(ctx, n, false); err != nil && !isNotFound(err) {
			failed = append(failed, err)
		}
	}
	if left, err := temp(); err != nil {
		return err
	} else if len(left) > 0 {
		return fmt.Errorf("removing the temporary names %s of %s: %w", strings.Join(left, ", "), tag, errors.Join(failed...))
	}
	return nil
}

// removeTemp removes the temporary name ref after a pull that failed,
// and nothing else, as far as it can: a name the failed pull never made
// is not found.
func (ld *loader) removeTemp(ctx context.Context, ref string) {
	if _, err := ld.c.ImageRemove(ctx, ref, false); err != nil && !isNotFound(err) {
		ld.logger.Debug("removing the temporary name", "ref", ref, "error", err)
	}
}

// pullAll has the engine pull each image of batch it may pull
// (pullable), one after the other, and returns the images left to send
// as an archive, with their indexes in plans. An engine that cannot pull
// from the server gets every later image as an archive too; an image with
// a blob that does not verify goes the archive route alone, which names
// the blob.
func (ld *loader) pullAll(ctx context.Context, plans []planned, batch []*vendored, inBatch []int) ([]*vendored, []int) {
	if !ld.archive {
		// podman, on a local socket, pulls through its own API.
		ld.libpod = findLibpod(ctx, ld.c)
	}
	var pullable []*vendored
	for _, v := range batch {
		if ld.pullable(v) {
			pullable = append(pullable, v)
		}
	}
	if len(pullable) == 0 {
		return batch, inBatch
	}
	ps, err := ld.startPullServer(ctx, pullable)
	if err != nil {
		ld.logger.Debug("cannot serve the layout for the engine to pull; sending archives", "error", err)
		return batch, inBatch
	}
	defer ps.stop()
	var restV []*vendored
	var restI []int
	pulling := true
	for j, v := range batch {
		i := inBatch[j]
		p := &plans[i]
		if !pulling || !ld.pullable(v) || ctx.Err() != nil {
			restV, restI = append(restV, v), append(restI, i)
			continue
		}
		start, bad := time.Now(), ps.log.badCount()
		err := ld.pull(ctx, ps, v, &p.res)
		p.took += time.Since(start)
		switch {
		case err == nil:
			p.batched, p.res.Action = true, ActionLoaded
		case errors.Is(err, errAssumed):
			// The engine is not what the load assumed: nothing more is
			// pulled; the load starts again (load_info.go).
			p.err, pulling = err, false
		case errors.Is(err, errNoPull):
			ld.logger.Debug("the engine did not pull the image; sending it as an archive", "image", v.name, "error", err)
			p.res.Streamed = 0
			restV, restI = append(restV, v), append(restI, i)
			// A wrong blob is this image's; anything else is the engine
			// that cannot pull from here.
			pulling = ps.log.badCount() > bad
		default:
			p.err = err
		}
	}
	return restV, restI
}

package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/moby/moby/api/types/image"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/progress"
)

// Actions Load takes for an image. The values are part of the JSON output.
const (
	// ActionLoaded: the image was streamed into the engine.
	ActionLoaded = "loaded"
	// ActionSkipped: the tag already pointed to the vendored image;
	// nothing was sent.
	ActionSkipped = "skipped"
	// ActionTagged: the engine already held the vendored image (under
	// another name, or none); only the tag was set.
	ActionTagged = "tagged"
)

// LoadOptions configure Load.
type LoadOptions struct {
	// Platform is the platform to load. Default: the engine's own, from
	// its /info (so an arm64 engine gets the arm64 image). Any vendored
	// platform may be loaded: engines accept images of other
	// architectures.
	Platform *platform.Platform
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
	// Progress, if not nil, receives a progress.Waiting event if another
	// vendorimg holds the layout's lock (a sync), and for each image that
	// is streamed: progress.Start (Size: the blob bytes to send),
	// progress.Advance as they stream (Done), progress.Unpacking once all
	// are sent and the engine is unpacking them, and progress.Done. Skipped
	// and tagged images send nothing.
	Progress progress.Func
	// Replace removes from the engine the image a tag points to, even when
	// it is the vendored image (same ID and layers), and loads it again
	// from the layout: for a file changed inside the engine's storage,
	// which leaves the ID as it was ("vendorimg verify --daemon --deep"
	// finds it). It forces the removal (a container of the image loses
	// it). Default false: such an image is skipped.
	Replace bool
	// Archive sends every image as an archive. Default false: podman
	// first pulls the images it lacks from a server of vendorimg's own on
	// 127.0.0.1 (load_pull.go), and gets archives when it cannot.
	Archive bool
}

// LoadReport is what Load did.
type LoadReport struct {
	// Engine is the engine loaded into.
	Engine Engine `json:"engine"`
	// Platform is the platform Load was asked for.
	Platform string `json:"platform"`
	// Images are the images asked for, in order, each with its outcome.
	Images []LoadResult `json:"images"`
}

// LoadResult is one image's outcome.
type LoadResult struct {
	// Ref is the image's full reference, its name in the layout.
	Ref string `json:"ref"`
	// Tag is the name docker knows it by ("" for a reference with only a
	// digest, which is loaded untagged).
	Tag string `json:"tag"`
	// Platform is the vendored platform that was chosen.
	Platform string `json:"platform"`
	// ImageID is the image's ID in the engine.
	ImageID string `json:"imageId,omitempty"`
	// Match is the identity rule the engine's image satisfies: "config"
	// (classic store), "manifest" or "index" (containerd store).
	Match string `json:"match,omitempty"`
	// Action is ActionLoaded, ActionSkipped or ActionTagged ("" on error).
	Action string `json:"action,omitempty"`
	// Replaced is the ID the tag pointed to before, when Load moved it
	// (or, with LoadOptions.Replace, removed it); ReplacedAction what became
	// of that image (ReplacedUntagged, ReplacedTagged, ReplacedRemoved).
	Replaced       string `json:"replaced,omitempty"`
	ReplacedAction string `json:"replacedAction,omitempty"`
	// Bytes is the image's size in the layout (manifest, config, layers).
	Bytes int64 `json:"bytes"`
	// Streamed is the blob bytes sent to the engine (0 unless loaded).
	Streamed int64 `json:"streamed"`
	// Duration is how long the image took; Seconds is the same in JSON.
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
	// Error is why the image failed ("" on success).
	Error string `json:"error,omitempty"`
}

// Load loads images from the layout l into the engine c and tags each as
// its reference. For each image it picks the vendored platform
// (opts.Platform, or the engine's), and:
//
//   - skips it, sending nothing, when its tag already points to exactly
//     the vendored image (same ID under either store's rule, same layers);
//   - tags it, when the engine holds the image under another name;
//   - otherwise streams it (see the package documentation), rehashing
//     every blob, so that a blob that changed on disk loads nothing.
//
// It then inspects the tag and fails unless it now points to the vendored
// image. A platform the layout lacks is an error wrapping
// errs.ErrPlatformMissing that lists the platforms it has. Load holds the
// layout's shared lock throughout. It reads every image's graph from the
// layout before it sends anything: when one cannot be read (nested too
// deeply, a document that does not verify or is malformed), nothing is
// loaded and the report says why for each image. Otherwise an image that
// fails (not synced, its platform missing, the engine refusing it) does
// not stop the others: the report has every image, and the error joins the
// failures.
// Load never removes anything from the engine unless opts.Replace; a tag
// it moves leaves the old image in the engine, and the result says so
// (ReplacedAction).
func Load(ctx context.Context, c Client, l *layout.Layout, images []config.Image, opts LoadOptions) (*LoadReport, error) {
	if c == nil {
		return nil, errors.New("loading images: no docker client")
	}
	if eng, ok := assumeEngine(ctx, c, opts); ok {
		s := &settlement{info: askInfo(ctx, c), assumed: eng, platformGiven: opts.Platform != nil}
		rep, err := load(ctx, c, l, images, opts, eng, s)
		switch serr := s.settle(ctx); {
		case errors.Is(serr, errAssumed):
			if opts.Logger != nil {
				opts.Logger.Debug("the engine is not what the load assumed; loading again", "assumed", eng.Platform, "engine", s.eng.Platform, "store", s.eng.Store)
			}
			return load(ctx, c, l, images, opts, s.eng, nil)
		case serr != nil && err != nil && !errors.Is(err, serr):
			// The load failed on its own too, and says more: how far it
			// got before the engine stopped answering, which image.
			return rep, err
		case serr != nil:
			return nil, serr
		}
		if rep != nil {
			rep.Engine = s.eng
		}
		return rep, err
	}
	_, eng, err := begin(ctx, c, "loading images", opts.Logger)
	if err != nil {
		return nil, err
	}
	return load(ctx, c, l, images, opts, eng, nil)
}

// load is Load into the engine eng, which s settles when it was assumed
// (nil: eng is the engine's own answer).
func load(ctx context.Context, c Client, l *layout.Layout, images []config.Image, opts LoadOptions, eng Engine, s *settlement) (*LoadReport, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	want := eng.platform
	if opts.Platform != nil {
		want = *opts.Platform
	}
	rep := &LoadReport{Engine: eng, Platform: want.String(), Images: []LoadResult{}}
	idx, unlock, err := openLayout(ctx, l, opts.Progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ld := &loader{c: c, l: l, logger: logger, progress: opts.Progress, store: eng.Store, replace: opts.Replace, archive: opts.Archive, settlement: s}
	// Every image's graph is read before anything is sent: a layout with
	// a graph that cannot be read (nested too deeply, a document that does
	// not verify or is malformed) loads nothing, rather than some images.
	// An image merely not synced yet fails alone, below.
	graphs := make([][]*vendored, len(images))
	readErrs := make([]error, len(images))
	var broken []error
	for i, im := range images {
		graphs[i], readErrs[i] = readVendored(ctx, l, idx, im)
		var ge *graphError
		if errors.As(readErrs[i], &ge) {
			broken = append(broken, readErrs[i])
		}
	}
	if len(broken) > 0 {
		for i, im := range images {
			res := LoadResult{Ref: im.Name(), Tag: dockerTag(im), Platform: want.String(), Error: "not loaded: another image's graph cannot be read from the layout, so nothing was sent"}
			if readErrs[i] != nil {
				res.Error = readErrs[i].Error()
			}
			rep.Images = append(rep.Images, res)
		}
		return rep, errors.Join(broken...)
	}
	return ld.loadAll(ctx, rep, graphs, readErrs, images, want)
}

// openLayout takes the layout's shared lock and reads its index.json.
func openLayout(ctx context.Context, l *layout.Layout, report progress.Func) (*ocispec.Index, func(), error) {
	if !l.Exists() {
		return nil, nil, noLayout(l)
	}
	lock, err := l.Lock(ctx, false, report)
	if err != nil {
		return nil, nil, err
	}
	idx, err := l.ReadIndex(ctx)
	if err != nil {
		lock.Unlock()
		return nil, nil, err
	}
	return idx, func() { lock.Unlock() }, nil
}

func noLayout(l *layout.Layout) error {
	return fmt.Errorf("%s is not an OCI layout: %w (run vendorimg sync)", l.Root(), errs.ErrInvalidLayout)
}

type loader struct {
	// replace is LoadOptions.Replace; archive LoadOptions.Archive.
	replace bool
	archive bool
	// libpod is podman's own API, when the engine is podman on a local
	// socket (found before the first pull).
	libpod   *libpod
	c        Client
	l        *layout.Layout
	logger   *slog.Logger
	progress progress.Func
	// store is the engine's image store (StoreClassic gets the layers
	// decompressed).
	store string
	// settlement, when not nil, is the engine's /info asked in the
	// background: the loader assumed its engine, and settles before it
	// changes anything (load_info.go).
	settlement *settlement
}

// prepare reads the image im's vendored platform and decides what the
// engine needs: nothing (res.Action ActionSkipped), a tag on the image it
// already holds, which prepare sets (ActionTagged), or the image streamed
// (res.Action "", its layers checked present). It returns the vendored
// image.
func (ld *loader) prepare(ctx context.Context, vs []*vendored, im config.Image, want platform.Platform, res *LoadResult) (*vendored, error) {
	v, err := pick(im.Name(), vs, want)
	if err != nil {
		return nil, err
	}
	res.Platform, res.Bytes = v.platformString(), v.size()
	if err := v.readConfig(ctx, ld.l); err != nil {
		return nil, err
	}
	if v.tag != "" {
		ins, err := ld.c.ImageInspect(ctx, v.tag)
		switch {
		case err == nil:
			rule, ok := v.identifies(ins)
			switch {
			case ok && !ld.replace:
				res.Action, res.ImageID, res.Match = ActionSkipped, ins.ID, rule
				return v, nil
			case ok:
				if err := ld.settle(ctx); err != nil {
					return nil, err
				}
				if err := ld.remove(ctx, ins.ID); err != nil {
					return nil, err
				}
				res.ReplacedAction = ReplacedRemoved
			}
			res.Replaced = ins.ID
		case !isNotFound(err):
			return nil, fmt.Errorf("inspecting %s in docker: %w", v.tag, err)
		}
	}
	ins, ok, err := findByID(ctx, ld.c, v)
	switch {
	case err != nil:
		return nil, err
	case ok && v.tag == "":
		res.Action, res.ImageID, res.Match = ActionSkipped, ins.ID, v.matchID(ins.ID)
	case ok:
		if err := ld.settle(ctx); err != nil {
			return nil, err
		}
		ld.logger.Debug("image already in docker, tagging it", "image", v.name, "id", ins.ID, "tag", v.tag)
		if err := ld.c.ImageTag(ctx, ins.ID, v.tag); err != nil {
			return nil, fmt.Errorf("tagging %s as %s: %w", ins.ID, v.tag, err)
		}
		res.Action = ActionTagged
	default:
		// Only a load needs the layers: check they are all there before
		// the engine is involved.
		if err := v.complete(ctx, ld.l); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// load does for one image what prepare decided, streaming it alone, then
// checks the engine's image (finish).
func (ld *loader) load(ctx context.Context, vs []*vendored, im config.Image, want platform.Platform, res *LoadResult) error {
	v, err := ld.prepare(ctx, vs, im, want, res)
	if err != nil || res.Action == ActionSkipped {
		return err
	}
	if res.Action == "" {
		if err := ld.streamAlone(ctx, v, res); err != nil {
			return err
		}
	}
	return ld.finish(ctx, v, res)
}

// streamAlone streams v in an archive of its own.
func (ld *loader) streamAlone(ctx context.Context, v *vendored, res *LoadResult) error {
	n, err := ld.stream(ctx, []*vendored{v})
	res.Streamed = n[0]
	if err != nil {
		return err
	}
	res.Action = ActionLoaded
	return nil
}

// finish checks that v's tag (or, untagged, its ID) now points to the
// vendored image, tagging it by ID when the engine loaded it but ignored
// the archive's names, and records the engine's image in res. When the
// engine holds no image with any of v's IDs the error is a
// notTakenError.
func (ld *loader) finish(ctx context.Context, v *vendored, res *LoadResult) error {
	ins, ok, err := lookup(ctx, ld.c, v)
	if err != nil {
		return err
	}
	// Untagged, lookup looked for it by ID.
	absent := !ok && v.tag == ""
	if !ok && v.tag != "" && res.Action == ActionLoaded {
		// An engine that loaded the image but ignored the archive's names:
		// tag it by ID.
		byID, found, err := findByID(ctx, ld.c, v)
		switch {
		case err != nil:
			return err
		case !found:
			absent = true
		default:
			ld.logger.Debug("docker loaded the image without its tag, tagging it", "image", v.name, "id", byID.ID, "tag", v.tag)
			if err := ld.c.ImageTag(ctx, byID.ID, v.tag); err != nil {
				return fmt.Errorf("tagging %s as %s: %w", byID.ID, v.tag, err)
			}
			if ins, ok, err = lookup(ctx, ld.c, v); err != nil {
				return err
			}
		}
	}
	if !ok {
		err := fmt.Errorf("after loading %s, %s: %w", v.name, describe(v, ins), errs.ErrVerifyFailed)
		if absent {
			return notTakenError{err}
		}
		return err
	}
	res.ImageID, res.Match = ins.ID, v.matchID(ins.ID)
	return nil
}

// notTakenError: after a load, the engine holds no image with any of the
// vendored image's IDs (it did not take it from the archive).
type notTakenError struct{ error }

func (e notTakenError) Unwrap() error { return e.error }

// lookup finds v in the engine: by its tag, or by ID for an untagged
// reference, and says whether what it found is v.
func lookup(ctx context.Context, c Client, v *vendored) (image.InspectResponse, bool, error) {
	if v.tag == "" {
		ins, ok, err := findByID(ctx, c, v)
		return ins, ok, err
	}
	res, err := c.ImageInspect(ctx, v.tag)
	switch {
	case isNotFound(err):
		return image.InspectResponse{}, false, nil
	case err != nil:
		return image.InspectResponse{}, false, fmt.Errorf("inspecting %s in docker: %w", v.tag, err)
	}
	_, ok := v.identifies(res)
	return res, ok, nil
}

// describe says what the engine has instead of v.
func describe(v *vendored, ins image.InspectResponse) string {
	name := v.tag
	if name == "" {
		name = v.config.Digest.String()
	}
	switch {
	case ins.ID == "":
		return name + " is not in docker"
	case v.matchID(ins.ID) == "":
		return fmt.Sprintf("%s points to image %s, not the vendored %s (config %s, manifest %s)", name, ins.ID, v.platformString(), v.config.Digest, v.manifest.Digest)
	default:
		return fmt.Sprintf("%s has layers %s, not the config's diff_ids %s", name, strings.Join(ins.RootFS.Layers, ","), joinDigests(v.diffIDs))
	}
}

// findByID looks for v in the engine by the IDs either store gives it.
func findByID(ctx context.Context, c Client, v *vendored) (image.InspectResponse, bool, error) {
	ids := []string{v.config.Digest.String(), v.manifest.Digest.String()}
	if v.top.Digest != v.manifest.Digest {
		ids = append(ids, v.top.Digest.String())
	}
	for _, id := range ids {
		res, err := c.ImageInspect(ctx, id)
		switch {
		case isNotFound(err):
			continue
		case err != nil:
			return image.InspectResponse{}, false, fmt.Errorf("inspecting %s in docker: %w", id, err)
		}
		if _, ok := v.identifies(res); ok {
			return res, true, nil
		}
	}
	return image.InspectResponse{}, false, nil
}

// errEngineDone stops an archive writer once the engine has answered.
var errEngineDone = errors.New("docker stopped reading the archive")

// stream sends the images vs to the engine in one archive, each blob once,
// through a pipe, and waits for the engine's answer. It returns the blob
// bytes sent for each image. An error from the archive (a blob that does
// not verify) wins over the engine's, which is only its consequence.
func (ld *loader) stream(ctx context.Context, vs []*vendored) ([]int64, error) {
	if err := ld.settle(ctx); err != nil {
		return make([]int64, len(vs)), err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The classic store gets the layers decompressed: it then only untars
	// them, while this side inflates on another core. If a layer's gzip
	// stream is not what its trailer says (several members, 4 GiB or more),
	// the archive stops before its manifest.json, the engine loads nothing,
	// and the layers go as stored.
	plain := ld.store == StoreClassic && all(vs, plainable)
	n, err := ld.send(ctx, vs, plain)
	if plain && errors.Is(err, errNotPlain) {
		ld.logger.Debug("a layer cannot be sent uncompressed; sending the layers as stored", "images", names(vs), "error", err)
		n, err = ld.send(ctx, vs, false)
	}
	if err != nil {
		return n, err
	}
	for i, v := range vs {
		ld.progress.Emit(progress.Event{Kind: progress.Done, Image: v.name, Size: n[i], Done: n[i]})
	}
	return n, nil
}

// send streams one archive of vs into the engine and waits for its answer,
// reporting each image's progress: progress.Start with the bytes the
// archive carries for it, progress.Advance as they go, progress.Unpacking
// once the whole archive is written. It returns the blob bytes sent for
// each image. An error from the archive (a blob that does not verify) wins
// over the engine's, which is only its consequence.
func (ld *loader) send(ctx context.Context, vs []*vendored, plain bool) ([]int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sizes := archiveSizes(vs, plain)
	for i, v := range vs {
		ld.progress.Emit(progress.Event{Kind: progress.Start, Image: v.name, Size: sizes[i]})
	}
	var advance func(int, int64)
	if ld.progress != nil {
		advance = func(i int, n int64) {
			ld.progress.Emit(progress.Event{Kind: progress.Advance, Image: vs[i].name, Size: sizes[i], Done: n})
		}
	}
	pr, pw := io.Pipe()
	type result struct {
		n   []int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := writeArchive(ctx, pw, ld.l, vs, plain, advance)
		pw.CloseWithError(err) // nil closes with EOF
		if err == nil {
			for i, v := range vs {
				ld.progress.Emit(progress.Event{Kind: progress.Unpacking, Image: v.name, Size: sizes[i], Done: n[i]})
			}
		}
		done <- result{n, err}
	}()
	name := names(vs)
	ld.logger.Debug("streaming into docker", "images", name, "platforms", platforms(vs), "bytes", sum(sizes), "uncompressed layers", plain)
	resp, err := ld.c.ImageLoad(ctx, pr)
	if err == nil {
		var lines []string
		lines, err = readLoadResponse(resp)
		resp.Close()
		ld.logger.Debug("docker load answered", "images", name, "messages", strings.Join(lines, "; "))
	}
	pr.CloseWithError(errEngineDone)
	w := <-done
	// A closed pipe is the engine's side hanging up (the HTTP client
	// closes the body it can no longer send), not the archive's fault.
	engineSide := errors.Is(w.err, errEngineDone) || errors.Is(w.err, io.ErrClosedPipe)
	switch {
	case w.err != nil && !engineSide:
		return w.n, fmt.Errorf("%w (docker loaded nothing)", w.err)
	case err != nil:
		if gone := ld.gone(ctx, err); gone != nil {
			return w.n, fmt.Errorf("loading %s into docker: %s: %w", name, stoppedAfter(w.err == nil, sum(w.n), sum(sizes)), gone)
		}
		return w.n, fmt.Errorf("loading %s into docker: %w", name, err)
	case w.err != nil:
		return w.n, fmt.Errorf("loading %s into docker: %w before the archive ended", name, w.err)
	}
	return w.n, nil
}

// names names the images vs in messages.
func names(vs []*vendored) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.name
	}
	return strings.Join(s, ", ")
}

// platforms lists the platforms of vs, for logs.
func platforms(vs []*vendored) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.platformString()
	}
	return strings.Join(s, ", ")
}

func sum(ns []int64) int64 {
	var t int64
	for _, n := range ns {
		t += n
	}
	return t
}

func all[T any](xs []T, f func(T) bool) bool {
	for _, x := range xs {
		if !f(x) {
			return false
		}
	}
	return true
}

// goneTimeout bounds the question whether the engine still answers, after
// a load failed: a killed engine refuses the connection at once.
const goneTimeout = 5 * time.Second

// gone asks the engine, after its load failed with err, whether it still
// answers. When it does not (it was stopped or killed mid-load: the
// connection refused, or reset or closed before any answer, as by an
// engine killed while it still accepted it), the error wraps
// errs.ErrNoEngine and err; when it answers, even to refuse, or is merely
// slower than goneTimeout, nil: its own error stands.
func (ld *loader) gone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, goneTimeout)
	defer cancel()
	_, perr := ld.c.Info(pctx)
	var refused *APIError
	if perr == nil || errors.As(perr, &refused) || (pctx.Err() != nil && !isConnectionFailed(perr)) {
		// It answered, if only to refuse; or it is merely slow.
		return nil
	}
	ld.logger.Debug("the engine no longer answers", "load error", err, "ping error", perr)
	return fmt.Errorf("%w: %w", errs.ErrNoEngine, err)
}

// stoppedAfter says how far a load got when the engine stopped answering.
func stoppedAfter(allSent bool, sent, total int64) string {
	if allSent {
		return fmt.Sprintf("the engine stopped answering after the whole archive (%d bytes) was sent, while it unpacked it", sent)
	}
	return fmt.Sprintf("the engine stopped answering after %d of %d bytes", sent, total)
}

// maxLoadResponse bounds how much of the engine's answer to a load is read.
const maxLoadResponse = 16 << 20

// jsonMessage is a line of the engine's JSON progress stream.
type jsonMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// readLoadResponse reads the engine's answer to /images/load: a stream of
// JSON messages, one of which may be an error (the engine answers 200 and
// reports failures in the stream). It returns the messages' text.
func readLoadResponse(r io.Reader) ([]string, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxLoadResponse))
	var lines []string
	for {
		var m jsonMessage
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			return lines, fmt.Errorf("reading docker's answer: %w", err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return lines, fmt.Errorf("docker: %s", m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return lines, fmt.Errorf("docker: %s", m.Error)
		}
		for _, s := range []string{m.Stream, m.Status} {
			if s = strings.TrimSpace(s); s != "" {
				lines = append(lines, s)
			}
		}
	}
}

package syncer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/reference"
	"github.com/vendorimg/vendorimg/registry"
)

// DefaultJobs is how many blobs sync downloads at once unless told.
const DefaultJobs = 4

// Fetcher is what Sync needs of a registry: manifests and blobs by digest.
// *registry.Client implements it.
type Fetcher interface {
	// Manifest returns a manifest's or index's bytes as served, checked
	// against d, and the media type the registry gave them.
	Manifest(ctx context.Context, ref reference.Reference, d digest.Digest) ([]byte, string, error)
	// Blob opens a blob for streaming; the caller hashes what it reads.
	Blob(ctx context.Context, ref reference.Reference, desc ocispec.Descriptor) (io.ReadCloser, error)
}

// Resolver turns a tag into the descriptor of what it points to.
// *registry.Client implements it.
type Resolver interface {
	Resolve(ctx context.Context, ref reference.Reference) (ocispec.Descriptor, error)
}

// Registry is what Add needs of a registry: a Resolver and a Fetcher.
// *registry.Client implements it.
type Registry interface {
	Resolver
	Fetcher
}

var _ Registry = (*registry.Client)(nil)

// Options configure Sync and Add.
type Options struct {
	// Offline forbids the network: anything missing is an error that lists
	// it (errs.ErrOffline). Default false.
	Offline bool
	// Jobs is how many blobs are downloaded at once. Default DefaultJobs.
	Jobs int
	// Client talks to registries. Default: registry.ForConfig with the config's
	// mirrors and insecure hosts, credentials from the docker config, and
	// Logger. It is only created, let alone used, when something is
	// missing.
	Client Registry
	// Insecure adds hosts that may be reached over plain http, as the
	// --insecure-registry flag does, to the default Client.
	Insecure []string
	// ClientOptions are passed to the default Client after vendorimg's
	// own (registry.WithTimeouts, registry.WithRetry, ...). Default none.
	ClientOptions []registry.Option
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
	// Progress, if not nil, receives progress events, and the default
	// Client's notices (a wait a registry asked for, a failing mirror) as
	// progress.Notice events.
	Progress progress.Func
	// NoPrune keeps the blobs that no configured image uses. Default
	// false: after a successful sync they are deleted (Result.Pruned),
	// so that a re-pin, an update or a removal leaves a layout that verify
	// passes and a git diff that holds only the real change.
	NoPrune bool
	// Restarts says how a blob download cut short once it had begun is
	// started again. Default registry.DefaultRestarts.
	Restarts registry.Restarts
	// Repair rehashes every stored blob of the configured images first, as
	// verify does, and fetches again each one whose bytes are wrong
	// (Result.Repaired); the good copy replaces the bad one in one
	// rename. Default false: stored blobs are checked by size (documents and
	// configs, which sync reads anyway, are rehashed).
	Repair bool

	// Referrers looks up the referrers of every image that vendors them
	// (referrers: in vendorimg.yaml) again, to find new ones. Default
	// false: a subject whose referrers the layout records is not asked
	// again, so that a sync of a complete layout makes no request (a new
	// pin is always asked).
	Referrers bool

	// BeforeCommit, if not nil, runs once everything is fetched and
	// verified, before the layout changes; its error aborts the sync with
	// no change. Add, Update and Remove save vendorimg.yaml there.
	BeforeCommit func() error
}

// Result says what Sync did.
type Result struct {
	Layout string        `json:"layout"`
	Images []ImageResult `json:"images"`
	// Adopted are the index.json entries another tool wrote for a pin
	// (see layout.Lookup) that sync renamed to vendorimg's names.
	Adopted []Adopted `json:"adopted"`
	// Removed are index.json entries dropped because vendorimg.yaml no
	// longer lists them.
	Removed []string `json:"removed"`
	// Pruned are the blobs deleted because no configured image uses them
	// any more (none with Options.NoPrune).
	Pruned []layout.Garbage `json:"pruned"`
	// Repaired are the blobs whose wrong bytes were replaced
	// (Options.Repair).
	Repaired []Repaired `json:"repaired"`
	// Fetched and FetchedBytes count the blobs downloaded, each once.
	Fetched      int   `json:"fetched"`
	FetchedBytes int64 `json:"fetchedBytes"`
	// IndexChanged says whether index.json's bytes changed.
	IndexChanged bool `json:"indexChanged"`
	// UpToDate: nothing was fetched and no file changed.
	UpToDate bool `json:"upToDate"`
}

// ImageResult is one image's outcome.
type ImageResult struct {
	Name      string        `json:"name"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType,omitempty"`
	// Platforms are the platforms now stored.
	Platforms []string `json:"platforms"`
	Blobs     int      `json:"blobs"`
	Bytes     int64    `json:"bytes"`
	// Referrers counts the vendored referrers of the pin and of its
	// vendored platforms' manifests (see Options.Referrers).
	Referrers int `json:"referrers"`
	// Fetched and FetchedBytes count the image's blobs downloaded in this
	// run; a blob shared by two images counts for both.
	Fetched      int   `json:"fetched"`
	FetchedBytes int64 `json:"fetchedBytes"`
	// Error is why the image could not be synced ("" on success).
	Error string `json:"error,omitempty"`
	err   error
}

// Err is why the image failed, or nil.
func (r ImageResult) Err() error { return r.err }

// Adopted is an index.json entry another tool wrote for an image's pin,
// which sync renamed.
type Adopted struct {
	// Name is the image's name, the entry's name now.
	Name string `json:"name"`
	// Was is the entry's name before ("" when it had none).
	Was string `json:"was"`
}

// Repaired is a blob that sync --repair fetched again.
type Repaired struct {
	Path   string        `json:"path"`
	Digest digest.Digest `json:"digest"`
	Image  string        `json:"image,omitempty"`
	// Problem is what verify found: "digest" (other bytes) or "size".
	Problem layout.Kind `json:"problem"`
}

// Sync makes the layout match the configuration: for each image it walks
// what is stored once, fetching the missing documents (index, manifests,
// configs) as it meets them, and then fetches the missing layers of every
// image in parallel, each by digest and verified while it streams. New
// blobs are staged in the layout's folder; only when every image is
// complete are they moved into place, index.json rewritten with one entry
// per configured image, and the blobs no configured image uses pruned. On
// a complete layout it makes no network request and writes nothing. The
// layout's exclusive lock is held throughout.
//
// An image that fails does not stop the others' downloads, but then the
// layout is left exactly as it was (a new layout is not even created),
// and the returned error names every failure.
func Sync(ctx context.Context, cfg *config.Config, opts Options) (*Result, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := newSyncer(cfg, opts)
	for attempt := 0; ; attempt++ {
		created, err := mkdirAll(s.layout.Root())
		if err != nil {
			return nil, err
		}
		lock, err := s.layout.Lock(ctx, true, opts.Progress)
		if err != nil {
			return nil, err
		}
		if _, err := os.Lstat(s.layout.Root()); err != nil && attempt == 0 {
			// Another sync created the folder, failed, and removed it while
			// this one waited for its lock: start again.
			lock.Unlock()
			continue
		}
		res, committed, err := s.run(ctx)
		if !committed {
			// A failed first sync leaves no trace, not even its folder; it
			// is removed under the lock.
			removeCreated(created)
		}
		lock.Unlock()
		return res, err
	}
}

// run is Sync under the layout's exclusive lock; committed says whether
// the layout changed.
func (s *syncer) run(ctx context.Context) (_ *Result, committed bool, _ error) {
	cfg, opts, l := s.cfg, s.opts, s.layout
	if n, err := l.RemoveTemporary(ctx); err != nil {
		return nil, committed, err
	} else if n > 0 {
		s.logger.Info("removed temporary files left by an interrupted run", "count", n)
	}
	old, err := s.readOldIndex(ctx)
	if err != nil {
		return nil, committed, err
	}
	if opts.Repair {
		if err := s.findCorrupt(ctx); err != nil {
			return nil, committed, err
		}
	}
	stage := l.NewStage()
	defer stage.Abort()
	s.view = stage.Layout()

	plans := make([]*imagePlan, len(cfg.Images))
	for i, im := range cfg.Images {
		plans[i] = &imagePlan{image: im}
	}
	// Jobs workers take the images in turn, rather than a goroutine per
	// image: a worker's stack grows once for the walk's JSON decoding, not
	// once per image (a no-op sync of 100 images spent a tenth of its CPU
	// growing and copying new goroutines' stacks).
	next := make(chan *imagePlan)
	g, gctx := errgroup.WithContext(ctx)
	for range min(s.opts.Jobs, len(plans)) {
		g.Go(func() error {
			for p := range next {
				s.emit(progress.Event{Kind: progress.Resolve, Image: p.image.Name(), Digest: p.image.Digest})
				p.err = s.resolve(gctx, p)
				if err := gctx.Err(); err != nil {
					return err
				}
			}
			return nil
		})
	}
feed:
	for _, p := range plans {
		select {
		case next <- p:
		case <-gctx.Done():
			break feed
		}
	}
	close(next)
	if err := g.Wait(); err != nil {
		return nil, committed, err
	}
	if err := ctx.Err(); err != nil {
		return nil, committed, err
	}
	fetchErrs := s.fetchBlobs(ctx, plans)
	if ctx.Err() != nil {
		return nil, committed, ctx.Err()
	}

	res := &Result{Layout: l.Root(), Images: []ImageResult{}, Adopted: []Adopted{}, Removed: []string{}, Pruned: []layout.Garbage{}, Repaired: []Repaired{}}
	var entries []ocispec.Descriptor
	var failures []error
	keep := map[digest.Digest]bool{}
	// claimed are the old index.json entries of configured images.
	claimed := map[int]bool{}
	for _, p := range plans {
		r := ImageResult{Name: p.image.Name(), Digest: p.image.Digest, Platforms: []string{}}
		err := p.err
		if err == nil {
			err = errors.Join(fetchErrs[p]...)
		}
		if err != nil {
			r.err = fmt.Errorf("syncing %s: %w", p.image.Name(), err)
			r.Error = r.err.Error()
			failures = append(failures, r.err)
			res.Images = append(res.Images, r)
			continue
		}
		inv := p.inv
		// Every missing blob is now staged: fetchBlobs said no error.
		present := append(slices.Clone(inv.Present), inv.Missing...)
		r.MediaType = inv.Top.MediaType
		for _, pl := range inv.Platforms() {
			r.Platforms = append(r.Platforms, platform.FromOCI(pl).String())
		}
		r.Blobs = len(present)
		for _, b := range present {
			r.Bytes += b.Size
			keep[b.Digest] = true
		}
		refEntries, nrefs, err := s.syncReferrers(ctx, p, old, keep)
		if err != nil {
			r.err = fmt.Errorf("syncing %s: %w", p.image.Name(), err)
			r.Error = r.err.Error()
			failures = append(failures, r.err)
			res.Images = append(res.Images, r)
			continue
		}
		r.Referrers = nrefs
		entries = append(entries, refEntries...)
		r.Fetched, r.FetchedBytes = s.fetchedAmong(present)
		entry := layout.Entry(inv.Top, p.image.Name())
		if p.image.WantsReferrers() {
			entry.Annotations[layout.AnnotationCosignKind] = layout.CosignImageKind
		}
		if m, ok := layout.Lookup(old, p.image.Name(), p.image.Digest); ok && m.Entry.Digest == p.image.Digest {
			// Keep what else the entry says (annotations another tool or the
			// user added); the names and the descriptor are vendorimg's.
			for k, v := range m.Entry.Annotations {
				if k == layout.AnnotationCosignKind && v == layout.CosignImageKind {
					continue // vendorimg's, set above when there are referrers
				}
				if _, own := entry.Annotations[k]; !own {
					entry.Annotations[k] = v
				}
			}
			claimed[m.Index] = true
			if m.Adopted {
				res.Adopted = append(res.Adopted, Adopted{Name: p.image.Name(), Was: m.Was})
			}
		}
		entries = append(entries, entry)
		s.emit(progress.Event{Kind: progress.ImageDone, Image: p.image.Name(), Digest: p.image.Digest})
		res.Images = append(res.Images, r)
	}
	for i, d := range old.Manifests {
		if name := layout.NameOf(d); !claimed[i] && cfg.ByName(name) < 0 {
			res.Removed = append(res.Removed, name)
		}
	}
	res.Fetched, res.FetchedBytes = s.fetchedTotal()
	for _, c := range s.corrupt {
		if s.refetched(c.Digest) {
			res.Repaired = append(res.Repaired, c)
		}
	}
	if len(failures) > 0 {
		// Nothing changes unless every image is complete.
		return res, false, errors.Join(failures...)
	}
	if opts.BeforeCommit != nil {
		if err := opts.BeforeCommit(); err != nil {
			return res, false, err
		}
	}
	committed = true
	if err := l.Init(ctx); err != nil {
		return nil, committed, err
	}
	if err := stage.Commit(ctx); err != nil {
		return nil, committed, err
	}
	changed, err := l.WriteIndex(ctx, entries)
	if err != nil {
		return nil, committed, err
	}
	res.IndexChanged = changed
	if !opts.NoPrune {
		plan, err := l.PlanPrune(ctx, keep)
		if err != nil {
			return res, committed, err
		}
		if err := l.ApplyGC(ctx, plan); err != nil {
			return res, committed, err
		}
		res.Pruned = plan.Remove
	}
	res.UpToDate = !changed && res.Fetched == 0 && len(res.Pruned) == 0
	return res, committed, nil
}

// mkdirAll creates dir and its missing parents with the layout's mode,
// and returns the folders it created, deepest last.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("creating %s: %w", dir, err)
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	slices.Reverse(missing)
	if err := layout.New(dir).MkdirRoot(); err != nil {
		return nil, err
	}
	return missing, nil
}

// removeCreated removes the folders a failed run created, deepest first,
// if they are empty (a run that failed leaves no trace).
func removeCreated(dirs []string) {
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(dirs[i]) // fails, harmlessly, when not empty
	}
}

// syncer holds one Sync run's state.
type syncer struct {
	cfg    *config.Config
	opts   Options
	layout *layout.Layout
	// view is the layout as the run's stage shows it: new blobs are
	// written there.
	view   *layout.Layout
	logger *slog.Logger
	// corrupt are the stored blobs --repair found wrong, by digest.
	corrupt map[digest.Digest]Repaired

	clientOnce sync.Once
	client     Registry

	mu       sync.Mutex
	fetched  map[digest.Digest]int64     // blobs downloaded in this run
	fetching map[digest.Digest]*fetchJob // documents being downloaded
	// referrerDocs are the referrer manifests read to learn what they are.
	referrerDocs map[digest.Digest][]byte
	emitMu       sync.Mutex
}

// fetchJob is one download that several walks may wait for.
type fetchJob struct {
	done chan struct{}
	err  error
}

// validate says what is wrong with o's values.
func (o Options) validate() error {
	if o.Jobs < 0 {
		return fmt.Errorf("%w: jobs %d: must not be negative", errs.ErrInvalidOption, o.Jobs)
	}
	return o.Restarts.Validate()
}

func newSyncer(cfg *config.Config, opts Options) *syncer {
	if opts.Jobs == 0 {
		opts.Jobs = DefaultJobs
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := layout.New(cfg.LayoutDir())
	return &syncer{cfg: cfg, opts: opts, layout: l, view: l, logger: logger,
		fetched: map[digest.Digest]int64{}, fetching: map[digest.Digest]*fetchJob{}, corrupt: map[digest.Digest]Repaired{}, referrerDocs: map[digest.Digest][]byte{}}
}

func (s *syncer) emit(e progress.Event) {
	if s.opts.Progress == nil {
		return
	}
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.opts.Progress(e)
}

// registry returns the client, creating it on first use: a run that needs
// nothing from a registry never builds one, let alone connects.
func (s *syncer) registry() Registry {
	s.clientOnce.Do(func() {
		if s.opts.Client != nil {
			s.client = s.opts.Client
			return
		}
		opts := append([]registry.Option{registry.WithNotice(s.notice)}, s.opts.ClientOptions...)
		s.client = registry.ForConfig(s.cfg, registry.ConfigOptions{Insecure: s.opts.Insecure, Logger: s.logger, Options: opts})
	})
	return s.client
}

// notice passes a notice of the registry client on as a progress event.
func (s *syncer) notice(msg string) {
	s.emit(progress.Event{Kind: progress.Notice, Message: msg})
}

// readOldIndex reads the current index.json. A missing one is empty; a
// malformed or hostile one is an error: sync does not overwrite what it
// cannot read (verify says what is wrong; delete the file to start over).
func (s *syncer) readOldIndex(ctx context.Context) (*ocispec.Index, error) {
	idx, err := s.layout.ReadIndex(ctx)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &ocispec.Index{}, nil
	case err != nil:
		return nil, fmt.Errorf("%w (run vendorimg verify; delete index.json to let sync rewrite it)", err)
	}
	return idx, nil
}

// imagePlan is one image's state during a run.
type imagePlan struct {
	image config.Image
	// inv is what the layout holds once every document is stored; its
	// Missing are the blobs (layers) still to fetch.
	inv *layout.Inventory
	err error
}

// resolve walks the image's graph once, fetching each missing document
// as the walk meets it, so that only plain blobs are left missing. The
// top-level descriptor is recomputed from the stored bytes, not taken
// from index.json: index.json is derived, and a wrong size or media type in
// it is corrected rather than trusted.
func (s *syncer) resolve(ctx context.Context, p *imagePlan) error {
	opts := layout.WalkOptions{Platforms: p.image.Platforms, Jobs: s.opts.Jobs}
	if !s.opts.Offline {
		opts.Fetch = func(ctx context.Context, b layout.Blob) error { return s.fetchDocument(ctx, p.image, b) }
	}
	inv, err := s.view.Inventory(ctx, ocispec.Descriptor{Digest: p.image.Digest}, opts)
	if err != nil {
		return err
	}
	// A layer --repair found wrong is stored with the right size, so the
	// walk counts it present: fetch it again.
	if len(s.corrupt) > 0 {
		var present []layout.Blob
		for _, b := range inv.Present {
			if _, bad := s.corrupt[b.Digest]; bad && !b.IsDocument() && b.Role != layout.RoleConfig {
				inv.Missing = append(inv.Missing, b)
				continue
			}
			present = append(present, b)
		}
		inv.Present = present
	}
	p.inv = inv
	return s.checkOffline(inv.Missing)
}

func (s *syncer) checkOffline(missing []layout.Blob) error {
	if !s.opts.Offline || len(missing) == 0 {
		return nil
	}
	var lines []string
	for _, b := range missing {
		what := string(b.Role)
		if b.Platform != nil {
			what += " for " + platform.FromOCI(*b.Platform).String()
		}
		if b.Size > 0 {
			what += fmt.Sprintf(", %d bytes", b.Size)
		}
		lines = append(lines, fmt.Sprintf("%s (%s)", b.Digest, what))
	}
	what := fmt.Sprintf("%d blobs are", len(missing))
	if len(missing) == 1 {
		what = "1 blob is"
	}
	return fmt.Errorf("%w: %s missing and --offline forbids fetching them: %s", errs.ErrOffline, what, strings.Join(lines, "; "))
}

// fetchDocument fetches a manifest, index or config and stores it, once
// per run even when several images' walks need it at the same time.
func (s *syncer) fetchDocument(ctx context.Context, im config.Image, b layout.Blob) error {
	s.mu.Lock()
	if j, ok := s.fetching[b.Digest]; ok {
		s.mu.Unlock()
		select {
		case <-j.done:
			return j.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	j := &fetchJob{done: make(chan struct{})}
	s.fetching[b.Digest] = j
	s.mu.Unlock()
	if b.Role == layout.RoleConfig {
		j.err = s.fetchBlob(ctx, im, b)
	} else {
		j.err = s.fetchManifest(ctx, im, b)
	}
	close(j.done)
	if j.err != nil {
		// Let another walk try again rather than sharing a passing failure.
		s.mu.Lock()
		delete(s.fetching, b.Digest)
		s.mu.Unlock()
	}
	return j.err
}

func (s *syncer) fetchManifest(ctx context.Context, im config.Image, b layout.Blob) error {
	start := time.Now()
	raw, mt, err := s.registry().Manifest(ctx, im.Pinned(), b.Digest)
	if err != nil {
		return err
	}
	n, err := manifest.Parse(mt, raw)
	if err != nil {
		return fmt.Errorf("fetching %s %s: %w", b.Role, b.Digest, err)
	}
	desc := ocispec.Descriptor{MediaType: n.MediaType, Digest: b.Digest, Size: int64(len(raw))}
	if b.Size > 0 && b.Size != desc.Size {
		return fmt.Errorf("fetching %s %s: %w: the parent says %d bytes, the registry served %d", b.Role, b.Digest, errs.ErrSizeMismatch, b.Size, desc.Size)
	}
	if b.MediaType != "" && b.MediaType != desc.MediaType {
		return fmt.Errorf("fetching %s %s: %w: the parent says %s, the document is %s", b.Role, b.Digest, errs.ErrUnsupportedMediaType, b.MediaType, desc.MediaType)
	}
	if err := s.view.WriteBlobBytes(ctx, desc, raw); err != nil {
		return err
	}
	s.record(desc.Digest, desc.Size)
	s.emit(progress.Event{Kind: progress.Done, Image: im.Name(), Digest: desc.Digest, Role: string(b.Role), Size: desc.Size, Done: desc.Size})
	s.logger.Debug("fetched document", "image", im.Name(), "digest", desc.Digest, "role", b.Role, "bytes", desc.Size, "elapsed", time.Since(start))
	return s.fetchConfigOf(ctx, im, b, n)
}

// fetchConfigOf fetches the config of n, a manifest just fetched, when it
// is not stored: the walk would ask for it next, one manifest after the
// other, while here the manifests of an index, fetched together, fetch
// their configs together too. (The walk then finds it stored; it still
// reads and checks it.)
func (s *syncer) fetchConfigOf(ctx context.Context, im config.Image, b layout.Blob, n *manifest.Node) error {
	if n.IsIndex() || !manifest.IsImageConfig(n.Config.MediaType) {
		return nil
	}
	if ok, err := s.view.HasBlob(ctx, n.Config); ok || err != nil {
		// A bad digest or an unreadable file the walk meets again, and
		// reports, when it stats the config.
		return nil
	}
	return s.fetchDocument(ctx, im, layout.Blob{Descriptor: n.Config, Role: layout.RoleConfig, Platform: b.Platform})
}

func (s *syncer) record(d digest.Digest, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetched[d] = size
}

// fetchedAmong counts the blobs of present fetched in this run.
func (s *syncer) fetchedAmong(present []layout.Blob) (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, bytes := 0, int64(0)
	for _, b := range present {
		if size, ok := s.fetched[b.Digest]; ok {
			n++
			bytes += size
		}
	}
	return n, bytes
}

// fetchedTotal counts every blob fetched in this run, each once.
func (s *syncer) fetchedTotal() (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var bytes int64
	for _, size := range s.fetched {
		bytes += size
	}
	return len(s.fetched), bytes
}

// fetchBlobs downloads the missing blobs of every image in parallel, each
// digest once even if several images share it. It returns the errors per
// image.
func (s *syncer) fetchBlobs(ctx context.Context, plans []*imagePlan) map[*imagePlan][]error {
	type job struct {
		blob  layout.Blob
		image config.Image
		users []*imagePlan
	}
	var jobs []*job
	byDigest := map[digest.Digest]*job{}
	var total int64
	for _, p := range plans {
		if p.err != nil {
			continue
		}
		for _, b := range p.inv.Missing {
			if j, ok := byDigest[b.Digest]; ok {
				j.users = append(j.users, p)
				continue
			}
			j := &job{blob: b, image: p.image, users: []*imagePlan{p}}
			byDigest[b.Digest] = j
			jobs = append(jobs, j)
			total += b.Size
		}
	}
	out := map[*imagePlan][]error{}
	if len(jobs) == 0 {
		return out
	}
	s.emit(progress.Event{Kind: progress.Plan, Blobs: len(jobs), Size: total})
	var mu sync.Mutex
	g := new(errgroup.Group)
	g.SetLimit(s.opts.Jobs)
	for _, j := range jobs {
		g.Go(func() error {
			if err := s.fetchBlob(ctx, j.image, j.blob); err != nil {
				mu.Lock()
				for _, p := range j.users {
					out[p] = append(out[p], err)
				}
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// fetchBlob streams one blob from the registry into the layout, starting
// again when the stream is cut, reset or stalls once it has begun. What
// fails before the stream (a refused connection, a 404, headers that never
// come) the client has already retried as far as its policy allows.
func (s *syncer) fetchBlob(ctx context.Context, im config.Image, b layout.Blob) error {
	ev := progress.Event{Image: im.Name(), Digest: b.Digest, Role: string(b.Role), Size: b.Size}
	s.emit(with(ev, progress.Start))
	// Only a stream that had begun is restarted: what fails before it the
	// client has already retried as far as its RetryPolicy allows.
	var streaming bool
	err := s.opts.Restarts.Do(ctx, func() (err error) {
		streaming, err = s.fetchBlobOnce(ctx, im, b)
		return err
	}, func(err error) bool { return streaming && registry.Restartable(err) }, func(next int, err error) {
		retry := with(ev, progress.Retry)
		retry.Err = err
		s.emit(retry)
		s.logger.Debug("blob download failed, starting again", "digest", b.Digest, "attempt", next, "error", err)
	})
	if err != nil {
		return err
	}
	s.record(b.Digest, b.Size)
	done := with(ev, progress.Done)
	done.Done = b.Size
	s.emit(done)
	return nil
}

func with(e progress.Event, k progress.Kind) progress.Event {
	e.Kind = k
	return e
}

// fetchBlobOnce makes one download of b; streaming says whether the error,
// if any, came once the body had begun.
func (s *syncer) fetchBlobOnce(ctx context.Context, im config.Image, b layout.Blob) (streaming bool, _ error) {
	rc, err := s.registry().Blob(ctx, im.Pinned(), b.Descriptor)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	ev := progress.Event{Kind: progress.Advance, Image: im.Name(), Digest: b.Digest, Role: string(b.Role), Size: b.Size}
	return true, s.view.WriteBlob(ctx, b.Descriptor, rc, func(n int64) {
		ev.Done = n
		s.emit(ev)
	})
}

// findCorrupt rehashes every stored blob of the configured images, as
// verify does, and records those whose bytes or size are wrong, for the
// run to fetch again.
func (s *syncer) findCorrupt(ctx context.Context) error {
	rep, err := s.layout.Verify(ctx, layout.VerifyOptions{Images: layout.Expectations(s.cfg.Images), Jobs: s.opts.Jobs, Locked: true})
	if err != nil {
		return fmt.Errorf("rehashing %s: %w", s.layout.Root(), err)
	}
	for _, f := range rep.Findings {
		if f.Kind != layout.KindDigest && f.Kind != layout.KindSize {
			continue
		}
		d, ok := layout.BlobDigest(f.Path)
		if !ok {
			continue
		}
		s.corrupt[d] = Repaired{Path: f.Path, Digest: d, Image: f.Image, Problem: f.Kind}
		s.logger.Debug("stored blob is corrupt, fetching it again", "path", f.Path, "problem", f.Kind)
	}
	return nil
}

// refetched reports whether d was fetched in this run.
func (s *syncer) refetched(d digest.Digest) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.fetched[d]
	return ok
}

package vendorimg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
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
	"github.com/vendorimg/vendorimg/oci"
	"github.com/vendorimg/vendorimg/platform"
)

// DefaultJobs is how many blobs sync downloads at once unless told.
const DefaultJobs = 4

// blobAttempts is how many times a blob download is started before its
// error is final, when the failure is a cut connection or a short body
// (the HTTP client already retries 429 and 5xx responses).
const blobAttempts = 4

// SyncOptions configure Sync and Add.
type SyncOptions struct {
	// Offline forbids the network: anything missing is an error that lists
	// it (errs.ErrOffline). Default false.
	Offline bool
	// Jobs is how many blobs are downloaded at once. Default DefaultJobs.
	Jobs int
	// Client talks to registries. Default: oci.NewClient with the
	// config's mirrors and insecure hosts, credentials from the docker
	// config, and Logger. It is only used when something is missing.
	Client *oci.Client
	// Insecure adds hosts that may be reached over plain http, as the
	// --insecure-registry flag does, to the default Client.
	Insecure []string
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
	// Progress, if not nil, receives progress events.
	Progress func(Event)
}

// SyncResult says what Sync did.
type SyncResult struct {
	Layout string        `json:"layout"`
	Images []ImageResult `json:"images"`
	// Removed are index.json entries dropped because vendorimg.yaml no
	// longer lists them (their blobs stay until gc).
	Removed []string `json:"removed"`
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

// Sync makes the layout match the configuration: for each image it reads
// what is stored, fetches only what is missing (by digest, verified while
// it streams, in parallel), and then rewrites index.json with one entry per
// configured image, dropping the others. On a complete layout it makes no
// network request at all. The layout's exclusive lock is held throughout.
//
// An image that fails does not stop the others' downloads, but index.json
// is rewritten only when every image is complete: a failed sync leaves it
// as it was, and the returned error names every failure.
func Sync(ctx context.Context, cfg *config.Config, opts SyncOptions) (*SyncResult, error) {
	return syncImages(ctx, cfg, opts)
}

func syncImages(ctx context.Context, cfg *config.Config, opts SyncOptions) (*SyncResult, error) {
	s := newSyncer(cfg, opts)
	l := s.layout
	if err := l.MkdirRoot(); err != nil {
		return nil, err
	}
	lock, err := l.Lock(ctx, true, func() { s.emit(Event{Kind: EventWaiting}) })
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	if err := l.Init(); err != nil {
		return nil, err
	}
	if n, err := l.RemoveTemporary(); err != nil {
		return nil, err
	} else if n > 0 {
		s.logger.Info("removed temporary files left by an interrupted run", "count", n)
	}
	old, err := s.readOldIndex()
	if err != nil {
		return nil, err
	}

	res := &SyncResult{Layout: l.Root(), Images: []ImageResult{}, Removed: []string{}}
	plans := make([]*imagePlan, len(cfg.Images))
	for i, im := range cfg.Images {
		// The top-level descriptor is recomputed from the stored bytes, not
		// taken from index.json: index.json is derived, and a wrong size or
		// media type in it is corrected rather than trusted.
		plans[i] = &imagePlan{image: im, top: ocispec.Descriptor{Digest: im.Digest}}
		s.emit(Event{Kind: EventResolve, Image: im.Name(), Digest: im.Digest})
		plans[i].err = s.resolve(ctx, plans[i])
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	fetchErrs := s.fetchBlobs(ctx, plans)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	var entries []ocispec.Descriptor
	var failures []error
	for _, p := range plans {
		r := ImageResult{Name: p.image.Name(), Digest: p.image.Digest, Platforms: []string{}}
		err := p.err
		if err == nil {
			err = errors.Join(fetchErrs[p]...)
		}
		var inv *layout.Inventory
		if err == nil {
			inv, err = l.Inventory(ctx, p.top, p.image.Platforms)
			if err == nil && !inv.Complete() {
				err = fmt.Errorf("%w: %s still misses %d blobs after fetching", errs.ErrInvalidLayout, p.image.Name(), len(inv.Missing))
			}
		}
		if err != nil {
			r.err = fmt.Errorf("syncing %s: %w", p.image.Name(), err)
			r.Error = r.err.Error()
			failures = append(failures, r.err)
			res.Images = append(res.Images, r)
			continue
		}
		r.MediaType = inv.Top.MediaType
		for _, pl := range inv.Platforms() {
			r.Platforms = append(r.Platforms, platform.FromOCI(pl).String())
		}
		r.Blobs, r.Bytes = len(inv.Present), inv.Bytes()
		r.Fetched, r.FetchedBytes = s.fetchedAmong(inv.Present)
		entries = append(entries, layout.Entry(inv.Top, p.image.Name()))
		s.emit(Event{Kind: EventImageDone, Image: p.image.Name(), Digest: p.image.Digest})
		res.Images = append(res.Images, r)
	}
	for _, d := range old.Manifests {
		if name := layout.NameOf(d); !slices.ContainsFunc(cfg.Images, func(im config.Image) bool { return im.Name() == name }) {
			res.Removed = append(res.Removed, name)
		}
	}
	s.emitMu.Lock()
	for _, size := range s.fetched {
		res.Fetched++
		res.FetchedBytes += size
	}
	s.emitMu.Unlock()
	if len(failures) > 0 {
		// index.json changes only when every image is complete: a failed
		// sync leaves it as it was (the blobs it fetched stay for the next run).
		return res, errors.Join(failures...)
	}
	changed, err := l.WriteIndex(entries)
	if err != nil {
		return nil, err
	}
	res.IndexChanged = changed
	res.UpToDate = !changed && res.Fetched == 0
	return res, nil
}

// syncer holds one Sync run's state.
type syncer struct {
	cfg    *config.Config
	opts   SyncOptions
	layout *layout.Layout
	logger *slog.Logger

	clientOnce sync.Once
	client     *oci.Client

	emitMu  sync.Mutex
	fetched map[digest.Digest]int64 // blobs downloaded in this run
}

func newSyncer(cfg *config.Config, opts SyncOptions) *syncer {
	if opts.Jobs <= 0 {
		opts.Jobs = DefaultJobs
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &syncer{cfg: cfg, opts: opts, layout: layout.New(cfg.LayoutDir()), logger: logger, fetched: map[digest.Digest]int64{}}
}

func (s *syncer) emit(e Event) {
	if s.opts.Progress == nil {
		return
	}
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.opts.Progress(e)
}

// registry returns the client, creating it on first use: a run that needs
// nothing from a registry never builds one, let alone connects.
func (s *syncer) registry() *oci.Client {
	s.clientOnce.Do(func() {
		if s.opts.Client != nil {
			s.client = s.opts.Client
			return
		}
		s.client = NewClient(s.cfg, s.opts.Insecure, s.logger)
	})
	return s.client
}

// NewClient returns the registry client vendorimg uses for cfg: its
// mirrors, its insecure hosts plus extra ones, credentials from the docker
// config, requests logged at debug level to logger (nil: discard).
func NewClient(cfg *config.Config, insecure []string, logger *slog.Logger) *oci.Client {
	opts := []oci.Option{
		oci.WithMirrors(cfg.Mirrors),
		oci.WithInsecure(append(slices.Clone(cfg.Insecure), insecure...)...),
		oci.WithUserAgent("vendorimg/" + Version()),
	}
	if logger != nil {
		opts = append(opts, oci.WithLogger(logger))
	}
	return oci.NewClient(opts...)
}

// readOldIndex reads the current index.json. A missing one is empty; a
// malformed or hostile one is an error: sync does not overwrite what it
// cannot read (verify says what is wrong; delete the file to start over).
func (s *syncer) readOldIndex() (*ocispec.Index, error) {
	idx, err := s.layout.ReadIndex()
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
	top   ocispec.Descriptor
	// blobs are the layers (and other non-document blobs) still missing
	// once every document is stored.
	blobs []layout.Blob
	err   error
}

// maxRounds bounds the document-fetching loop: an index, a nested index,
// a manifest, a config.
const maxRounds = 6

// resolve stores the image's documents (index, manifests, configs),
// fetching the missing ones, until only plain blobs are missing.
func (s *syncer) resolve(ctx context.Context, p *imagePlan) error {
	for round := 0; ; round++ {
		inv, err := s.layout.Inventory(ctx, p.top, p.image.Platforms)
		if err != nil {
			return err
		}
		if inv.Top.Size > 0 {
			p.top = inv.Top
		}
		var docs []layout.Blob
		p.blobs = p.blobs[:0]
		for _, b := range inv.Missing {
			if b.IsDocument() || b.Role == layout.RoleConfig {
				docs = append(docs, b)
			} else {
				p.blobs = append(p.blobs, b)
			}
		}
		if len(docs) == 0 {
			return s.checkOffline(p, inv.Missing)
		}
		if err := s.checkOffline(p, inv.Missing); err != nil {
			return err
		}
		if round >= maxRounds {
			return fmt.Errorf("%w: the graph is nested more than %d levels", errs.ErrUnsupportedMediaType, maxRounds)
		}
		for _, b := range docs {
			if err := s.fetchDocument(ctx, p, b); err != nil {
				return err
			}
		}
	}
}

func (s *syncer) checkOffline(p *imagePlan, missing []layout.Blob) error {
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
	return fmt.Errorf("%w: %d blobs missing and --offline forbids fetching them: %s", errs.ErrOffline, len(missing), strings.Join(lines, "; "))
}

// fetchDocument fetches a manifest, index or config and stores it.
func (s *syncer) fetchDocument(ctx context.Context, p *imagePlan, b layout.Blob) error {
	ref := p.image.Pinned()
	if b.Role == layout.RoleConfig {
		return s.fetchBlob(ctx, p.image, b)
	}
	start := time.Now()
	raw, mt, err := s.registry().Manifest(ctx, ref, b.Digest)
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
	if err := s.layout.WriteBlobBytes(ctx, desc, raw); err != nil {
		return err
	}
	s.record(desc.Digest, desc.Size)
	s.emit(Event{Kind: EventFetchDone, Image: p.image.Name(), Digest: desc.Digest, Role: b.Role, Size: desc.Size, Done: desc.Size})
	s.logger.Debug("fetched document", "image", p.image.Name(), "digest", desc.Digest, "role", b.Role, "bytes", desc.Size, "elapsed", time.Since(start))
	return nil
}

func (s *syncer) record(d digest.Digest, size int64) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.fetched[d] = size
}

// fetchedAmong counts the blobs of present fetched in this run.
func (s *syncer) fetchedAmong(present []layout.Blob) (int, int64) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	n, bytes := 0, int64(0)
	for _, b := range present {
		if size, ok := s.fetched[b.Digest]; ok {
			n++
			bytes += size
		}
	}
	return n, bytes
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
		for _, b := range p.blobs {
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
	s.emit(Event{Kind: EventPlan, Blobs: len(jobs), Size: total})
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
// again when the connection is cut or the body comes short.
func (s *syncer) fetchBlob(ctx context.Context, im config.Image, b layout.Blob) error {
	s.emit(Event{Kind: EventFetchStart, Image: im.Name(), Digest: b.Digest, Role: b.Role, Size: b.Size})
	var err error
	for attempt := 1; attempt <= blobAttempts; attempt++ {
		err = s.fetchBlobOnce(ctx, im, b)
		if err == nil {
			s.record(b.Digest, b.Size)
			s.emit(Event{Kind: EventFetchDone, Image: im.Name(), Digest: b.Digest, Role: b.Role, Size: b.Size, Done: b.Size})
			return nil
		}
		if ctx.Err() != nil || !retryableBlobError(err) || attempt == blobAttempts {
			break
		}
		s.emit(Event{Kind: EventRetry, Image: im.Name(), Digest: b.Digest, Role: b.Role, Size: b.Size, Err: err})
		s.logger.Debug("blob download failed, starting again", "digest", b.Digest, "attempt", attempt+1, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
	return err
}

func (s *syncer) fetchBlobOnce(ctx context.Context, im config.Image, b layout.Blob) error {
	rc, err := s.registry().Blob(ctx, im.Pinned(), b.Descriptor)
	if err != nil {
		return err
	}
	defer rc.Close()
	return s.layout.WriteBlob(ctx, b.Descriptor, rc, func(n int64) {
		s.emit(Event{Kind: EventFetchProgress, Image: im.Name(), Digest: b.Digest, Role: b.Role, Size: b.Size, Done: n})
	})
}

// retryableBlobError: the stream was cut (a reset, an early EOF, a short
// body), which a new request may not meet. A wrong digest is final.
func retryableBlobError(err error) bool {
	return !errors.Is(err, errs.ErrDigestMismatch) && oci.Transient(err)
}

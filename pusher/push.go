package pusher

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"

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

// Pusher is what Push needs of a registry. *registry.Client implements it.
type Pusher interface {
	HasBlob(ctx context.Context, ref reference.Reference, d digest.Digest) (bool, error)
	MountBlob(ctx context.Context, ref reference.Reference, d digest.Digest, from string) (bool, error)
	PushBlob(ctx context.Context, ref reference.Reference, desc ocispec.Descriptor, r io.Reader) error
	HasManifest(ctx context.Context, ref reference.Reference, target string) (digest.Digest, error)
	PushManifest(ctx context.Context, ref reference.Reference, target, mediaType string, raw []byte) error
}

var _ Pusher = (*registry.Client)(nil)

// DefaultJobs is how many blobs Push uploads at once unless told.
const DefaultJobs = 4

// Options configure Push.
type Options struct {
	// Target is the registry and optional repository prefix to push to,
	// REGISTRY[/PREFIX] ("registry.internal:5000/team"). Required.
	Target string
	// Images are the configured images to push, each in any form that
	// normalises to one ("alpine:3.19.1"). Default: all.
	Images []string
	// DryRun asks the registry what it has (HEAD requests only) and
	// reports what a push would send, sending nothing.
	DryRun bool
	// Jobs is how many blobs are uploaded at once. Default DefaultJobs.
	Jobs int
	// Client talks to the registry. Default: registry.ForConfig with the config's
	// insecure hosts plus Insecure, credentials from the docker config.
	Client Pusher
	// Insecure adds hosts that may be reached over plain http.
	Insecure []string
	// NoUpstream forbids completing a sparse index from upstream: only
	// what the layout holds is pushed, and a registry that checks an
	// index's children refuses the index (errs.ErrSparseIndex). Default
	// false: the platforms an index lists that were not vendored are
	// fetched from the image's registry (or its mirror) and sent to the
	// target, registry to registry.
	NoUpstream bool
	// Upstream fetches, by digest, what a sparse index lacks. Default: the
	// default Client (registry.ForConfig, with the config's mirrors), also
	// when Client was given.
	Upstream Fetcher
	// ClientOptions are passed to the default Client after vendorimg's
	// own (registry.WithTimeouts, registry.WithRetry, ...). Default none.
	ClientOptions []registry.Option
	// Restarts says how an upload cut short is started again. Default
	// registry.DefaultRestarts.
	Restarts registry.Restarts
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
	// Progress, if not nil, receives progress events: Plan, then Start,
	// Advance and Done per uploaded blob, ImageDone per image; and the
	// default Client's notices (a wait a registry asked for, a failing
	// mirror) as progress.Notice events; a Notice when a sparse index is
	// completed from upstream, or cannot be.
	Progress progress.Func
}

// Push actions, in Result's blobs and manifests.
const (
	PushUploaded = "uploaded"
	PushMounted  = "mounted"
	PushExists   = "exists"
	PushPushed   = "pushed"
	PushRefused  = "refused"
	// With DryRun:
	PushWouldUpload = "would-upload"
	PushWouldMount  = "would-mount"
	PushWouldPush   = "would-push"
)

// Result says what Push did.
type Result struct {
	// Target is the registry and prefix pushed to, as given.
	Target string        `json:"target"`
	DryRun bool          `json:"dryRun"`
	Images []PushedImage `json:"images"`
	// Uploaded, Mounted and Skipped count blobs (each digest once per
	// repository): sent, mounted from another repository of the registry,
	// already there.
	Uploaded      int   `json:"uploaded"`
	UploadedBytes int64 `json:"uploadedBytes"`
	Mounted       int   `json:"mounted"`
	Skipped       int   `json:"skipped"`
	// Manifests counts the manifests and indexes stored (sent).
	Manifests int `json:"manifests"`
	// FromUpstream and FromUpstreamBytes count the blobs uploaded that
	// were streamed from upstream (a sparse index completed), not read
	// from the layout; they are part of Uploaded and UploadedBytes.
	FromUpstream      int   `json:"fromUpstream"`
	FromUpstreamBytes int64 `json:"fromUpstreamBytes"`
}

// PushedImage is one image's outcome.
type PushedImage struct {
	// Name is the image's name in the layout.
	Name string `json:"name"`
	// Target is where it went: the registry's reference, with its tag.
	Target    string        `json:"target"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	// Platforms are the vendored platforms pushed.
	Platforms []string `json:"platforms"`
	// Missing are the platforms its index lists that were not vendored
	// (a sparse index); unless they were completed from upstream (see
	// Sources), their manifests are not pushed.
	Missing []string `json:"missing"`
	// Sources say, per image manifest of the index, where it came from:
	// the layout, upstream, or nowhere because the target has it.
	Sources []PushedSource `json:"sources"`
	// Upstream is the repository the missing platforms were fetched from
	// by digest (its registry's configured mirror is asked first), when
	// they were.
	Upstream string `json:"upstream,omitempty"`
	// UpstreamError is why a sparse index was not completed from
	// upstream, when it was not.
	UpstreamError string           `json:"upstreamError,omitempty"`
	Manifests     []PushedManifest `json:"manifests"`
	Blobs         []PushedBlob     `json:"blobs"`
	// Tagged: the target's tag names the pin (now, or already).
	Tagged bool `json:"tagged"`
	// Referrers counts the vendored referrers (signatures, attestations,
	// SBOMs) now in the registry with the image.
	Referrers int `json:"referrers"`
	// Error is why the image is not (wholly) in the registry.
	Error string `json:"error,omitempty"`
	err   error
}

// Err is why the image failed, or nil.
func (p PushedImage) Err() error { return p.err }

// PushedManifest is a manifest or index of an image, children first.
type PushedManifest struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Platform  string        `json:"platform,omitempty"`
	// Ref is what it was pushed as: the tag for the top, else its digest.
	Ref    string `json:"ref"`
	Action string `json:"action"`
	// Source is where its bytes came from: SourceLayout or SourceUpstream.
	Source string `json:"source"`
}

// PushedBlob is a config, layer or other blob of an image.
type PushedBlob struct {
	Digest digest.Digest `json:"digest"`
	Role   layout.Role   `json:"role"`
	Size   int64         `json:"size"`
	Action string        `json:"action"`
	// From is the repository it was mounted from.
	From string `json:"from,omitempty"`
	// Source is where its bytes come from when uploaded: SourceLayout or
	// SourceUpstream.
	Source string `json:"source"`
}

// Push copies the configured images from the layout into the registry
// opts.Target ("registry.internal:5000" or "registry.internal:5000/team"), byte
// for byte: every blob and manifest keeps its digest, and each image's pin
// is tagged with its tag under PREFIX/REPOSITORY (alpine's docker.io
// library/alpine:3.19.1 becomes registry.internal:5000/team/library/alpine:3.19.1),
// so that without a prefix the registry serves as a mirror of the images'
// registry (mirrors: in vendorimg.yaml). Blobs the registry has are
// skipped (HEAD); a blob another pushed repository has is mounted; the
// rest are uploaded in parallel, each rehashed as it is read. Manifests go
// children first: each vendored platform's manifest by digest, then the
// top by tag.
//
// An index whose platforms were not all vendored (a sparse index) is
// completed from upstream (see upstream.go): the manifests, configs and
// layers the layout lacks are fetched by digest from the image's registry
// or its mirror, verified while they stream, and sent straight to the
// target, so that the target holds the whole image under the pin; nothing
// of them is written to the layout. With NoUpstream, or when upstream
// cannot be reached, only the vendored platforms are pushed; a registry
// that checks an index's children (the distribution registry does) then
// refuses the index: the vendored platforms' manifests are in the registry
// by digest, the tag is not set, and the image's error wraps
// errs.ErrSparseIndex and says how to complete it. The layout's shared
// lock is held throughout; it is never written.
func Push(ctx context.Context, cfg *config.Config, opts Options) (*Result, error) {
	target := opts.Target
	if err := opts.validate(); err != nil {
		return nil, err
	}
	host, prefix, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	if opts.Jobs == 0 {
		opts.Jobs = DefaultJobs
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	images, err := cfg.Select(opts.Images)
	if err != nil {
		return nil, err
	}
	l := layout.New(cfg.LayoutDir())
	if !l.Exists() {
		return nil, fmt.Errorf("pushing from %s: %w: no OCI layout there (run vendorimg sync)", l.Root(), errs.ErrInvalidLayout)
	}
	lock, err := l.Lock(ctx, false, opts.Progress)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	if err := l.CheckSynced(ctx, cfg.Images); err != nil {
		return nil, fmt.Errorf("pushing from %w", err)
	}
	p := &pusher{l: l, client: opts.Client, upstream: opts.Upstream, opts: opts, logger: logger, res: &Result{Target: target, DryRun: opts.DryRun, Images: []PushedImage{}}}
	if p.client == nil || p.upstream == nil {
		def := registry.ForConfig(cfg, registry.ConfigOptions{
			Insecure: opts.Insecure,
			Logger:   logger,
			Options:  append([]registry.Option{registry.WithNotice(p.notice)}, opts.ClientOptions...),
		})
		if p.client == nil {
			p.client = def
		}
		if p.upstream == nil {
			p.upstream = def
		}
	}
	plans := make([]*pushPlan, 0, len(images))
	seen := map[string]string{}
	for _, im := range images {
		dest := reference.Reference{Registry: host, Repository: im.Ref.Repository, Tag: im.Ref.Tag}
		if prefix != "" {
			dest.Repository = prefix + "/" + im.Ref.Repository
		}
		if _, err := reference.Parse(dest.String()); err != nil {
			return nil, fmt.Errorf("pushing %s to %s: %w", im.Name(), target, err)
		}
		if other, ok := seen[config.NameOf(dest)]; ok {
			return nil, fmt.Errorf("pushing to %s: %w: %s and %s would both be %s (push them with different prefixes)", target, errs.ErrConfig, other, im.Name(), config.NameOf(dest))
		}
		seen[config.NameOf(dest)] = im.Name()
		plan, err := p.plan(ctx, im, dest)
		if err != nil {
			return nil, err
		}
		plans = append(plans, plan)
	}
	p.pushBlobs(ctx, plans)
	if ctx.Err() != nil {
		return p.res, ctx.Err()
	}
	var failures []error
	for _, plan := range plans {
		if plan.err == nil {
			plan.err = p.pushManifests(ctx, plan)
		}
		if plan.err == nil || errors.Is(plan.err, errs.ErrSparseIndex) {
			// A sparse index's platforms are there by digest: their
			// signatures are worth having too.
			n, err := p.pushReferrers(ctx, plan)
			plan.out.Referrers = n
			plan.err = errors.Join(plan.err, err)
		}
		out := plan.out
		out.Blobs = plan.blobResults()
		p.countSources(plan, out)
		if plan.err != nil {
			out.err = fmt.Errorf("pushing %s to %s: %w", plan.image.Name(), out.Target, plan.err)
			out.Error = out.err.Error()
			failures = append(failures, out.err)
		}
		p.res.Images = append(p.res.Images, *out)
		p.emit(progress.Event{Kind: progress.ImageDone, Image: plan.image.Name(), Digest: plan.image.Digest})
	}
	return p.res, errors.Join(failures...)
}

// validate says what is wrong with o's values.
func (o Options) validate() error {
	if o.Jobs < 0 {
		return fmt.Errorf("%w: jobs %d: must not be negative", errs.ErrInvalidOption, o.Jobs)
	}
	return o.Restarts.Validate()
}

// parseTarget splits REGISTRY[/PREFIX].
func parseTarget(target string) (host, prefix string, err error) {
	target = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(target, "https://"), "http://"), "/")
	host, prefix, _ = strings.Cut(target, "/")
	if host, err = reference.ParseHost(host); err != nil {
		return "", "", fmt.Errorf("push target %q: %w", target, err)
	}
	if prefix != "" {
		if _, err := reference.Parse(host + "/" + prefix + "/x"); err != nil {
			return "", "", fmt.Errorf("%w: push target %q: the prefix %q is not a repository path", errs.ErrInvalidReference, target, prefix)
		}
	}
	return host, prefix, nil
}

type pusher struct {
	l        *layout.Layout
	client   Pusher
	upstream Fetcher
	opts     Options
	logger   *slog.Logger
	emitMu   sync.Mutex

	mu  sync.Mutex
	res *Result
}

// notice passes a notice of the registry client on as a progress event.
func (p *pusher) notice(msg string) {
	p.emit(progress.Event{Kind: progress.Notice, Message: msg})
}

func (p *pusher) emit(e progress.Event) {
	if p.opts.Progress == nil {
		return
	}
	p.emitMu.Lock()
	defer p.emitMu.Unlock()
	p.opts.Progress(e)
}

// pushPlan is one image's work.
type pushPlan struct {
	image config.Image
	dest  reference.Reference
	out   *PushedImage
	// docs are the stored documents, children before parents.
	docs []pushDoc
	// blobs are the configs and layers, in graph order, each once.
	blobs []layout.Blob

	// absent are the descriptors the image's indexes list that the
	// layout does not hold (a sparse index).
	absent []absentChild
	// fromUpstream are the blobs to stream from upstream, not the layout.
	fromUpstream map[digest.Digest]bool
	// completed: the absent platforms are in docs and blobs, from upstream.
	completed   bool
	upstreamErr error

	mu      sync.Mutex
	actions map[digest.Digest]PushedBlob
	err     error
}

type pushDoc struct {
	desc     ocispec.Descriptor
	platform string
	top      bool
	// raw holds a document fetched from upstream; nil: read the layout.
	raw []byte
}

func (pl *pushPlan) record(b PushedBlob) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.actions[b.Digest] = b
}

func (pl *pushPlan) fail(err error) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.err = errors.Join(pl.err, err)
}

func (pl *pushPlan) blobResults() []PushedBlob {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	out := []PushedBlob{}
	for _, b := range pl.blobs {
		if a, ok := pl.actions[b.Digest]; ok {
			out = append(out, a)
		}
	}
	return out
}

// plan reads the image's graph from the layout: it must be complete for
// its platforms, and an index that lists platforms not vendored is noted.
func (p *pusher) plan(ctx context.Context, im config.Image, dest reference.Reference) (*pushPlan, error) {
	inv, err := p.l.Inventory(ctx, ocispec.Descriptor{Digest: im.Digest}, layout.WalkOptions{Platforms: im.Platforms})
	if err != nil {
		return nil, fmt.Errorf("pushing %s: %w", im.Name(), err)
	}
	if !inv.Complete() {
		return nil, fmt.Errorf("pushing %s: %w: %d blobs are missing (run vendorimg sync)", im.Name(), errs.ErrInvalidLayout, len(inv.Missing))
	}
	pl := &pushPlan{image: im, dest: dest, actions: map[digest.Digest]PushedBlob{}, fromUpstream: map[digest.Digest]bool{}}
	pl.out = &PushedImage{Name: im.Name(), Target: config.NameOf(dest), Digest: im.Digest, MediaType: inv.Top.MediaType, Platforms: []string{}, Missing: []string{}, Sources: []PushedSource{}, Manifests: []PushedManifest{}}
	platformOf := map[digest.Digest]string{}
	for _, img := range inv.Images {
		ps := platform.FromOCI(img.Platform).String()
		platformOf[img.Manifest.Digest] = ps
		pl.out.Platforms = append(pl.out.Platforms, ps)
	}
	present := map[digest.Digest]bool{}
	for _, b := range inv.Present {
		present[b.Digest] = true
		if b.IsDocument() {
			pl.docs = append(pl.docs, pushDoc{desc: b.Descriptor, platform: platformOf[b.Digest], top: b.Digest == im.Digest})
			continue
		}
		pl.blobs = append(pl.blobs, b)
	}
	slices.Reverse(pl.docs)
	// The platforms an index lists that are not stored.
	for _, d := range pl.docs {
		if !manifest.IsIndex(d.desc.MediaType) {
			continue
		}
		raw, err := p.l.ReadBlob(ctx, d.desc.Digest, manifest.MaxManifestSize)
		if err != nil {
			return nil, fmt.Errorf("pushing %s: %w", im.Name(), err)
		}
		n, err := manifest.Parse(d.desc.MediaType, raw)
		if err != nil {
			return nil, fmt.Errorf("pushing %s: %w", im.Name(), err)
		}
		for _, m := range n.Manifests {
			if present[m.Digest] {
				continue
			}
			what := m.Digest.String()
			if m.Platform != nil {
				what = platform.FromOCI(*m.Platform).String()
			}
			pl.out.Missing = append(pl.out.Missing, what)
			pl.absent = append(pl.absent, absentChild{desc: m, platform: what})
		}
	}
	pl.out.Sources = layoutSources(inv)
	if err := p.complete(ctx, pl, present); err != nil {
		return nil, err
	}
	return pl, nil
}

// blobJob is one digest to put into every repository that needs it.
type blobJob struct {
	blob  layout.Blob
	plans []*pushPlan
}

// pushBlobs puts every image's blobs into its repository: a digest needed
// by several repositories is uploaded once, then mounted into the others.
func (p *pusher) pushBlobs(ctx context.Context, plans []*pushPlan) {
	var jobs []*blobJob
	byDigest := map[digest.Digest]*blobJob{}
	var total int64
	for _, pl := range plans {
		for _, b := range pl.blobs {
			j, ok := byDigest[b.Digest]
			if !ok {
				j = &blobJob{blob: b}
				byDigest[b.Digest] = j
				jobs = append(jobs, j)
				total += b.Size
			}
			if !slices.ContainsFunc(j.plans, func(o *pushPlan) bool { return o.dest.Name() == pl.dest.Name() }) {
				j.plans = append(j.plans, pl)
			}
		}
	}
	p.emit(progress.Event{Kind: progress.Plan, Blobs: len(jobs), Size: total})
	g := new(errgroup.Group)
	g.SetLimit(p.opts.Jobs)
	for _, j := range jobs {
		g.Go(func() error {
			p.pushBlob(ctx, j)
			return nil
		})
	}
	_ = g.Wait()
}

// pushBlob puts one blob into each repository that needs it.
func (p *pusher) pushBlob(ctx context.Context, j *blobJob) {
	var from string // a repository of the registry that has the blob
	for _, pl := range j.plans {
		if ctx.Err() != nil {
			pl.fail(ctx.Err())
			continue
		}
		res := PushedBlob{Digest: j.blob.Digest, Role: j.blob.Role, Size: j.blob.Size}
		has, err := p.client.HasBlob(ctx, pl.dest, j.blob.Digest)
		if err != nil {
			pl.fail(err)
			continue
		}
		switch {
		case has:
			res.Action = PushExists
		case from != "" && p.opts.DryRun:
			res.Action, res.From = PushWouldMount, from
		case p.opts.DryRun:
			res.Action = PushWouldUpload
		case from != "":
			mounted, err := p.client.MountBlob(ctx, pl.dest, j.blob.Digest, from)
			if err != nil {
				p.logger.Debug("mount failed, uploading", "digest", j.blob.Digest, "from", from, "error", err)
			}
			if mounted {
				res.Action, res.From = PushMounted, from
				break
			}
			fallthrough
		default:
			if err := p.upload(ctx, pl, j.blob); err != nil {
				pl.fail(err)
				continue
			}
			res.Action = PushUploaded
		}
		if res.Action == PushMounted || res.Action == PushUploaded {
			if err := p.checkStored(ctx, pl, j.blob.Digest); err != nil {
				pl.fail(err)
				continue
			}
		}
		if res.Action == PushExists || res.Action == PushMounted || res.Action == PushUploaded || res.Action == PushWouldUpload {
			from = pl.dest.Repository
		}
		pl.record(res)
		p.mu.Lock()
		switch res.Action {
		case PushUploaded:
			p.res.Uploaded++
			p.res.UploadedBytes += res.Size
		case PushMounted:
			p.res.Mounted++
		case PushExists:
			p.res.Skipped++
		}
		p.mu.Unlock()
	}
}

// upload sends one blob from the layout, rehashing it as it is read: a
// blob whose bytes changed on disk aborts its upload.
func (p *pusher) upload(ctx context.Context, pl *pushPlan, b layout.Blob) error {
	ev := progress.Event{Image: pl.image.Name(), Digest: b.Digest, Role: string(b.Role), Size: b.Size}
	p.emit(with(ev, progress.Start))
	// A blob PUT answered 429 or 5xx is started again too: the client
	// retries only requests without a body, such as the POST before it.
	restartable := func(err error) bool { return registry.Restartable(err) || registry.ServerFailed(err) }
	err := p.opts.Restarts.Do(ctx, func() error { return p.uploadOnce(ctx, pl, b, ev) }, restartable, func(next int, err error) {
		retry := with(ev, progress.Retry)
		retry.Err = err
		p.emit(retry)
		p.logger.Debug("blob upload failed, starting again", "digest", b.Digest, "attempt", next, "error", err)
	})
	if err != nil {
		return err
	}
	done := with(ev, progress.Done)
	done.Done = b.Size
	p.emit(done)
	return nil
}

func (p *pusher) uploadOnce(ctx context.Context, pl *pushPlan, b layout.Blob, ev progress.Event) error {
	f, err := p.openSource(ctx, pl, b)
	if err != nil {
		return err
	}
	defer f.Close()
	ev.Kind = progress.Advance
	r := &verifyingReader{r: io.LimitReader(f, b.Size), h: sha256.New(), want: b.Digest, size: b.Size, upstream: p.upstreamOf(pl, b), progress: func(n int64) {
		ev.Done = n
		p.emit(ev)
	}}
	return p.client.PushBlob(ctx, pl.dest, b.Descriptor, r)
}

// verifyingReader hashes what it reads and, at the end, fails instead of
// returning io.EOF when the bytes are not the blob: the upload is aborted
// before the registry sees a complete body.
type verifyingReader struct {
	r       io.Reader
	h       hash.Hash
	want    digest.Digest
	size, n int64
	// upstream is the repository the bytes stream from; "": the layout.
	upstream string
	progress func(int64)
}

func (v *verifyingReader) Read(b []byte) (int, error) {
	n, err := v.r.Read(b)
	v.h.Write(b[:n])
	v.n += int64(n)
	if n > 0 && v.progress != nil {
		v.progress(v.n)
	}
	if errors.Is(err, io.EOF) && v.upstream != "" {
		return n, v.checkUpstream(err)
	}
	if errors.Is(err, io.EOF) {
		if v.n != v.size {
			return n, fmt.Errorf("reading %s: %w: %d of %d bytes", layout.RelBlobPath(v.want), errs.ErrSizeMismatch, v.n, v.size)
		}
		if got := digest.NewDigest(digest.SHA256, v.h); got != v.want {
			return n, fmt.Errorf("reading %s: %w: the stored bytes hash to %s (run vendorimg verify)", layout.RelBlobPath(v.want), errs.ErrDigestMismatch, got)
		}
	}
	return n, err
}

// pushManifests stores the image's documents, children first, the top
// one by tag.
func (p *pusher) pushManifests(ctx context.Context, pl *pushPlan) error {
	for _, d := range pl.docs {
		target := d.desc.Digest.String()
		if d.top && pl.dest.Tag != "" {
			target = pl.dest.Tag
		}
		m := PushedManifest{Digest: d.desc.Digest, MediaType: d.desc.MediaType, Platform: d.platform, Ref: target, Source: SourceLayout}
		if d.raw != nil {
			m.Source = SourceUpstream
		}
		have, err := p.client.HasManifest(ctx, pl.dest, target)
		if err != nil {
			return err
		}
		switch {
		case have == d.desc.Digest:
			m.Action = PushExists
		case p.opts.DryRun:
			m.Action = PushWouldPush
		default:
			raw := d.raw
			if raw == nil {
				if raw, err = p.l.ReadBlob(ctx, d.desc.Digest, manifest.MaxManifestSize); err != nil {
					return err
				}
			}
			err = p.client.PushManifest(ctx, pl.dest, target, d.desc.MediaType, raw)
			if err != nil && d.top && len(pl.out.Missing) > 0 && !pl.completed && errors.Is(err, registry.ErrManifestRefused) {
				m.Action = PushRefused
				pl.out.Manifests = append(pl.out.Manifests, m)
				return sparseError(pl, err)
			}
			if err != nil {
				return err
			}
			if err := p.checkTagged(ctx, pl, target, d.desc.Digest); err != nil {
				return err
			}
			m.Action = PushPushed
			p.mu.Lock()
			p.res.Manifests++
			p.mu.Unlock()
		}
		pl.out.Manifests = append(pl.out.Manifests, m)
		if d.top {
			pl.out.Tagged = pl.dest.Tag != "" && !p.opts.DryRun || m.Action == PushExists && pl.dest.Tag != ""
		}
	}
	return nil
}

// ErrNotStored: the registry acknowledged a blob or manifest (201
// Created) that a HEAD right after does not find: it stored nothing, or
// something else.
var ErrNotStored = errors.New("the registry did not store what it acknowledged")

// checkStored asks the registry for the blob it just acknowledged.
func (p *pusher) checkStored(ctx context.Context, pl *pushPlan, d digest.Digest) error {
	has, err := p.client.HasBlob(ctx, pl.dest, d)
	if err != nil {
		return err
	}
	if !has {
		return fmt.Errorf("pushing blob %s to %s: %w: it answered 201 Created, but a HEAD of the blob answers 404", d, pl.dest.Name(), ErrNotStored)
	}
	return nil
}

// checkTagged asks the registry for the manifest it just acknowledged,
// by target (its tag, or its digest) and by digest: both must name d. A
// registry whose HEAD gives no digest is taken at its word that it has
// one.
func (p *pusher) checkTagged(ctx context.Context, pl *pushPlan, target string, d digest.Digest) error {
	for _, ref := range []string{target, d.String()} {
		have, err := p.client.HasManifest(ctx, pl.dest, ref)
		if err != nil {
			return err
		}
		switch have {
		case d, "unknown":
		case "":
			return fmt.Errorf("pushing manifest %s to %s:%s: %w: it answered 201 Created, but a HEAD of %s answers 404", d, pl.dest.Name(), target, ErrNotStored, ref)
		default:
			return fmt.Errorf("pushing manifest %s to %s:%s: %w: it answered 201 Created, but %s names %s", d, pl.dest.Name(), target, ErrNotStored, ref, have)
		}
		if ref == d.String() {
			break
		}
	}
	return nil
}

// sparseError says what a registry that refused a sparse index has, and
// how to get the index itself there.
func sparseError(pl *pushPlan, err error) error {
	var byDigest []string
	for _, d := range pl.docs {
		if !d.top && d.platform != "" {
			byDigest = append(byDigest, fmt.Sprintf("%s@%s (%s)", pl.dest.Name(), d.desc.Digest, d.platform))
		}
	}
	return fmt.Errorf("%w: the registry refuses the index %s because it lists platforms that were not vendored (%s), and it checks that an index's manifests are all present: the vendored platforms' manifests are in the registry by digest (%s), but %s is not tagged and the pin cannot be pulled from there; %s (%v)",
		errs.ErrSparseIndex, pl.image.Digest, strings.Join(pl.out.Missing, ", "), strings.Join(byDigest, ", "), pl.out.Target, completionHint(pl), strings.Join(registry.Codes(err), ", "))
}

func with(e progress.Event, k progress.Kind) progress.Event {
	e.Kind = k
	return e
}

package vendorimg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
)

// StatusReport is what Status found: per configured image, its pin and
// what the layout holds of it, checked by size only (verify rehashes).
type StatusReport struct {
	Config string        `json:"config"`
	Layout string        `json:"layout"`
	Images []ImageStatus `json:"images"`
	// Unconfigured are index.json entries vendorimg.yaml does not list.
	Unconfigured []string `json:"unconfigured"`
	// Daemon is what the engine holds under each image's tag
	// (StatusOptions.Daemon), else nil.
	Daemon *daemon.Report `json:"daemon,omitempty"`
}

// StatusOptions configure Status.
type StatusOptions struct {
	// Daemon also asks the engine what it holds under each image's tag
	// (daemon.Verify). Default false: the layout only.
	Daemon bool
	// Engine is the engine Daemon asks. Default: daemon.NewClient, closed
	// on return.
	Engine daemon.Client
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
}

// ImageStatus is one image's state.
type ImageStatus struct {
	Name   string        `json:"name"`
	Digest digest.Digest `json:"digest"`
	// Platforms are the selected platforms, as in vendorimg.yaml.
	Platforms []string `json:"platforms"`
	// Vendored are the platforms whose manifests are stored.
	Vendored []string `json:"vendored"`
	// InIndex says whether index.json has the image with its pin.
	InIndex bool `json:"inIndex"`
	// Adopted, when not nil, is the name another tool gave the index.json
	// entry taken for the image ("" for none; see layout.Lookup): the next
	// sync renames it.
	Adopted *string `json:"adopted,omitempty"`
	// Complete: in index.json and nothing selected is missing.
	Complete  bool          `json:"complete"`
	MediaType string        `json:"mediaType,omitempty"`
	Blobs     int           `json:"blobs"`
	Bytes     int64         `json:"bytes"`
	Missing   []MissingBlob `json:"missing"`
	// Referrers are the vendored referrers (signatures, attestations,
	// SBOMs) of the pin and of its platforms' manifests, when the image
	// vendors them (referrers: in vendorimg.yaml).
	Referrers []ReferrerStatus `json:"referrers,omitempty"`
	// Error is why the image's graph cannot be read ("" normally).
	Error string `json:"error,omitempty"`
	err   error
}

// Err is why the image's graph cannot be read, or nil.
func (s ImageStatus) Err() error { return s.err }

// MissingBlob is a selected blob the layout lacks.
type MissingBlob struct {
	Digest   digest.Digest `json:"digest"`
	Role     layout.Role   `json:"role"`
	Size     int64         `json:"size,omitempty"`
	Platform string        `json:"platform,omitempty"`
}

// Status reports each configured image's pin, platforms, size and what is
// missing, without the network and without rehashing layers, and with
// opts.Daemon what the engine holds. It holds the layout's shared lock
// while it reads, so that it never sees a sync half done. When the engine
// cannot be asked, the report still holds the layout's part.
func Status(ctx context.Context, cfg *config.Config, opts StatusOptions) (*StatusReport, error) {
	l := layout.New(cfg.LayoutDir())
	var rep *StatusReport
	for {
		// The lock is a flock on the folder: a folder that does not exist
		// cannot be locked, so when a first sync creates it during the
		// unlocked look, status looks again, locked.
		exists := isDir(l.Root())
		var err error
		rep, err = status(ctx, cfg, l, exists)
		if err != nil {
			return nil, err
		}
		if exists || !isDir(l.Root()) {
			break
		}
	}
	if !opts.Daemon && opts.Engine == nil {
		return rep, nil
	}
	c, done, err := engine(opts.Engine)
	if err != nil {
		return rep, err
	}
	defer done()
	rep.Daemon, err = daemon.Verify(ctx, c, l, cfg.Images, daemon.VerifyOptions{Logger: opts.Logger})
	return rep, err
}

func isDir(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.IsDir()
}

// status is Status, under the lock when lock is true.
func status(ctx context.Context, cfg *config.Config, l *layout.Layout, lock bool) (*StatusReport, error) {
	rep := &StatusReport{Config: cfg.Path, Layout: l.Root(), Images: []ImageStatus{}, Unconfigured: []string{}}
	idx := &ocispec.Index{}
	if lock {
		lock, err := l.Lock(ctx, false, nil)
		if err != nil {
			return nil, err
		}
		defer lock.Unlock()
	}
	if l.Exists() {
		var err error
		if idx, err = l.ReadIndex(ctx); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		} else if err != nil {
			idx = &ocispec.Index{}
		}
	}
	// claimed are the index.json entries of configured images.
	claimed := map[int]bool{}
	for _, im := range cfg.Images {
		st := ImageStatus{Name: im.Name(), Digest: im.Digest, Platforms: im.Platforms.Strings(), Vendored: []string{}, Missing: []MissingBlob{}}
		top := ocispec.Descriptor{Digest: im.Digest}
		if m, ok := layout.Lookup(idx, im.Name(), im.Digest); ok && m.Entry.Digest == im.Digest {
			st.InIndex, top = true, m.Entry
			claimed[m.Index] = true
			if m.Adopted {
				st.Adopted = &m.Was
			}
		}
		inv, err := l.Inventory(ctx, top, layout.WalkOptions{Platforms: im.Platforms})
		if err != nil {
			st.err = fmt.Errorf("%s: %w", im.Name(), err)
			st.Error = err.Error()
			rep.Images = append(rep.Images, st)
			continue
		}
		st.MediaType = inv.Top.MediaType
		st.Blobs, st.Bytes = len(inv.Present), inv.Bytes()
		for _, p := range inv.Platforms() {
			st.Vendored = append(st.Vendored, platform.FromOCI(p).String())
		}
		for _, b := range inv.Missing {
			m := MissingBlob{Digest: b.Digest, Role: b.Role, Size: b.Size}
			if b.Platform != nil {
				m.Platform = platform.FromOCI(*b.Platform).String()
			}
			st.Missing = append(st.Missing, m)
		}
		st.Complete = st.InIndex && inv.Complete()
		if im.WantsReferrers() {
			st.Referrers = referrerStatus(ctx, l, idx, im)
		}
		rep.Images = append(rep.Images, st)
	}
	for i, d := range idx.Manifests {
		if layout.IsReferrersEntry(d) && cfg.ByName(d.Annotations[layout.AnnotationReferrersOf]) >= 0 {
			continue
		}
		if name := layout.NameOf(d); !claimed[i] && cfg.ByName(name) < 0 {
			rep.Unconfigured = append(rep.Unconfigured, name)
		}
	}
	return rep, nil
}

// Complete reports whether every configured image is in index.json with
// nothing selected missing, and every graph could be read.
func (r *StatusReport) Complete() bool {
	for _, im := range r.Images {
		if !im.Complete || im.Error != "" {
			return false
		}
	}
	return true
}

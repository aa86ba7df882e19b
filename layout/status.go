package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/platform"
)

// Holdings is what the layout holds of the configured images, checked by
// size only (Verify rehashes): what vendorimg status reports.
type Holdings struct {
	// Images are the configured images' states, in order.
	Images []ImageStatus `json:"images"`
	// Unconfigured are index.json entries vendorimg.yaml does not list.
	Unconfigured []string `json:"unconfigured"`
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
	// entry taken for the image ("" for none; see Lookup): the next
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
	Role     Role          `json:"role"`
	Size     int64         `json:"size,omitempty"`
	Platform string        `json:"platform,omitempty"`
}

// Holdings reports each of images' pin, platforms, size and what is
// missing, without rehashing layers. It holds the layout's shared lock
// while it reads, so that it never sees a sync half done.
func (l *Layout) Holdings(ctx context.Context, images []config.Image) (*Holdings, error) {
	for {
		// The lock is a flock on the folder: a folder that does not exist
		// cannot be locked, so when a first sync creates it during the
		// unlocked look, status looks again, locked.
		exists := isDir(l.Root())
		h, err := l.holdings(ctx, images, exists)
		if err != nil || exists || !isDir(l.Root()) {
			return h, err
		}
	}
}

func isDir(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.IsDir()
}

// holdings is Holdings, under the lock when lock is true.
func (l *Layout) holdings(ctx context.Context, images []config.Image, lock bool) (*Holdings, error) {
	rep := &Holdings{Images: []ImageStatus{}, Unconfigured: []string{}}
	configured := map[string]bool{}
	for _, im := range images {
		configured[im.Name()] = true
	}
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
	for _, im := range images {
		st := ImageStatus{Name: im.Name(), Digest: im.Digest, Platforms: im.Platforms.Strings(), Vendored: []string{}, Missing: []MissingBlob{}}
		top := ocispec.Descriptor{Digest: im.Digest}
		if m, ok := Lookup(idx, im.Name(), im.Digest); ok && m.Entry.Digest == im.Digest {
			st.InIndex, top = true, m.Entry
			claimed[m.Index] = true
			if m.Adopted {
				st.Adopted = &m.Was
			}
		}
		inv, err := l.Inventory(ctx, top, WalkOptions{Platforms: im.Platforms})
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
			st.Referrers = l.referrerStatus(ctx, idx, im.Name())
		}
		rep.Images = append(rep.Images, st)
	}
	for i, d := range idx.Manifests {
		if IsReferrersEntry(d) && configured[d.Annotations[AnnotationReferrersOf]] {
			continue
		}
		if name := NameOf(d); !claimed[i] && !configured[name] {
			rep.Unconfigured = append(rep.Unconfigured, name)
		}
	}
	return rep, nil
}

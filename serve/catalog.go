package serve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// Image is one served image: its index.json name, its pin and the
// repository paths it answers under.
type Image struct {
	// Name is the index.json name, "docker.io/library/alpine:3.19.1".
	Name string `json:"name"`
	// Digest is the top-level manifest's or index's digest (the pin).
	Digest digest.Digest `json:"digest"`
	// MediaType is the top-level document's media type.
	MediaType string `json:"mediaType"`
	// Repositories are the paths it is served under: with its registry
	// host, and without it when no other served image claims that path.
	Repositories []string `json:"repositories"`
	// Tag is the tag it answers to ("" for an image named by digest).
	Tag string `json:"tag,omitempty"`
	// Platforms are the vendored platforms ("linux/amd64").
	Platforms []string `json:"platforms"`
}

// document is a stored manifest or index.
type document struct {
	mediaType string
	size      int64
}

// repository is what one repository path serves.
type repository struct {
	name      string
	tags      map[string]digest.Digest
	manifests map[digest.Digest]document
	// absent are manifests an index lists whose platform was not
	// vendored, with what to say about them.
	absent map[digest.Digest]string
	// blobs are configs, layers and other blobs, with their sizes.
	blobs map[digest.Digest]int64
	// referrers are the vendored referrers indexes, by subject.
	referrers map[digest.Digest]digest.Digest
}

func newRepository(name string) *repository {
	return &repository{name: name, tags: map[string]digest.Digest{}, manifests: map[digest.Digest]document{},
		absent: map[digest.Digest]string{}, blobs: map[digest.Digest]int64{}, referrers: map[digest.Digest]digest.Digest{}}
}

// merge adds what another image stores under the same repository path.
func (r *repository) merge(o *repository) {
	for k, v := range o.tags {
		r.tags[k] = v
	}
	for k, v := range o.manifests {
		r.manifests[k] = v
		delete(r.absent, k)
	}
	for k, v := range o.absent {
		if _, ok := r.manifests[k]; !ok {
			r.absent[k] = v
		}
	}
	for k, v := range o.blobs {
		r.blobs[k] = v
	}
	for k, v := range o.referrers {
		r.referrers[k] = v
	}
}

// sortedTags are the repository's tags in lexical order, as tags/list
// returns them.
func (r *repository) sortedTags() []string {
	out := make([]string, 0, len(r.tags))
	for t := range r.tags {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// catalog is everything the handler serves, built once from index.json.
type catalog struct {
	repos  map[string]*repository
	images []Image
}

// buildCatalog reads index.json and walks each selected entry's graph
// through what is stored: documents are read and rehashed (a wrong one is
// an error, as is a stored manifest whose config or layers are missing);
// layers are only stat'ed, and rehashed when they are served. A name is
// found with layout.Lookup, so that an entry another tool wrote for its pin
// (pins[name]) is served under the name.
func buildCatalog(ctx context.Context, l *layout.Layout, names []string, pins map[string]digest.Digest) (*catalog, error) {
	idx, err := l.ReadIndex(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no index.json (run vendorimg sync)", errs.ErrInvalidLayout, l.Root())
	}
	if err != nil {
		return nil, err
	}
	var entries []ocispec.Descriptor
	if names == nil {
		for _, e := range idx.Manifests {
			if !layout.IsReferrersEntry(e) {
				entries = append(entries, e)
			}
		}
	} else {
		var missing []string
		for _, n := range names {
			m, ok := layout.Lookup(idx, n, pins[n])
			if !ok {
				missing = append(missing, n)
				continue
			}
			entries = append(entries, m.Entry)
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: %s not in %s's index.json (run vendorimg sync)", errs.ErrInvalidLayout, strings.Join(missing, ", "), l.Root())
		}
	}
	refEntries := referrerEntries(idx, entries)
	c := &catalog{repos: map[string]*repository{}}
	// Host-less paths: which registries claim each.
	short := map[string][]string{}
	type built struct {
		ref       reference.Reference
		repo      *repository
		im        Image
		referrers bool
	}
	var all []built
	for i, e := range append(entries, refEntries...) {
		name := layout.NameOf(e)
		ref, err := reference.Parse(name)
		if err != nil {
			return nil, fmt.Errorf("serving %q from index.json: %w", name, err)
		}
		repo, im, err := walkImage(ctx, l, e, ref)
		if err != nil {
			return nil, fmt.Errorf("serving %s: %w", name, err)
		}
		isRef := i >= len(entries)
		if isRef {
			repo.referrers[digest.Digest(e.Annotations[layout.AnnotationReferrersSubject])] = e.Digest
		}
		all = append(all, built{ref, repo, im, isRef})
		if !slices.Contains(short[ref.Repository], ref.Registry) {
			short[ref.Repository] = append(short[ref.Repository], ref.Registry)
		}
	}
	add := func(path string, r *repository) {
		if have, ok := c.repos[path]; ok {
			have.merge(r)
			return
		}
		n := newRepository(path)
		n.merge(r)
		c.repos[path] = n
	}
	for _, b := range all {
		b.im.Repositories = []string{b.ref.Name()}
		add(b.ref.Name(), b.repo)
		// Without its host, a path is the image's when no other registry's
		// image has it, or when it is Docker Hub's: a mirror's clients send
		// Docker Hub names without their host.
		regs := short[b.ref.Repository]
		if len(regs) == 1 || (b.ref.Registry == reference.DockerHub && slices.Contains(regs, reference.DockerHub)) {
			b.im.Repositories = append(b.im.Repositories, b.ref.Repository)
			add(b.ref.Repository, b.repo)
		}
		if !b.referrers {
			c.images = append(c.images, b.im)
		}
	}
	return c, nil
}

// walkImage collects what one index.json entry serves.
func walkImage(ctx context.Context, l *layout.Layout, e ocispec.Descriptor, ref reference.Reference) (*repository, Image, error) {
	repo := newRepository(ref.Name())
	im := Image{Name: layout.NameOf(e), Digest: e.Digest, MediaType: e.MediaType, Tag: ref.Tag, Platforms: []string{}}
	if ref.Tag != "" {
		repo.tags[ref.Tag] = e.Digest
	}
	var problems []string
	var vendored []string
	visit := func(s *layout.Step) error {
		where := layout.RelBlobPath(s.Digest)
		if s.Err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", where, s.Err))
			return nil
		}
		switch {
		case s.IsDocument() && s.File == layout.FileAbsent && s.Depth > 0:
			what := "its platform"
			if s.Platform != nil {
				what = platform.FromOCI(*s.Platform).String()
			}
			repo.absent[s.Digest] = what
			return nil
		case s.File == layout.FileAbsent:
			problems = append(problems, fmt.Sprintf("%s (%s) is missing", where, s.Role))
			return nil
		case s.File != layout.FileOK:
			problems = append(problems, fmt.Sprintf("%s (%s) is not a regular file of %d bytes", where, s.Role, s.Descriptor.Size))
			return nil
		case s.Read && s.ReadErr != nil:
			problems = append(problems, fmt.Sprintf("%s (%s): %v", where, s.Role, s.ReadErr))
			return nil
		}
		if s.Node != nil {
			repo.manifests[s.Digest] = document{mediaType: s.Node.MediaType, size: int64(len(s.Raw))}
			if s.Depth == 0 {
				im.MediaType = s.Node.MediaType
			}
			if !s.Node.IsIndex() && s.Platform != nil && !s.Repeat {
				vendored = append(vendored, platform.FromOCI(*s.Platform).String())
			}
			return nil
		}
		repo.blobs[s.Digest] = s.Size
		return nil
	}
	if err := l.Walk(ctx, e, layout.WalkOptions{Platforms: platform.All}, visit); err != nil {
		return nil, Image{}, err
	}
	if len(problems) > 0 {
		return nil, Image{}, fmt.Errorf("%w: %s (run vendorimg verify, then vendorimg sync)", errs.ErrInvalidLayout, strings.Join(problems, "; "))
	}
	im.Platforms = vendored
	// What the not-vendored message says about the image.
	have := "a single manifest"
	if len(vendored) > 0 {
		have = strings.Join(vendored, ", ")
	}
	for d, p := range repo.absent {
		repo.absent[d] = fmt.Sprintf("manifest %s (%s) is listed by %s but was not vendored: the layout holds %s (list it under platforms: in vendorimg.yaml, or platforms: all, and run vendorimg sync)", d, p, im.Name, have)
	}
	return repo, im, nil
}

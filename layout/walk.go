package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// MaxDepth bounds how deeply indexes may nest under an index.json entry:
// the top document is at depth 0, a platform manifest under an index at 1.
// Real images nest one or two levels; a deeper graph is refused (by sync,
// verify, status, load and gc alike) instead of being followed into
// unbounded memory.
const MaxDepth = 6

// File is what the layout stores under a blob's digest.
type File int

// File states, from a Lstat that never follows a symlink.
const (
	// FileAbsent: nothing is stored under the digest.
	FileAbsent File = iota
	// FileOK: a regular file of the descriptor's size (any size when the
	// descriptor has none, as a top-level pin without a size).
	FileOK
	// FileWrongSize: a regular file of another size.
	FileWrongSize
	// FileSymlink: a symlink, which vendorimg never follows.
	FileSymlink
	// FileNotRegular: a folder, device, pipe or socket.
	FileNotRegular
	// FileUnreadable: the path cannot be checked (Step.Err says why: a
	// digest that is not canonical sha256, a symlinked blobs folder, a
	// permission error).
	FileUnreadable
)

// Step is one blob of an image graph as Walk finds it: the descriptor its
// parent gives it, where it sits, what is stored, and for documents and
// image configs what they hold.
type Step struct {
	Blob
	// Parent is the document that lists the blob; nil for the top.
	Parent *ocispec.Descriptor
	// Depth is 0 for the top, 1 for what it lists, and so on.
	Depth int
	// Selected: the walk's platform selection includes the blob (every
	// blob under a selected manifest is). Unselected blobs are visited only
	// when they are stored (WalkOptions.Unselected).
	Selected bool
	// File is what is stored under the digest, and Size its size when it
	// is a regular file.
	File File
	Size int64
	// Read: the blob is a document or an image config that was read, and
	// Raw holds its bytes. They were hashed: ReadErr wraps
	// errs.ErrDigestMismatch (and Actual is their digest) when they do not
	// hash to the digest, errs.ErrTooLarge when the descriptor announces
	// more than vendorimg reads, or says why they do not parse.
	Read    bool
	Raw     []byte
	Actual  digest.Digest
	ReadErr error
	// Node is the parsed index or manifest, when it parsed.
	Node *manifest.Node
	// Config is the parsed image config, when it parsed.
	Config *manifest.Config
	// MissingPlatforms are, for an index, the selected platforms it has no
	// manifest for.
	MissingPlatforms []platform.Platform
	// Repeat: the same document was already visited in this walk (an index
	// may list one manifest twice); its children are not visited again.
	Repeat bool
	// Err is why the walk cannot go on under this blob: a stat failure
	// (FileUnreadable), or a graph nested deeper than MaxDepth.
	Err error
}

// Stored reports whether the blob is a regular file of the right size
// whose bytes, when they were read, hash right.
func (s *Step) Stored() bool {
	return s.File == FileOK && !(s.Read && errors.Is(s.ReadErr, errs.ErrDigestMismatch))
}

// MediaTypeMismatch reports whether a parsed document's media type
// differs from the one its descriptor gives.
func (s *Step) MediaTypeMismatch() bool {
	return s.Node != nil && s.MediaType != "" && s.Node.MediaType != s.MediaType
}

// WalkOptions say how Walk walks.
type WalkOptions struct {
	// Platforms selects the platforms of an index to follow. The zero
	// Selection follows none; platform.All follows every one.
	Platforms platform.Selection
	// Unselected also visits the manifests and indexes of platforms that
	// are not selected, when they are stored (and what they list), so that
	// what is there can be checked (verify) or kept (gc). Default false.
	Unselected bool
	// Fetch, if not nil, is called for each selected document or image
	// config that is absent, of the wrong size or does not hash to its
	// digest, before Walk reads it; it stores the blob (or fails). Walk
	// calls it for the children of one document in parallel, up to Jobs at
	// once, then reads what it stored. Layers are never fetched: the
	// visitor collects the missing ones.
	Fetch func(ctx context.Context, b Blob) error
	// Jobs bounds parallel Fetch calls. Default 4.
	Jobs int
}

// Walk visits the graph under top, depth first, in the order the
// documents list their blobs, calling visit for every blob: documents
// (indexes and manifests) after they are read and parsed, then what they
// list. It reads and hashes documents and image configs (never more than
// manifest.MaxManifestSize or MaxConfigSize), and only stats layers. It
// never follows a symlink, never allocates from a size read from disk, and
// refuses to go deeper than MaxDepth. top may lack a size and a media type
// when only the pin is known. Walk returns visit's first error, ctx's
// error, or an error from Fetch; problems in the layout are in the steps.
func (l *Layout) Walk(ctx context.Context, top ocispec.Descriptor, opts WalkOptions, visit func(*Step) error) error {
	if opts.Jobs <= 0 {
		opts.Jobs = 4
	}
	w := &walker{l: l, opts: opts, visit: visit, seen: map[digest.Digest]bool{}}
	// The blob folders are checked once per walk, not once per blob.
	w.dirErr = l.checkBlobDirs()
	role := RoleManifest
	if manifest.IsIndex(top.MediaType) {
		role = RoleIndex
	}
	return w.document(ctx, Blob{Descriptor: top, Role: role}, nil, 0, true)
}

type walker struct {
	l     *Layout
	opts  WalkOptions
	visit func(*Step) error
	// seen are the documents already descended into, and whether that was
	// as selected.
	seen map[digest.Digest]bool
	// dirErr is why blobs/ or blobs/sha256 cannot be used (a symlink, a
	// file): then every blob is unreadable.
	dirErr error
}

// path is where a step's blob lives; a digest that is not canonical
// sha256 never becomes a path.
func (w *walker) path(d digest.Digest) (string, error) {
	if err := reference.CheckDigest(d); err != nil {
		return "", err
	}
	if w.dirErr != nil {
		return "", w.dirErr
	}
	return w.l.blobFile(d), nil
}

// stat fills a step's File and Size.
func (w *walker) stat(s *Step) {
	path, err := w.path(s.Digest)
	if err != nil {
		s.File, s.Err = FileUnreadable, err
		return
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.File = FileAbsent
	case err != nil:
		s.File, s.Err = FileUnreadable, err
	case fi.Mode()&fs.ModeSymlink != 0:
		s.File = FileSymlink
	case !fi.Mode().IsRegular():
		s.File = FileNotRegular
	default:
		s.Size = fi.Size()
		s.File = FileOK
		if s.Descriptor.Size > 0 && fi.Size() != s.Descriptor.Size {
			s.File = FileWrongSize
		}
	}
}

// read reads a stored document or config whole and hashes it.
func (w *walker) read(s *Step, limit int64) {
	if s.File != FileOK {
		return
	}
	s.Read = true
	if s.Descriptor.Size > limit {
		s.ReadErr = fmt.Errorf("%w: the descriptor says %d bytes, more than the %d vendorimg reads", errs.ErrTooLarge, s.Descriptor.Size, limit)
		return
	}
	path, err := w.path(s.Digest)
	if err != nil {
		s.ReadErr = err
		return
	}
	raw, opened, err := readRegular(path, limit)
	if err != nil && !opened {
		s.ReadErr = fmt.Errorf("opening blob %s: %w", s.Digest, err)
		return
	}
	if err != nil {
		s.ReadErr = err
		return
	}
	s.check(raw)
}

// check keeps raw, read from s's file, and checks that it hashes to s's
// digest.
func (s *Step) check(raw []byte) {
	s.Raw = raw
	if got := digest.FromBytes(raw); got != s.Digest {
		s.Actual = got
		s.ReadErr = fmt.Errorf("%w: %s hashes to %s", errs.ErrDigestMismatch, RelBlobPath(s.Digest), got)
	}
}

// statRead is stat and then read, for a document or config, through one
// open: the open tells what Lstat would (absent, a symlink) and fstat the
// rest, so a stored document costs open, fstat, read and close. Any other
// failure to open goes the long way, stat then read, which tells a file
// that cannot be checked from one that cannot be read.
func (w *walker) statRead(s *Step, limit int64) {
	path, err := w.path(s.Digest)
	if err != nil {
		s.File, s.Err = FileUnreadable, err
		return
	}
	f, typ, size, err := openStat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.File = FileAbsent
		return
	case errors.Is(err, errSymlink):
		s.File = FileSymlink
		return
	case err != nil:
		w.stat(s)
		w.read(s, limit)
		return
	}
	defer f.close()
	switch {
	case typ != 0:
		s.File = FileNotRegular
		return
	case s.Descriptor.Size > 0 && size != s.Descriptor.Size:
		s.Size, s.File = size, FileWrongSize
		return
	}
	s.Size, s.File, s.Read = size, FileOK, true
	if s.Descriptor.Size > limit {
		s.ReadErr = fmt.Errorf("%w: the descriptor says %d bytes, more than the %d vendorimg reads", errs.ErrTooLarge, s.Descriptor.Size, limit)
		return
	}
	raw, err := f.readAll(size, limit)
	if err != nil {
		s.ReadErr = err
		return
	}
	s.check(raw)
}

// needsFetch says whether a selected blob must be fetched before it can
// be read.
func needsFetch(s *Step) bool {
	return s.File == FileAbsent || s.File == FileWrongSize || (s.Read && errors.Is(s.ReadErr, errs.ErrDigestMismatch))
}

// document visits an index or manifest and what it lists.
func (w *walker) document(ctx context.Context, b Blob, parent *ocispec.Descriptor, depth int, selected bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &Step{Blob: b, Parent: parent, Depth: depth, Selected: selected}
	if depth > MaxDepth {
		w.stat(s)
		s.Err = fmt.Errorf("%w: the graph under %s is nested more than %d levels", errs.ErrTooDeep, RelBlobPath(b.Digest), MaxDepth)
		return w.visit(s)
	}
	w.statRead(s, manifest.MaxManifestSize)
	if selected && w.opts.Fetch != nil && needsFetch(s) {
		if err := w.opts.Fetch(ctx, b); err != nil {
			return err
		}
		*s = Step{Blob: b, Parent: parent, Depth: depth, Selected: selected}
		w.statRead(s, manifest.MaxManifestSize)
	}
	if s.Read && s.ReadErr == nil {
		s.Node, s.ReadErr = parseDocument(s.MediaType, s.Raw)
	}
	if s.Node == nil {
		return w.visit(s)
	}
	if was, ok := w.seen[s.Digest]; ok && (was || !selected) {
		s.Repeat = true
		return w.visit(s)
	}
	w.seen[s.Digest] = selected
	if s.Node.IsIndex() && selected && !w.opts.Platforms.All {
		for _, p := range w.opts.Platforms.Platforms {
			if !slices.ContainsFunc(s.Node.Manifests, func(d ocispec.Descriptor) bool { return d.Platform != nil && p.Matches(*d.Platform) }) {
				s.MissingPlatforms = append(s.MissingPlatforms, p)
			}
		}
	}
	if err := w.visit(s); err != nil {
		return err
	}
	self := s.Descriptor
	if s.Node.IsIndex() {
		return w.index(ctx, s.Node, &self, depth, selected)
	}
	return w.manifest(ctx, s.Node, &self, b.Platform, depth, selected)
}

func childRole(mediaType string) Role {
	switch {
	case manifest.IsIndex(mediaType):
		return RoleIndex
	case manifest.IsManifest(mediaType):
		return RoleManifest
	}
	return RoleBlob
}

func (w *walker) index(ctx context.Context, n *manifest.Node, self *ocispec.Descriptor, depth int, selected bool) error {
	type child struct {
		b        Blob
		selected bool
	}
	var children []child
	for _, d := range n.Manifests {
		children = append(children, child{Blob{Descriptor: d, Role: childRole(d.MediaType), Platform: d.Platform}, selected && w.opts.Platforms.Matches(d.Platform)})
	}
	// Fetch the missing selected documents of this index at once.
	if w.opts.Fetch != nil && depth+1 <= MaxDepth {
		var missing []Blob
		for _, c := range children {
			if c.selected && c.b.IsDocument() && !w.seenSelected(c.b.Digest) {
				s := &Step{Blob: c.b}
				w.stat(s)
				if s.File == FileAbsent || s.File == FileWrongSize {
					missing = append(missing, c.b)
				}
			}
		}
		if err := w.fetchAll(ctx, missing); err != nil {
			return err
		}
	}
	for _, c := range children {
		if c.b.IsDocument() {
			if !c.selected && !w.opts.Unselected {
				continue
			}
			if !c.selected {
				s := &Step{Blob: c.b}
				w.stat(s)
				if s.File == FileAbsent {
					continue
				}
			}
			if err := w.document(ctx, c.b, self, depth+1, c.selected); err != nil {
				return err
			}
			continue
		}
		if !c.selected && !w.opts.Unselected {
			continue
		}
		if err := w.leaf(ctx, c.b, self, depth+1, c.selected); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) seenSelected(d digest.Digest) bool { return w.seen[d] }

// fetchAll fetches blobs in parallel, up to Jobs at once.
func (w *walker) fetchAll(ctx context.Context, blobs []Blob) error {
	switch len(blobs) {
	case 0:
		return nil
	case 1:
		return w.opts.Fetch(ctx, blobs[0])
	}
	var g errgroup.Group
	g.SetLimit(w.opts.Jobs)
	var mu sync.Mutex
	var failures []error
	for _, b := range blobs {
		g.Go(func() error {
			if err := w.opts.Fetch(ctx, b); err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(failures...)
}

func (w *walker) manifest(ctx context.Context, n *manifest.Node, self *ocispec.Descriptor, plat *ocispec.Platform, depth int, selected bool) error {
	cfg := &Step{Blob: Blob{Descriptor: n.Config, Role: RoleConfig, Platform: plat}, Parent: self, Depth: depth + 1, Selected: selected}
	if !manifest.IsImageConfig(n.Config.MediaType) {
		w.stat(cfg)
	} else {
		w.statRead(cfg, manifest.MaxConfigSize)
		if selected && w.opts.Fetch != nil && needsFetch(cfg) {
			if err := w.opts.Fetch(ctx, cfg.Blob); err != nil {
				return err
			}
			*cfg = Step{Blob: cfg.Blob, Parent: self, Depth: depth + 1, Selected: selected}
			w.statRead(cfg, manifest.MaxConfigSize)
		}
		if cfg.Read && cfg.ReadErr == nil {
			cfg.Config, cfg.ReadErr = manifest.ParseConfig(cfg.Raw)
		}
	}
	if err := w.visit(cfg); err != nil {
		return err
	}
	for _, layer := range n.Layers {
		if err := w.leaf(ctx, Blob{Descriptor: layer, Role: RoleLayer, Platform: plat}, self, depth+1, selected); err != nil {
			return err
		}
	}
	return nil
}

// leaf visits a blob that is not read: a layer, or an index entry that is
// not a document vendorimg walks.
func (w *walker) leaf(ctx context.Context, b Blob, parent *ocispec.Descriptor, depth int, selected bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &Step{Blob: b, Parent: parent, Depth: depth, Selected: selected}
	w.stat(s)
	return w.visit(s)
}

// parseDocument parses a document, preferring what it says it is. A
// document without a mediaType field takes its descriptor's, as
// image-spec allows; one that names another type is parsed as what it
// names, so that the visitor sees the disagreement (MediaTypeMismatch).
func parseDocument(mediaType string, raw []byte) (*manifest.Node, error) {
	n, err := manifest.Parse("", raw)
	if err != nil {
		return nil, err
	}
	if mediaType != "" && n.MediaType != mediaType {
		if hinted, err := manifest.Parse(mediaType, raw); err == nil {
			return hinted, nil
		}
	}
	return n, nil
}

package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/platform"
)

// checkLayoutFiles checks oci-layout and reads index.json; ok is false
// when index.json cannot be walked.
func (v *verifier) checkLayoutFiles(ctx context.Context) (*ocispec.Index, bool) {
	if err := v.l.checkLayoutFile(); err != nil {
		kind := KindMalformed
		if errors.Is(err, fs.ErrNotExist) {
			kind = KindMissing
		}
		v.add(Finding{Kind: kind, Path: LayoutFile, Message: "the oci-layout file: " + err.Error()})
	}
	if err := v.l.checkBlobDirs(); err != nil {
		// The stray scan reports the symlink or file; nothing can be read
		// through it.
		return nil, false
	}
	idx, err := v.l.ReadIndex(ctx)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.add(Finding{Kind: KindMissing, Path: IndexFile, Message: "no index.json"})
		for _, e := range v.opts.Images {
			v.add(Finding{Kind: KindNotSynced, Image: e.Name, Expected: e.Digest.String(), Message: "not in the layout: run vendorimg sync"})
		}
		return nil, false
	case err != nil:
		v.add(Finding{Kind: KindMalformed, Path: IndexFile, Message: err.Error()})
		return nil, false
	}
	return idx, true
}

func (v *verifier) walkIndex(ctx context.Context, idx *ocispec.Index) error {
	seen := map[string]bool{}
	for _, d := range idx.Manifests {
		name := NameOf(d)
		if seen[name] && name != "" {
			v.add(Finding{Kind: KindMalformed, Path: IndexFile, Image: name, Message: "two index.json entries have this name"})
		}
		seen[name] = true
	}
	// expect says, per index.json entry, the configured image it holds.
	expect := map[int]Expect{}
	if v.opts.Images != nil {
		for _, e := range v.opts.Images {
			m, ok := Lookup(idx, e.Name, e.Digest)
			switch {
			case !ok:
				v.add(Finding{Kind: KindNotSynced, Path: IndexFile, Image: e.Name, Expected: e.Digest.String(), Message: "configured but not in index.json: run vendorimg sync"})
				continue
			case m.Adopted:
				v.add(Finding{Kind: KindAdopted, Path: IndexFile, Image: e.Name, Expected: e.Name, Actual: m.Was,
					Message: fmt.Sprintf("the entry %s has the pin: it is taken for this image, and the next sync renames it", describeName(m.Was))})
			case m.Entry.Digest != e.Digest:
				v.add(Finding{Kind: KindPin, Path: IndexFile, Image: e.Name, Expected: e.Digest.String(), Actual: m.Entry.Digest.String(),
					Message: fmt.Sprintf("index.json has %s, vendorimg.yaml pins %s", m.Entry.Digest, e.Digest)})
			}
			if _, taken := expect[m.Index]; !taken {
				expect[m.Index] = e
			}
		}
		v.checkReferrers(idx)
		for i, d := range idx.Manifests {
			if _, ok := expect[i]; !ok && !v.referrersOfConfigured(d) {
				v.add(Finding{Kind: KindUnconfigured, Path: IndexFile, Image: NameOf(d), Actual: d.Digest.String(), Message: "index.json entry for an image vendorimg.yaml does not list: run vendorimg sync"})
			}
		}
	}
	for i, d := range idx.Manifests {
		name := NameOf(d)
		e, configured := expect[i]
		if configured {
			name = e.Name
		}
		w := &graphWalk{v: v, image: name, ir: &ImageReport{Name: name, Digest: d.Digest, MediaType: d.MediaType, Platforms: []string{}},
			counted: map[digest.Digest]bool{}, manifests: map[digest.Digest]*Step{}, configs: map[digest.Digest]*manifest.Config{}, layerIndex: map[digest.Digest]int{}}
		if configured {
			w.sel, w.strict = e.Platforms, true
		} else {
			w.sel = platform.All
		}
		if err := v.l.Walk(ctx, d, WalkOptions{Platforms: w.sel, Unselected: true}, w.visit); err != nil {
			return err
		}
		v.report.Images = append(v.report.Images, *w.ir)
	}
	return nil
}

// describeName says how an index.json entry is named, for messages.
func describeName(name string) string {
	if name == "" {
		return "with no name"
	}
	return fmt.Sprintf("named %q", name)
}

// graphWalk verifies the graph of one index.json entry, as a visitor of
// Walk's steps.
type graphWalk struct {
	v     *verifier
	image string
	ir    *ImageReport
	sel   platform.Selection
	// strict: the selection comes from the configuration, so a selected
	// child that is absent is a finding. Otherwise absent children are
	// allowed (image-spec permits partial layouts).
	strict  bool
	counted map[digest.Digest]bool
	// manifests, configs and layers are what the walk learnt of each image
	// manifest, by its digest, for the steps that follow it.
	manifests  map[digest.Digest]*Step
	configs    map[digest.Digest]*manifest.Config
	layerIndex map[digest.Digest]int
}

func (w *graphWalk) count(d ocispec.Descriptor) {
	w.v.reached[d.Digest] = true
	if !w.counted[d.Digest] {
		w.counted[d.Digest] = true
		w.ir.Blobs++
		w.ir.Bytes += d.Size
	}
}

func (w *graphWalk) find(f Finding) {
	f.Image = w.image
	w.v.add(f)
}

// what names a step's blob in findings.
func what(s *Step) string {
	var w string
	switch {
	case s.Role == RoleConfig:
		w = "config"
	case s.Role == RoleLayer:
		w = "layer"
	case s.IsDocument() || s.Depth == 0:
		w = "manifest"
		if manifest.IsIndex(s.MediaType) {
			w = "index"
		}
	default:
		w = "index entry"
	}
	if s.Depth == 0 {
		w = "top-level " + w
	}
	return w
}

// file reports what is wrong with a step's stored file; ok says whether
// it is there, the right size, to be read or hashed.
func (w *graphWalk) file(s *Step, required bool) (ok bool) {
	rel, what := RelBlobPath(s.Digest), what(s)
	if s.File == FileUnreadable {
		if _, err := w.v.l.BlobPath(s.Digest); err != nil {
			w.find(Finding{Kind: KindMalformed, Message: fmt.Sprintf("%s descriptor: %v", what, err)})
			return false
		}
	}
	// Referenced even when wrong: a blob of the wrong size is reported as
	// such, not also as unreferenced (which says gc would remove it).
	w.v.reached[s.Digest] = true
	switch s.File {
	case FileAbsent:
		if required {
			w.find(Finding{Kind: KindMissing, Path: rel, Expected: s.Digest.String(), Message: what + " is missing"})
		}
		return false
	case FileUnreadable:
		w.find(Finding{Kind: KindMalformed, Path: rel, Message: s.Err.Error()})
		return false
	case FileSymlink:
		w.find(Finding{Kind: KindSymlink, Path: rel, Expected: s.Digest.String(), Message: what + " is a symlink, not a file"})
		return false
	case FileNotRegular:
		w.find(Finding{Kind: KindNotRegular, Path: rel, Expected: s.Digest.String(), Message: what + " is not a regular file"})
		return false
	case FileWrongSize:
		w.find(Finding{Kind: KindSize, Path: rel, Expected: sizeStr(s.Descriptor.Size), Actual: sizeStr(s.Size),
			Message: fmt.Sprintf("%s %s is %d bytes, its descriptor says %d", what, s.Digest, s.Size, s.Descriptor.Size)})
		return false
	}
	d := s.Descriptor
	d.Size = s.Size
	w.count(d)
	return true
}

// read reports what is wrong with the bytes of a document or config the
// walk read; ok says whether they hash right.
func (w *graphWalk) read(s *Step) bool {
	rel, what := RelBlobPath(s.Digest), what(s)
	if errors.Is(s.ReadErr, errs.ErrTooLarge) && s.Raw == nil {
		w.find(Finding{Kind: KindMalformed, Path: rel, Message: fmt.Sprintf("%s descriptor says %d bytes, more than the %d vendorimg reads", what, s.Descriptor.Size, limitFor(s))})
		return false
	}
	if s.Raw == nil {
		w.find(Finding{Kind: KindMalformed, Path: rel, Message: s.ReadErr.Error()})
		return false
	}
	w.v.report.Blobs++
	w.v.report.Bytes += int64(len(s.Raw))
	w.v.progress(int64(len(s.Raw)))
	if s.Actual != "" {
		w.find(Finding{Kind: KindDigest, Path: rel, Expected: s.Digest.String(), Actual: s.Actual.String(),
			Message: fmt.Sprintf("%s %s hashes to %s", what, s.Digest, s.Actual)})
		return false
	}
	return true
}

func limitFor(s *Step) int64 {
	if s.Role == RoleConfig {
		return manifest.MaxConfigSize
	}
	return manifest.MaxManifestSize
}

func (w *graphWalk) visit(s *Step) error {
	switch {
	case s.Role == RoleConfig:
		return w.config(s)
	case s.Role == RoleLayer:
		// Walk yields a manifest's layers in order, once per manifest.
		i := w.layerIndex[s.Parent.Digest]
		w.layerIndex[s.Parent.Digest]++
		if w.file(s, true) {
			diffID := digest.Digest("")
			if c := w.configs[s.Parent.Digest]; w.v.opts.Deep && c != nil && i < len(c.RootFS.DiffIDs) {
				diffID = c.RootFS.DiffIDs[i]
			}
			w.v.queue(s.Descriptor, w.image, diffID)
		}
		return nil
	case s.Depth == 0 || s.IsDocument():
		return w.document(s)
	}
	// An index entry vendorimg does not walk (an artifact).
	if w.file(s, s.Selected && w.strict) {
		w.v.queue(s.Descriptor, w.image, "")
	}
	return nil
}

func (w *graphWalk) document(s *Step) error {
	rel, what := RelBlobPath(s.Digest), what(s)
	if s.Err != nil && s.File != FileUnreadable {
		// Nested too deeply: nothing under it is read.
		w.v.reached[s.Digest] = true
		w.v.cut = append(w.v.cut, len(w.v.report.Findings))
		w.find(Finding{Kind: KindTooDeep, Path: rel, Expected: fmt.Sprintf("at most %d levels", MaxDepth), Message: s.Err.Error()})
		return nil
	}
	if !w.file(s, s.Depth == 0 || w.strict) || !w.read(s) {
		return nil
	}
	if s.Node == nil {
		w.find(Finding{Kind: KindMalformed, Path: rel, Message: fmt.Sprintf("%s: %v", what, s.ReadErr)})
		return nil
	}
	if s.MediaTypeMismatch() {
		parent := " in index.json"
		if s.Parent != nil {
			parent = " in " + RelBlobPath(s.Parent.Digest)
		}
		w.find(Finding{Kind: KindMediaType, Path: rel, Expected: s.MediaType, Actual: s.Node.MediaType,
			Message: fmt.Sprintf("%s is a %s, its descriptor%s says %s", what, s.Node.MediaType, parent, s.MediaType)})
	}
	for _, p := range s.MissingPlatforms {
		w.find(Finding{Kind: KindPlatform, Path: rel, Expected: p.String(),
			Message: fmt.Sprintf("platform %s is selected but the index has no manifest for it (it has %s)", p, describePlatforms(s.Node.Manifests))})
	}
	if !s.Node.IsIndex() && !s.Repeat {
		w.layerIndex[s.Digest] = 0
		w.manifests[s.Digest] = s
	}
	return nil
}

// config checks a manifest's config; for an image config it also learns
// the image's platform and diff_ids.
func (w *graphWalk) config(s *Step) error {
	m := w.manifests[s.Parent.Digest]
	if m == nil {
		return nil
	}
	n := m.Node
	var cfg *manifest.Config
	if w.file(s, true) {
		if manifest.IsImageConfig(s.MediaType) {
			if w.read(s) {
				if s.Config == nil {
					w.find(Finding{Kind: KindMalformed, Path: RelBlobPath(s.Digest), Message: s.ReadErr.Error()})
				} else {
					cfg = s.Config
				}
			}
		} else {
			w.v.queue(s.Descriptor, w.image, "")
		}
	}
	plat := m.Platform
	if cfg != nil {
		w.configs[m.Digest] = cfg
		p := cfg.Platform()
		if plat == nil {
			plat = &p
		}
		if m.Depth == 0 && !w.sel.Matches(&p) {
			w.find(Finding{Kind: KindPlatform, Path: RelBlobPath(s.Digest), Expected: w.sel.String(), Actual: platform.FromOCI(p).String(),
				Message: fmt.Sprintf("the image is a single manifest for %s, not %s", platform.FromOCI(p), w.sel)})
		}
		if w.v.opts.Deep && len(cfg.RootFS.DiffIDs) != len(n.Layers) {
			w.find(Finding{Kind: KindDiffID, Path: RelBlobPath(s.Digest), Expected: count(len(n.Layers), "layer"), Actual: count(len(cfg.RootFS.DiffIDs), "diff_id"),
				Message: fmt.Sprintf("the config lists %s for %s", count(len(cfg.RootFS.DiffIDs), "diff_id"), count(len(n.Layers), "layer"))})
		}
	}
	if plat != nil {
		w.ir.Platforms = append(w.ir.Platforms, platform.FromOCI(*plat).String())
	}
	return nil
}

func relPath(root, path string) string {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(rel)
}

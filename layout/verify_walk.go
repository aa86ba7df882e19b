package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/platform"
)

// checkLayoutFiles checks oci-layout and reads index.json; ok is false
// when index.json cannot be walked.
func (v *verifier) checkLayoutFiles() (*ocispec.Index, bool) {
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
	idx, err := v.l.ReadIndex()
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
	byName := map[string]ocispec.Descriptor{}
	for _, d := range idx.Manifests {
		name := NameOf(d)
		if _, dup := byName[name]; dup && name != "" {
			v.add(Finding{Kind: KindMalformed, Path: IndexFile, Image: name, Message: "two index.json entries have this name"})
		}
		byName[name] = d
	}
	if v.opts.Images != nil {
		configured := map[string]bool{}
		for _, e := range v.opts.Images {
			configured[e.Name] = true
			d, ok := byName[e.Name]
			if !ok {
				v.add(Finding{Kind: KindNotSynced, Path: IndexFile, Image: e.Name, Expected: e.Digest.String(), Message: "configured but not in index.json: run vendorimg sync"})
				continue
			}
			if d.Digest != e.Digest {
				v.add(Finding{Kind: KindPin, Path: IndexFile, Image: e.Name, Expected: e.Digest.String(), Actual: d.Digest.String(),
					Message: fmt.Sprintf("index.json has %s, vendorimg.yaml pins %s", d.Digest, e.Digest)})
			}
		}
		for _, d := range idx.Manifests {
			if !configured[NameOf(d)] {
				v.add(Finding{Kind: KindUnconfigured, Path: IndexFile, Image: NameOf(d), Actual: d.Digest.String(), Message: "index.json entry for an image vendorimg.yaml does not list: run vendorimg sync"})
			}
		}
	}
	expect := map[string]Expect{}
	for _, e := range v.opts.Images {
		expect[e.Name] = e
	}
	for _, d := range idx.Manifests {
		name := NameOf(d)
		w := &graphWalk{v: v, image: name, ir: &ImageReport{Name: name, Digest: d.Digest, MediaType: d.MediaType, Platforms: []string{}}, counted: map[digest.Digest]bool{}}
		if e, ok := expect[name]; ok && v.opts.Images != nil {
			w.sel, w.strict = e.Platforms, true
		} else {
			w.sel = platform.All
		}
		if err := w.document(ctx, d, nil, "", true); err != nil {
			return err
		}
		v.report.Images = append(v.report.Images, *w.ir)
	}
	return nil
}

// graphWalk verifies the graph of one index.json entry.
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
}

func (w *graphWalk) count(d ocispec.Descriptor) {
	w.v.reached[d.Digest] = true
	if !w.counted[d.Digest] {
		w.counted[d.Digest] = true
		w.ir.Blobs++
		w.ir.Bytes += d.Size
	}
}

// stat checks that the blob d is a regular file of d.Size bytes and
// reports what is wrong; ok says whether to read it.
func (w *graphWalk) stat(d ocispec.Descriptor, required bool, what string) (ok bool) {
	path, err := w.v.l.BlobPath(d.Digest)
	rel := RelBlobPath(d.Digest)
	if err != nil {
		w.v.add(Finding{Kind: KindMalformed, Image: w.image, Message: fmt.Sprintf("%s descriptor: %v", what, err)})
		return false
	}
	// Referenced even when wrong: a blob of the wrong size is reported as
	// such, not also as unreferenced (which says gc would remove it).
	w.v.reached[d.Digest] = true
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if required {
			w.v.add(Finding{Kind: KindMissing, Path: rel, Image: w.image, Expected: d.Digest.String(), Message: what + " is missing"})
		}
		return false
	case err != nil:
		w.v.add(Finding{Kind: KindMalformed, Path: rel, Image: w.image, Message: err.Error()})
		return false
	case fi.Mode()&fs.ModeSymlink != 0:
		w.v.add(Finding{Kind: KindSymlink, Path: rel, Image: w.image, Expected: d.Digest.String(), Message: what + " is a symlink, not a file"})
		return false
	case !fi.Mode().IsRegular():
		w.v.add(Finding{Kind: KindNotRegular, Path: rel, Image: w.image, Expected: d.Digest.String(), Message: fmt.Sprintf("%s is not a regular file (%s)", what, fi.Mode().Type())})
		return false
	case fi.Size() != d.Size:
		w.v.add(Finding{Kind: KindSize, Path: rel, Image: w.image, Expected: sizeStr(d.Size), Actual: sizeStr(fi.Size()),
			Message: fmt.Sprintf("%s %s is %d bytes, its descriptor says %d", what, d.Digest, fi.Size(), d.Size)})
		return false
	}
	w.count(d)
	return true
}

// read reads a document or config whole (it is small: the limit is
// checked against the descriptor before anything is read) and checks its
// digest.
func (w *graphWalk) read(ctx context.Context, d ocispec.Descriptor, limit int64, what string) ([]byte, bool) {
	rel := RelBlobPath(d.Digest)
	if d.Size > limit {
		w.v.add(Finding{Kind: KindMalformed, Path: rel, Image: w.image, Message: fmt.Sprintf("%s descriptor says %d bytes, more than the %d vendorimg reads", what, d.Size, limit)})
		return nil, false
	}
	f, err := w.v.l.OpenBlob(d.Digest)
	if err != nil {
		w.v.add(Finding{Kind: KindMalformed, Path: rel, Image: w.image, Message: err.Error()})
		return nil, false
	}
	defer f.Close()
	raw, err := readAtMost(f, limit)
	if err != nil {
		w.v.add(Finding{Kind: KindMalformed, Path: rel, Image: w.image, Message: err.Error()})
		return nil, false
	}
	w.v.report.Blobs++
	w.v.report.Bytes += int64(len(raw))
	w.v.progress(int64(len(raw)))
	if got := digest.FromBytes(raw); got != d.Digest {
		w.v.add(Finding{Kind: KindDigest, Path: rel, Image: w.image, Expected: d.Digest.String(), Actual: got.String(),
			Message: fmt.Sprintf("%s %s hashes to %s", what, d.Digest, got)})
		return nil, false
	}
	return raw, true
}

// document verifies an index or manifest and what it references. plat
// is the platform its parent index gives it.
func (w *graphWalk) document(ctx context.Context, d ocispec.Descriptor, plat *ocispec.Platform, parent string, top bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	what := "manifest"
	if manifest.IsIndex(d.MediaType) {
		what = "index"
	}
	if top {
		what = "top-level " + what
	}
	if !w.stat(d, top || w.strict, what) {
		return nil
	}
	raw, ok := w.read(ctx, d, manifest.MaxManifestSize, what)
	if !ok {
		return nil
	}
	rel := RelBlobPath(d.Digest)
	n, err := manifest.Parse("", raw)
	if err != nil {
		w.v.add(Finding{Kind: KindMalformed, Path: rel, Image: w.image, Message: fmt.Sprintf("%s: %v", what, err)})
		return nil
	}
	if n.MediaType != d.MediaType {
		w.v.add(Finding{Kind: KindMediaType, Path: rel, Image: w.image, Expected: d.MediaType, Actual: n.MediaType,
			Message: fmt.Sprintf("%s is a %s, its descriptor%s says %s", what, n.MediaType, parentSuffix(parent), d.MediaType)})
	}
	if n.IsIndex() {
		return w.index(ctx, d, n)
	}
	return w.manifest(ctx, d, n, plat, top)
}

func parentSuffix(parent string) string {
	if parent == "" {
		return " in index.json"
	}
	return " in " + parent
}

func (w *graphWalk) index(ctx context.Context, d ocispec.Descriptor, n *manifest.Node) error {
	if !w.sel.All {
		for _, p := range w.sel.Platforms {
			found := false
			for _, c := range n.Manifests {
				if c.Platform != nil && p.Matches(*c.Platform) {
					found = true
				}
			}
			if !found {
				w.v.add(Finding{Kind: KindPlatform, Path: RelBlobPath(d.Digest), Image: w.image, Expected: p.String(),
					Message: fmt.Sprintf("platform %s is selected but the index has no manifest for it (it has %s)", p, describePlatforms(n.Manifests))})
			}
		}
	}
	for _, c := range n.Manifests {
		selected := w.sel.Matches(c.Platform)
		if manifest.IsWalkable(c.MediaType) {
			// Unselected children are walked too when present: if they are
			// there, they must be right.
			if !selected {
				if ok, _ := w.v.l.HasBlob(c); !ok {
					continue
				}
			}
			if err := w.document(ctx, c, c.Platform, RelBlobPath(d.Digest), false); err != nil {
				return err
			}
			continue
		}
		if w.stat(c, selected && w.strict, "index entry") {
			w.v.queue(c, w.image, "")
		}
	}
	return nil
}

func (w *graphWalk) manifest(ctx context.Context, d ocispec.Descriptor, n *manifest.Node, plat *ocispec.Platform, top bool) error {
	var cfg *manifest.Config
	if w.stat(n.Config, true, "config") {
		if manifest.IsImageConfig(n.Config.MediaType) {
			if raw, ok := w.read(ctx, n.Config, manifest.MaxConfigSize, "config"); ok {
				c, err := manifest.ParseConfig(raw)
				if err != nil {
					w.v.add(Finding{Kind: KindMalformed, Path: RelBlobPath(n.Config.Digest), Image: w.image, Message: err.Error()})
				} else {
					cfg = c
				}
			}
		} else {
			w.v.queue(n.Config, w.image, "")
		}
	}
	if cfg != nil {
		p := cfg.Platform()
		if plat == nil {
			plat = &p
		}
		if top && !w.sel.Matches(&p) {
			w.v.add(Finding{Kind: KindPlatform, Path: RelBlobPath(n.Config.Digest), Image: w.image, Expected: w.sel.String(), Actual: platform.FromOCI(p).String(),
				Message: fmt.Sprintf("the image is a single manifest for %s, not %s", platform.FromOCI(p), w.sel)})
		}
		if w.v.opts.Deep && len(cfg.RootFS.DiffIDs) != len(n.Layers) {
			w.v.add(Finding{Kind: KindDiffID, Path: RelBlobPath(n.Config.Digest), Image: w.image, Expected: fmt.Sprintf("%d layers", len(n.Layers)), Actual: fmt.Sprintf("%d diff_ids", len(cfg.RootFS.DiffIDs)),
				Message: fmt.Sprintf("the config lists %d diff_ids for %d layers", len(cfg.RootFS.DiffIDs), len(n.Layers))})
		}
	}
	if plat != nil {
		w.ir.Platforms = append(w.ir.Platforms, platform.FromOCI(*plat).String())
	}
	for i, layer := range n.Layers {
		if !w.stat(layer, true, "layer") {
			continue
		}
		diffID := digest.Digest("")
		if w.v.opts.Deep && cfg != nil && i < len(cfg.RootFS.DiffIDs) {
			diffID = cfg.RootFS.DiffIDs[i]
		}
		w.v.queue(layer, w.image, diffID)
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

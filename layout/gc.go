package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/disk"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// Garbage is a file garbage collection removes.
type Garbage struct {
	// Path is relative to the layout, with slashes.
	Path string `json:"path"`
	Size int64  `json:"size"`
	// Reason is "unreferenced" (a blob index.json does not reach) or
	// "temporary" (left by an interrupted write).
	Reason string `json:"reason"`
}

// GCPlan is what garbage collection would remove.
type GCPlan struct {
	Remove []Garbage `json:"remove"`
	// Kept is the number of blobs index.json reaches.
	Kept int `json:"kept"`
}

// Bytes is the total size of what the plan removes.
func (p *GCPlan) Bytes() int64 {
	var n int64
	for _, g := range p.Remove {
		n += g.Size
	}
	return n
}

// PlanGC finds the blobs nothing in index.json reaches (through any
// platform, selected or not: only what no entry can reach is garbage) and
// the temporary files interrupted writers left. It changes nothing. It
// refuses to plan when a stored document cannot be read, since its
// children cannot then be known: run verify and sync first. A layout with
// no index.json (a first sync was interrupted) has only its temporary files
// planned: no blob is known to be garbage.
func (l *Layout) PlanGC(ctx context.Context) (*GCPlan, error) {
	idx, err := l.ReadIndex(ctx)
	// Without index.json (a first sync killed before it wrote one), what
	// the blobs belong to is unknown: only temporary files are garbage.
	noIndex := errors.Is(err, fs.ErrNotExist)
	switch {
	case noIndex:
		idx = &ocispec.Index{}
	case err != nil:
		return nil, fmt.Errorf("planning gc: %w", err)
	}
	reach := map[digest.Digest]bool{}
	for _, d := range idx.Manifests {
		if err := l.Reach(ctx, d, reach); err != nil {
			return nil, fmt.Errorf("planning gc: %w", err)
		}
	}
	plan := &GCPlan{Remove: []Garbage{}}
	for _, dir := range []string{l.root, l.blobDir()} {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("planning gc: %w", err)
		}
		for _, e := range entries {
			info, err := e.Info()
			if err != nil {
				continue
			}
			rel := relPath(l.root, filepath.Join(dir, e.Name()))
			switch {
			case strings.HasPrefix(e.Name(), tempPrefix) && info.Mode().IsRegular():
				plan.Remove = append(plan.Remove, Garbage{Path: rel, Size: info.Size(), Reason: "temporary"})
			case strings.HasPrefix(e.Name(), tempPrefix) && info.IsDir() && dir == l.root:
				plan.Remove = append(plan.Remove, Garbage{Path: rel, Size: treeSize(filepath.Join(dir, e.Name())), Reason: "temporary"})
			case dir == l.blobDir() && info.Mode().IsRegular():
				dg := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
				if reference.CheckDigest(dg) != nil {
					continue // not a blob: verify reports it, gc leaves it
				}
				if reach[dg] || noIndex {
					plan.Kept++
				} else {
					plan.Remove = append(plan.Remove, Garbage{Path: rel, Size: info.Size(), Reason: "unreferenced"})
				}
			}
		}
	}
	slices.SortFunc(plan.Remove, func(a, b Garbage) int { return strings.Compare(a.Path, b.Path) })
	return plan, nil
}

// Reach adds to reach every blob the graph under top references, through
// any platform (stored or not), walking only what is stored. It fails when
// a stored document cannot be read, since what it lists cannot then be
// known.
func (l *Layout) Reach(ctx context.Context, top ocispec.Descriptor, reach map[digest.Digest]bool) error {
	return l.Walk(ctx, top, WalkOptions{Platforms: platform.All, Unselected: true}, func(s *Step) error {
		reach[s.Digest] = true
		if s.Role == RoleConfig {
			return nil // a config lists nothing; its bytes are verify's business
		}
		if err := stepError(s); err != nil {
			return fmt.Errorf("%w (run vendorimg verify)", err)
		}
		if s.Read && s.ReadErr != nil {
			return fmt.Errorf("%s: %w (run vendorimg verify)", RelBlobPath(s.Digest), s.ReadErr)
		}
		return nil
	})
}

// ApplyGC removes what plan lists. Run it under the exclusive Lock, with a
// plan made under the same lock.
func (l *Layout) ApplyGC(ctx context.Context, plan *GCPlan) error {
	for _, g := range plan.Remove {
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.Contains(g.Path, "..") {
			return fmt.Errorf("gc: %w: refusing path %q", errs.ErrInvalidLayout, g.Path)
		}
		if err := os.RemoveAll(filepath.Join(l.root, filepath.FromSlash(g.Path))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("gc: removing %s: %w", g.Path, err)
		}
	}
	if len(plan.Remove) == 0 {
		return nil // nothing removed: nothing to make durable
	}
	return syncBlobDir(l)
}

// syncBlobDir makes removals from the blob folder durable; a layout with
// no blob folder has nothing to sync.
func syncBlobDir(l *Layout) error {
	if _, err := os.Lstat(l.blobDir()); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return disk.SyncDir(l.blobDir())
}

// treeSize is the size of the regular files under dir, not following
// symlinks.
func treeSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// RemoveTemporary deletes the temporary files interrupted writers left,
// and the stages of interrupted commands. Call it only under the
// exclusive Lock: then no writer is running.
func (l *Layout) RemoveTemporary(ctx context.Context) (int, error) {
	n := 0
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	for _, dir := range []string{l.root, l.blobDir()} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), tempPrefix) {
				continue
			}
			path := filepath.Join(dir, e.Name())
			switch {
			case e.Type().IsRegular():
				err = os.Remove(path)
			case e.IsDir() && dir == l.root:
				// A stage, or the remains of one.
				err = os.RemoveAll(path)
			default:
				continue // a symlink or special file: verify reports it
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return n, fmt.Errorf("removing temporary file %s: %w", e.Name(), err)
			}
			n++
		}
	}
	return n, nil
}

// PlanPrune plans the removal of the blobs that keep does not hold
// (Reason "unreferenced"), sorted by path: sync's pruning plan, with keep
// the blobs the configured images use, which ApplyGC carries out as it
// does gc's. Files that are not blobs are left to verify. It changes
// nothing; run it, and ApplyGC after it, under the exclusive Lock.
func (l *Layout) PlanPrune(ctx context.Context, keep map[digest.Digest]bool) (*GCPlan, error) {
	plan := &GCPlan{Remove: []Garbage{}}
	entries, err := os.ReadDir(l.blobDir())
	if errors.Is(err, fs.ErrNotExist) {
		return plan, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pruning %s: %w", l.root, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dg := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if !e.Type().IsRegular() || reference.CheckDigest(dg) != nil {
			continue
		}
		if keep[dg] {
			plan.Kept++
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		plan.Remove = append(plan.Remove, Garbage{Path: RelBlobPath(dg), Size: info.Size(), Reason: "unreferenced"})
	}
	return plan, nil
}

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
	"github.com/vendorimg/vendorimg/manifest"
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
// children cannot then be known: run verify and sync first.
func (l *Layout) PlanGC(ctx context.Context) (*GCPlan, error) {
	idx, err := l.ReadIndex()
	if err != nil {
		return nil, fmt.Errorf("planning gc: %w", err)
	}
	reach := map[digest.Digest]bool{}
	var walk func(d ocispec.Descriptor) error
	walk = func(d ocispec.Descriptor) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if reach[d.Digest] {
			return nil
		}
		reach[d.Digest] = true
		if !manifest.IsWalkable(d.MediaType) {
			return nil
		}
		raw, err := l.ReadBlob(ctx, d.Digest, manifest.MaxManifestSize)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("planning gc: %w (run vendorimg verify)", err)
		}
		n, err := manifest.Parse(d.MediaType, raw)
		if err != nil {
			return fmt.Errorf("planning gc: %s: %w (run vendorimg verify)", RelBlobPath(d.Digest), err)
		}
		for _, c := range append(n.Manifests, n.Blobs()...) {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	for _, d := range idx.Manifests {
		if err := walk(d); err != nil {
			return nil, err
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
			case dir == l.blobDir() && info.Mode().IsRegular():
				dg := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
				if manifest.CheckDigest(dg) != nil {
					continue // not a blob: verify reports it, gc leaves it
				}
				if reach[dg] {
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
		if err := os.Remove(filepath.Join(l.root, filepath.FromSlash(g.Path))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("gc: removing %s: %w", g.Path, err)
		}
	}
	return syncDir(l.blobDir())
}

// RemoveTemporary deletes temporary files that interrupted writers left.
// Call it only under the exclusive Lock: then no writer is running.
func (l *Layout) RemoveTemporary() (int, error) {
	n := 0
	for _, dir := range []string{l.root, l.blobDir()} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), tempPrefix) && e.Type().IsRegular() {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return n, fmt.Errorf("removing temporary file %s: %w", e.Name(), err)
				}
				n++
			}
		}
	}
	return n, nil
}

package layout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/disk"
)

// File and folder names of an OCI image layout.
const (
	LayoutFile = ocispec.ImageLayoutFile // "oci-layout"
	IndexFile  = "index.json"
	BlobsDir   = ocispec.ImageBlobsDir // "blobs"
	// GitAttributesFile may sit in the layout's root; vendorimg writes it
	// so that git treats blobs as binary, and verify accepts it.
	GitAttributesFile = ".gitattributes"
	// tempPrefix starts the names of blobs being written; a crashed writer
	// may leave one, which the next writer removes.
	tempPrefix = ".tmp-"
)

// Permissions of everything vendorimg writes, whatever the umask: the
// layout is committed to git, and git records the executable bit only.
const (
	FileMode = 0o644
	DirMode  = 0o755
)

// layoutFileContent is what vendorimg writes to oci-layout, the example
// from image-spec's image-layout.md.
var layoutFileContent = []byte(`{"imageLayoutVersion": "1.0.0"}` + "\n")

// gitAttributesContent tells git that blobs are binary: no diffs, no
// end-of-line conversion of a JSON manifest, whose digest depends on it.
var gitAttributesContent = []byte("blobs/** binary\n")

// Layout is an OCI image layout at a path. Its methods are safe for
// concurrent use by one process; across processes, writers take Lock.
type Layout struct {
	root string
	// stage, when not nil, makes this the view of a Stage: blobs are
	// written into it and read from it when staged.
	stage *Stage
}

// New returns the layout at root. It does no I/O: the folder may not exist
// yet (Init creates it).
func New(root string) *Layout { return &Layout{root: filepath.Clean(root)} }

// Root is the layout's folder.
func (l *Layout) Root() string { return l.root }

func (l *Layout) blobDir() string { return filepath.Join(l.root, BlobsDir, "sha256") }

// Exists reports whether the layout's folder holds an oci-layout file.
func (l *Layout) Exists() bool {
	fi, err := os.Lstat(filepath.Join(l.root, LayoutFile))
	return err == nil && fi.Mode().IsRegular()
}

// MkdirRoot creates the layout's folder (and its parents) if it is
// missing, so that it can be locked before Init writes anything.
func (l *Layout) MkdirRoot() error { return mkdir(l.root) }

// Init creates the layout's folders, its oci-layout file, an empty
// index.json and a .gitattributes marking blobs as binary, each only if it
// is missing. An existing oci-layout must declare version 1.0.0. Writers
// call it under the exclusive Lock (see MkdirRoot).
func (l *Layout) Init(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, dir := range []string{l.root, filepath.Join(l.root, BlobsDir), l.blobDir()} {
		if err := mkdir(dir); err != nil {
			return err
		}
	}
	if err := l.checkLayoutFile(); errors.Is(err, fs.ErrNotExist) {
		if err := writeFileAtomic(l.root, LayoutFile, layoutFileContent); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if _, err := os.Lstat(filepath.Join(l.root, IndexFile)); errors.Is(err, fs.ErrNotExist) {
		if _, err := l.WriteIndex(ctx, nil); err != nil {
			return err
		}
	}
	if _, err := os.Lstat(filepath.Join(l.root, GitAttributesFile)); errors.Is(err, fs.ErrNotExist) {
		if err := writeFileAtomic(l.root, GitAttributesFile, gitAttributesContent); err != nil {
			return err
		}
	}
	return nil
}

// mkdir creates dir and its missing parents, 0755 whatever the umask, each
// synced into its parent (disk.MkdirAll). A dir that exists and is not a
// folder (or is a symlink) is an invalid layout.
func mkdir(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("creating %s: %w: exists and is not a folder", dir, errs.ErrInvalidLayout)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	_, err = disk.MkdirAll(dir, DirMode)
	return err
}

// checkLayoutFile reads oci-layout; a missing file is fs.ErrNotExist.
func (l *Layout) checkLayoutFile() error {
	b, err := readSmallFile(filepath.Join(l.root, LayoutFile), 4096)
	if err != nil {
		return err
	}
	var lf ocispec.ImageLayout
	if err := json.Unmarshal(b, &lf); err != nil {
		return fmt.Errorf("reading %s: %w: %v", filepath.Join(l.root, LayoutFile), errs.ErrInvalidLayout, err)
	}
	if lf.Version != ocispec.ImageLayoutVersion {
		return fmt.Errorf("reading %s: %w: imageLayoutVersion %q, want %q", filepath.Join(l.root, LayoutFile), errs.ErrInvalidLayout, lf.Version, ocispec.ImageLayoutVersion)
	}
	return nil
}

// readSmallFile reads a regular file (never through a symlink) of at most
// limit bytes.
func readSmallFile(path string, limit int64) ([]byte, error) {
	b, opened, err := readRegular(path, limit)
	if err != nil && opened {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return b, err
}

// writeFileAtomic writes name in dir through a temporary file in dir,
// synced, renamed, then the folder synced (disk.WriteFile): readers see the
// old content or the new, never part, and so does the next run after a
// crash. It leaves the file alone when it already holds exactly content,
// so that a no-op run does not even touch modification times.
func writeFileAtomic(dir, name string, content []byte) error {
	path := filepath.Join(dir, name)
	if old, err := readSmallFile(path, int64(len(content))); err == nil && bytes.Equal(old, content) {
		if fi, err := os.Lstat(path); err == nil && fi.Mode().Perm() == FileMode {
			return nil
		}
	}
	return disk.WriteFile(path, content, FileMode, tempPrefix+name+"-*")
}

package layout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/disk"
	"github.com/vendorimg/vendorimg/reference"
)

// BlobPath is where the blob with digest d lives. It fails for anything but
// a canonical sha256 digest, so a hostile digest never becomes a path, and
// when blobs/ or blobs/sha256 is a symlink (or not a folder), so that no
// blob is ever read from outside the layout.
func (l *Layout) BlobPath(d digest.Digest) (string, error) {
	if err := reference.CheckDigest(d); err != nil {
		return "", err
	}
	if err := l.checkBlobDirs(); err != nil {
		return "", err
	}
	return l.blobFile(d), nil
}

// blobFile is where blob d lives, for a canonical digest, once the blob
// folders are known to be folders (checkBlobDirs): a staged blob is in its
// stage.
func (l *Layout) blobFile(d digest.Digest) string {
	if l.stage != nil && l.stage.has(d) {
		return l.stage.path(d)
	}
	return filepath.Join(l.blobDir(), d.Encoded())
}

// checkBlobDirs refuses a blobs/ or blobs/sha256 that is a symlink or not a
// folder. Folders that do not exist yet are fine (their blobs are absent).
func (l *Layout) checkBlobDirs() error {
	for _, dir := range []string{filepath.Join(l.root, BlobsDir), l.blobDir()} {
		fi, err := os.Lstat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %s is a symlink, which vendorimg never follows", errs.ErrInvalidLayout, relPath(l.root, dir))
		case !fi.IsDir():
			return fmt.Errorf("%w: %s is not a folder", errs.ErrInvalidLayout, relPath(l.root, dir))
		}
	}
	return nil
}

// RelBlobPath is BlobPath relative to the layout's root, with slashes, as
// reports print it ("blobs/sha256/4abc...").
func RelBlobPath(d digest.Digest) string {
	return BlobsDir + "/" + d.Algorithm().String() + "/" + d.Encoded()
}

// BlobSize returns the size of the stored blob d, or fs.ErrNotExist. A
// symlink or a non-regular file in its place is an error, never followed.
func (l *Layout) BlobSize(ctx context.Context, d digest.Digest) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	path, err := l.BlobPath(d)
	if err != nil {
		return 0, err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return 0, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return 0, fmt.Errorf("blob %s: %w: %s is a symlink, which vendorimg never follows", d, errs.ErrInvalidLayout, RelBlobPath(d))
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("blob %s: %w: %s is not a regular file", d, errs.ErrInvalidLayout, RelBlobPath(d))
	}
	return fi.Size(), nil
}

// HasBlob reports whether blob desc is stored with the size desc gives. It
// does not rehash (Verify does); a blob of another size is treated as
// absent, so that sync replaces it.
func (l *Layout) HasBlob(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	size, err := l.BlobSize(ctx, desc.Digest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return size == desc.Size, nil
}

// OpenBlob opens the stored blob d for reading, refusing symlinks and
// special files. The caller must close it and, unless it only needs the
// bytes for something that is itself verified, hash what it reads.
func (l *Layout) OpenBlob(d digest.Digest) (*os.File, error) {
	path, err := l.BlobPath(d)
	if err != nil {
		return nil, err
	}
	f, err := openRegular(path)
	if err != nil {
		return nil, fmt.Errorf("opening blob %s: %w", d, err)
	}
	return f, nil
}

// ReadBlob reads the whole blob d, of at most limit bytes, and checks that
// it hashes to d. It is for manifests and configs; layers are streamed.
func (l *Layout) ReadBlob(ctx context.Context, d digest.Digest, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := l.BlobPath(d)
	if err != nil {
		return nil, err
	}
	b, opened, err := readRegular(path, limit)
	if err != nil && !opened {
		return nil, fmt.Errorf("opening blob %s: %w", d, err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", d, err)
	}
	if got := digest.FromBytes(b); got != d {
		return nil, fmt.Errorf("reading blob %s: %w: %s hashes to %s", d, errs.ErrDigestMismatch, RelBlobPath(d), got)
	}
	return b, nil
}

func tooLarge(limit int64) error {
	return fmt.Errorf("%w (more than %d bytes)", errs.ErrTooLarge, limit)
}

// WriteBlob stores the blob desc from r. The bytes go to a temporary file
// in the layout's blob folder and are hashed as they are written; the file
// is renamed into place only when exactly desc.Size bytes hash to
// desc.Digest. On any error, including a cancelled ctx, nothing is left
// behind and an existing blob is untouched. Outside a stage the blob is
// durable when WriteBlob returns: its bytes and then its folder are synced
// (a Stage syncs the folder once for all its blobs, in Commit). progress,
// if not nil, is called with the number of bytes written so far.
//
// If the blob is already stored with the right size, WriteBlob still reads
// r (so a caller streaming from a registry sees the same behaviour) but
// replaces the file only if the new bytes verify.
func (l *Layout) WriteBlob(ctx context.Context, desc ocispec.Descriptor, r io.Reader, progress func(written int64)) error {
	path, err := l.BlobPath(desc.Digest)
	if err != nil {
		return err
	}
	if desc.Size < 0 {
		return fmt.Errorf("writing blob %s: %w: negative size %d", desc.Digest, errs.ErrSizeMismatch, desc.Size)
	}
	dir := l.blobDir()
	if l.stage != nil {
		// A staged blob stays in the stage until Commit.
		if dir, err = l.stage.folder(); err != nil {
			return err
		}
		path = filepath.Join(dir, desc.Digest.Encoded())
	} else if err := mkdir(dir); err != nil {
		return err
	}
	f, err := disk.CreateTemp(dir, tempPrefix+desc.Digest.Encoded()[:12]+"-*")
	if err != nil {
		return fmt.Errorf("writing blob %s: %w", desc.Digest, err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	w := &countingWriter{ctx: ctx, w: io.MultiWriter(disk.NewWriter(f, tmp), h), progress: progress}
	// Read one byte more than expected, to tell "too long" from "exact".
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	if _, err := io.CopyBuffer(w, io.LimitReader(r, desc.Size+1), *buf); err != nil {
		return fmt.Errorf("writing blob %s: %w", desc.Digest, err)
	}
	if w.n != desc.Size {
		if w.n < desc.Size {
			// Also io.ErrUnexpectedEOF: a body cut short is worth another try.
			return fmt.Errorf("writing blob %s: %w: content ended after %d of %d bytes: %w", desc.Digest, errs.ErrSizeMismatch, w.n, desc.Size, io.ErrUnexpectedEOF)
		}
		return fmt.Errorf("writing blob %s: %w: content is longer than %d bytes", desc.Digest, errs.ErrSizeMismatch, desc.Size)
	}
	if got := digestOf(h); got != desc.Digest {
		return fmt.Errorf("writing blob %s: %w: content hashes to %s", desc.Digest, errs.ErrDigestMismatch, got)
	}
	if l.stage != nil {
		// A staged blob is flushed to disk in the background, while the
		// next one downloads; Commit waits for every flush before it moves
		// a blob into the layout. (Its name in the stage need not survive a
		// crash: the next run removes the stage.)
		if err := f.Chmod(FileMode); err != nil {
			return fmt.Errorf("writing blob %s: %w", desc.Digest, err)
		}
		if err := disk.Rename(tmp, path); err != nil {
			return fmt.Errorf("writing blob %s: %w", desc.Digest, err)
		}
		done = true
		l.stage.flush(desc.Digest, f, path)
		return nil
	}
	// Unstaged, one blob is made durable at a time: its bytes, its name,
	// and its folder. A stage batches the folder's sync.
	done = true
	if err := disk.Finish(f, tmp, FileMode); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing blob %s: %w", desc.Digest, err)
	}
	if err := disk.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing blob %s: %w", desc.Digest, err)
	}
	if err := disk.SyncDir(dir); err != nil {
		return fmt.Errorf("writing blob %s: %w", desc.Digest, err)
	}
	return nil
}

// WriteBlobBytes stores b as the blob desc, with WriteBlob's checks.
func (l *Layout) WriteBlobBytes(ctx context.Context, desc ocispec.Descriptor, b []byte) error {
	return l.WriteBlob(ctx, desc, bytes.NewReader(b), nil)
}

// copyBuffers hold the buffers blobs are copied through: 256 KiB, eight
// times io.Copy's default, means eight times fewer write calls for a layer.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func digestOf(h hash.Hash) digest.Digest { return digest.NewDigest(digest.SHA256, h) }

// countingWriter counts bytes, reports progress and stops when ctx is done.
type countingWriter struct {
	ctx      context.Context
	w        io.Writer
	n        int64
	progress func(int64)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil {
		c.progress(c.n)
	}
	return n, err
}

// BlobDigest is the digest of the blob at rel, a path relative to the
// layout as RelBlobPath writes it ("blobs/sha256/4abc..."), and whether rel
// is such a path.
func BlobDigest(rel string) (digest.Digest, bool) {
	enc, ok := strings.CutPrefix(rel, BlobsDir+"/sha256/")
	d := digest.NewDigestFromEncoded(digest.SHA256, enc)
	return d, ok && reference.CheckDigest(d) == nil
}

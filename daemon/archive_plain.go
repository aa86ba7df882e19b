package daemon

import (
	"archive/tar"
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
)

// errNotPlain: a layer cannot be sent uncompressed (its gzip stream does
// not end at the size its trailer gives: several members, or 4 GiB or more).
// The load starts again with the layers as stored.
var errNotPlain = errors.New("the layer cannot be sent uncompressed")

// plainable reports whether v's layers can be sent to a classic store
// uncompressed: each is gzip or an uncompressed tar, with a diff_id.
func plainable(v *vendored) bool {
	if len(v.diffIDs) != len(v.layers) {
		return false
	}
	for _, d := range v.layers {
		if !layout.Gzipped(d.MediaType) && !isTarLayer(d.MediaType) {
			return false
		}
	}
	return true
}

func isTarLayer(mt string) bool { return mt == ocispec.MediaTypeImageLayer }

// writePlainArchive writes the archive for the classic image store with
// the layers decompressed: for each image, its config, each layer as the
// tar its diff_id names (blobs/sha256/<diff_id>) and its manifest (as
// stored), every blob once, then manifest.json. The engine then only
// untars: the inflating is done here, on another core, while the engine
// writes the layers. Each image's ID is still its config digest. Every
// stored blob is rehashed as it is read; a blob that does not verify stops
// the archive before the last bytes of its layer and before manifest.json,
// so the engine loads nothing. The bytes counted are the stored
// (compressed) bytes read, as writeArchive counts them; the error wraps
// errNotPlain when a layer's gzip stream ends elsewhere than its trailer
// says (the caller then sends the compressed archive).
func writePlainArchive(a *archiveWriter) error {
	if err := a.dirs(); err != nil {
		return err
	}
	dms := []dockerManifest{}
	for i, v := range a.vs {
		a.i, a.v = i, v
		if err := a.blob(v.config, "config"); err != nil {
			return err
		}
		var layers []string
		for j, d := range v.layers {
			if err := a.plainLayer(d, v.diffIDs[j]); err != nil {
				return err
			}
			layers = append(layers, archiveBlobs+v.diffIDs[j].Encoded())
		}
		// The classic store does not read it, but the archive carries every
		// vendored blob of the image, as the other form does.
		if err := a.blob(v.manifest, "manifest"); err != nil {
			return err
		}
		dms = append(dms, dockerEntry(v, layers))
	}
	mf, err := json.Marshal(dms)
	if err != nil {
		return err
	}
	if err := a.file(archiveManifest, mf); err != nil {
		return err
	}
	return a.tw.Close()
}

// plainLayer streams the stored layer d as the uncompressed tar diffID
// names, once per archive.
func (a *archiveWriter) plainLayer(d ocispec.Descriptor, diffID digest.Digest) error {
	if a.written[diffID] {
		return nil
	}
	a.written[diffID] = true
	if isTarLayer(d.MediaType) {
		// Already a tar: as stored, under its diff_id (its own digest).
		return a.blobAs(d, "layer", archiveBlobs+diffID.Encoded())
	}
	where := a.where(d, "layer")
	f, err := a.open(d, where)
	if err != nil {
		return err
	}
	defer f.Close()
	// A gzip member ends with the uncompressed size modulo 2^32: the tar
	// entry's size, checked against what the stream really gives.
	if d.Size < 18 {
		return fmt.Errorf("streaming %s: %w: %d bytes is no gzip stream", where, errNotPlain, d.Size)
	}
	var trailer [4]byte
	if _, err := f.ReadAt(trailer[:], d.Size-4); err != nil {
		return fmt.Errorf("streaming %s: %w", where, err)
	}
	size := int64(binary.LittleEndian.Uint32(trailer[:]))
	if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: archiveBlobs + diffID.Encoded(), Mode: 0o644, Size: size, ModTime: archiveEpoch}); err != nil {
		return err
	}
	stored := newBackgroundHash(a.chunks)
	defer stored.stop()
	src := &countingReader{a: a, r: io.TeeReader(f, stored)}
	// The last bytes of the tar stay here until the stored blob hashed
	// right, so that the engine never gets a whole layer made from bytes
	// that changed on disk.
	hold := &holdBackWriter{w: &streamWriter{a: a, uncounted: true}, tail: a.tail[:0]}
	n, inflateErr := a.inflate(hold, src)
	if a.ctx.Err() != nil {
		return a.ctx.Err()
	}
	// What the decompressor did not read (a second member, padding, all
	// of it after an error) is hashed too: a blob that changed on disk is
	// reported as such, whatever the decompressor made of it.
	if _, err := io.CopyBuffer(io.Discard, src, a.buf); err != nil {
		return fmt.Errorf("streaming %s: %w", where, err)
	}
	if got := stored.digest(); got != d.Digest {
		return fmt.Errorf("streaming %s: %w: it hashes to %s", where, errs.ErrDigestMismatch, got)
	}
	switch {
	case inflateErr != nil:
		return fmt.Errorf("streaming %s: decompressing: %w", where, inflateErr)
	case n != size:
		return fmt.Errorf("streaming %s: %w: it decompresses to %d bytes, its gzip trailer says %d", where, errNotPlain, n, size)
	}
	return hold.flush()
}

// inflate decompresses the gzip stream r into w.
func (a *archiveWriter) inflate(w io.Writer, r io.Reader) (int64, error) {
	// The decompressor reads byte by byte from a bufio.Reader; its own
	// would be 4 KiB, 65,536 reads of the file for a 256 MiB layer.
	zr, err := kgzip.NewReader(bufio.NewReaderSize(r, copyBuffer))
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	return io.CopyBuffer(w, zr, a.buf)
}

// countingReader counts the stored bytes read, for progress.
type countingReader struct {
	a *archiveWriter
	r io.Reader
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.a.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.a.count(n)
	return n, err
}

// holdBackWriter writes all but the last holdBack bytes it is given, and
// the rest on flush.
type holdBackWriter struct {
	w    io.Writer
	tail []byte // at most holdBack bytes not yet written
}

func (h *holdBackWriter) Write(p []byte) (int, error) {
	total := len(p)
	if over := len(h.tail) + len(p) - holdBack; over > 0 {
		// Out goes what no longer fits: the oldest of the tail, then of p.
		fromTail := min(over, len(h.tail))
		if _, err := h.w.Write(h.tail[:fromTail]); err != nil {
			return 0, err
		}
		h.tail = h.tail[:copy(h.tail, h.tail[fromTail:])]
		if fromP := over - fromTail; fromP > 0 {
			if _, err := h.w.Write(p[:fromP]); err != nil {
				return 0, err
			}
			p = p[fromP:]
		}
	}
	h.tail = append(h.tail, p...)
	return total, nil
}

func (h *holdBackWriter) flush() error {
	_, err := h.w.Write(h.tail)
	h.tail = h.tail[:0]
	return err
}

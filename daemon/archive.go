package daemon

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
)

// Names in the archive, as docker 25+ "docker save" writes them.
const (
	archiveManifest = "manifest.json"
	archiveBlobs    = "blobs/sha256/"
)

// holdBack is how many of a blob's last bytes are kept back until the
// whole blob has hashed right: an engine that stores blobs as they arrive
// (the containerd store) never receives a complete tampered blob.
const holdBack = 64 << 10

// copyBuffer is the size of the buffer blobs are copied through.
const copyBuffer = 256 << 10

// archiveEpoch is every entry's modification time, so that the same image
// always streams the same bytes.
var archiveEpoch = time.Unix(0, 0).UTC()

// dockerManifest is an entry of a docker-archive's manifest.json, the form
// the classic image store loads (moby image/tarexport).
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// archiveWriter streams images as one docker-loadable tar, each blob once.
type archiveWriter struct {
	ctx context.Context
	l   *layout.Layout
	vs  []*vendored
	// v is the image whose blobs are being written, vs[i].
	v       *vendored
	i       int
	tw      *tar.Writer
	buf     []byte
	tail    []byte
	written map[digest.Digest]bool
	// chunks are the background hash's buffers.
	chunks *chunkPool
	// n is the blob bytes written for all images; sent, for each image of
	// vs (a blob an earlier image already sent counts for that one only).
	n        int64
	sent     []int64
	progress func(i int, n int64)
}

// writeArchive writes the images vs to w as one archive, as docker 25+
// "docker save" writes several: blobs/sha256/ with each image's config,
// layers (compressed, as stored) and manifest, every blob once, then
// oci-layout, index.json and manifest.json, which name every image. Each
// blob is rehashed as it streams; on a mismatch writeArchive stops before
// the blob's last bytes and before manifest.json, so the engine loads no
// image of the archive, with an error that names the blob and its image and
// wraps errs.ErrDigestMismatch or errs.ErrSizeMismatch. It returns the blob
// bytes written for each image of vs (see archiveSizes). progress, if not
// nil, gets image i's count as it grows.
//
// With plain, it writes the archive for the classic image store with the
// layers decompressed instead (see writePlainArchive).
func writeArchive(ctx context.Context, w io.Writer, l *layout.Layout, vs []*vendored, plain bool, progress func(i int, n int64)) ([]int64, error) {
	a := &archiveWriter{
		ctx: ctx, l: l, vs: vs, tw: tar.NewWriter(w),
		buf: make([]byte, copyBuffer), tail: make([]byte, holdBack),
		written: map[digest.Digest]bool{}, chunks: newChunkPool(), sent: make([]int64, len(vs)), progress: progress,
	}
	if plain {
		return a.sent, writePlainArchive(a)
	}
	return a.sent, a.writeStored()
}

// writeStored writes the archive with the layers as stored.
func (a *archiveWriter) writeStored() error {
	if err := a.dirs(); err != nil {
		return err
	}
	for i, v := range a.vs {
		a.i, a.v = i, v
		if err := a.blob(v.config, "config"); err != nil {
			return err
		}
		for _, d := range v.layers {
			if err := a.blob(d, "layer"); err != nil {
				return err
			}
		}
		if err := a.blob(v.manifest, "manifest"); err != nil {
			return err
		}
	}
	// Only now, with every blob verified, the files that make the engine
	// act on them.
	idx, mf, err := a.metadata()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{layout.LayoutFile, []byte(`{"imageLayoutVersion":"` + ocispec.ImageLayoutVersion + `"}`)},
		{layout.IndexFile, idx},
		{archiveManifest, mf},
	} {
		if err := a.file(f.name, f.data); err != nil {
			return err
		}
	}
	return a.tw.Close()
}

// dirs writes the archive's folders.
func (a *archiveWriter) dirs() error {
	for _, dir := range []string{"blobs/", archiveBlobs} {
		if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: archiveEpoch}); err != nil {
			return err
		}
	}
	return nil
}

// archiveSizes is the blob bytes the archive of vs carries for each image:
// those of its blobs no earlier image of vs carries. With plain, layers
// are told apart by diff_id, as writePlainArchive sends them.
func archiveSizes(vs []*vendored, plain bool) []int64 {
	seen := map[digest.Digest]bool{}
	add := func(key digest.Digest, size int64) int64 {
		if seen[key] {
			return 0
		}
		seen[key] = true
		return size
	}
	sizes := make([]int64, len(vs))
	for i, v := range vs {
		sizes[i] = add(v.config.Digest, v.config.Size) + add(v.manifest.Digest, v.manifest.Size)
		for j, d := range v.layers {
			key := d.Digest
			if plain && j < len(v.diffIDs) {
				key = v.diffIDs[j]
			}
			sizes[i] += add(key, d.Size)
		}
	}
	return sizes
}

// count adds n blob bytes written for the current image.
func (a *archiveWriter) count(n int) {
	if n <= 0 {
		return
	}
	a.n += int64(n)
	a.sent[a.i] += int64(n)
	if a.progress != nil {
		a.progress(a.i, a.sent[a.i])
	}
}

// dockerEntry is v's entry of manifest.json; layers are the archive's
// names of its layers.
func dockerEntry(v *vendored, layers []string) dockerManifest {
	dm := dockerManifest{Config: archiveBlobs + v.config.Digest.Encoded(), RepoTags: []string{}, Layers: layers}
	if v.tag != "" {
		// The full reference: docker shortens it as it likes, and podman
		// would put a short Docker Hub name under localhost/.
		dm.RepoTags = []string{v.name}
	}
	return dm
}

// metadata is index.json (for the containerd store) and manifest.json (for
// the classic store), each naming every image of the archive.
func (a *archiveWriter) metadata() (idx, mf []byte, err error) {
	index := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	index.SchemaVersion = 2
	dms := []dockerManifest{}
	for _, v := range a.vs {
		desc := ocispec.Descriptor{MediaType: v.manifest.MediaType, Digest: v.manifest.Digest, Size: v.manifest.Size}
		p := v.platform
		if p.OS != "" {
			desc.Platform = &p
		}
		if v.tag != "" {
			// containerd names images by their full reference and, as docker
			// save does, ref.name is the tag alone.
			desc.Annotations = map[string]string{
				layout.AnnotationContainerName: v.name,
				layout.AnnotationRefName:       v.refTag,
			}
		}
		index.Manifests = append(index.Manifests, desc)
		var layers []string
		for _, d := range v.layers {
			layers = append(layers, archiveBlobs+d.Digest.Encoded())
		}
		dms = append(dms, dockerEntry(v, layers))
	}
	if idx, err = json.Marshal(index); err != nil {
		return nil, nil, err
	}
	if mf, err = json.Marshal(dms); err != nil {
		return nil, nil, err
	}
	return idx, mf, nil
}

func (a *archiveWriter) file(name string, data []byte) error {
	if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: archiveEpoch}); err != nil {
		return err
	}
	_, err := a.tw.Write(data)
	return err
}

// blob streams the stored blob d, rehashing it, once per archive.
func (a *archiveWriter) blob(d ocispec.Descriptor, role string) error {
	if a.written[d.Digest] {
		return nil
	}
	a.written[d.Digest] = true
	return a.blobAs(d, role, archiveBlobs+d.Digest.Encoded())
}

// where names the blob d, of role, in messages.
func (a *archiveWriter) where(d ocispec.Descriptor, role string) string {
	return fmt.Sprintf("%s %s of %s (%s)", role, layout.RelBlobPath(d.Digest), a.v.name, a.v.platformString())
}

// open opens the stored blob d and checks that it has its descriptor's
// size.
func (a *archiveWriter) open(d ocispec.Descriptor, where string) (*os.File, error) {
	f, err := a.l.OpenBlob(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("streaming %s: %w", where, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("streaming %s: %w", where, err)
	}
	if fi.Size() != d.Size {
		f.Close()
		return nil, fmt.Errorf("streaming %s: %w: the file has %d bytes, its descriptor says %d", where, errs.ErrSizeMismatch, fi.Size(), d.Size)
	}
	return f, nil
}

// blobAs streams the stored blob d as the archive's file name, rehashing it.
func (a *archiveWriter) blobAs(d ocispec.Descriptor, role, name string) error {
	where := a.where(d, role)
	f, err := a.open(d, where)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: d.Size, ModTime: archiveEpoch}); err != nil {
		return err
	}
	h := newBackgroundHash(a.chunks)
	defer h.stop()
	src := &hashingReader{r: f, h: h}
	hold := min(d.Size, holdBack)
	body := d.Size - hold
	n, err := io.CopyBuffer(&streamWriter{a: a}, io.LimitReader(src, body), a.buf)
	if err != nil {
		return fmt.Errorf("streaming %s: %w", where, err)
	}
	tail := a.tail[:hold]
	if n < body {
		return fmt.Errorf("streaming %s: %w: the file ended after %d of %d bytes", where, errs.ErrSizeMismatch, n, d.Size)
	}
	if _, err := io.ReadFull(src, tail); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("streaming %s: %w: the file ended before %d bytes", where, errs.ErrSizeMismatch, d.Size)
		}
		return fmt.Errorf("streaming %s: %w", where, err)
	}
	var one [1]byte
	if m, _ := f.Read(one[:]); m > 0 {
		return fmt.Errorf("streaming %s: %w: the file is longer than %d bytes", where, errs.ErrSizeMismatch, d.Size)
	}
	if got := h.digest(); got != d.Digest {
		return fmt.Errorf("streaming %s: %w: it hashes to %s", where, errs.ErrDigestMismatch, got)
	}
	_, err = (&streamWriter{a: a}).Write(tail)
	return err
}

// streamWriter writes blob bytes into the tar, counting them, reporting
// progress and stopping when the context is done. It has no ReadFrom, so
// that copies go through the archive's own buffer. uncounted: the bytes
// are a decompressed layer's, and the stored bytes read are counted
// instead (countingReader).
type streamWriter struct {
	a         *archiveWriter
	uncounted bool
}

func (s *streamWriter) Write(p []byte) (int, error) {
	if err := s.a.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.a.tw.Write(p)
	if !s.uncounted {
		s.a.count(n)
	}
	return n, err
}

// hashingReader hashes what it reads. It has no WriteTo, for the same
// reason.
type hashingReader struct {
	r io.Reader
	h io.Writer
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

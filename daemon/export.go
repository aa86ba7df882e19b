package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/reference"
)

// maxArchiveLinks bounds how many symlinks are followed to reach a file
// of a saved archive (docker 20.10 links a layer saved twice).
const maxArchiveLinks = 8

// savedFile is what rehashing one file of a saved archive found.
type savedFile struct {
	digest digest.Digest
	size   int64
	// cut: the stream ended inside the file, so its digest is of a part.
	cut bool
}

// savedArchive is an engine's "docker save" of one image, rehashed as it
// streamed: a digest per file, and only the small JSON files that say
// which file is what kept whole.
type savedArchive struct {
	files map[string]savedFile
	// links are the symlinks, each to its target's cleaned path.
	links        map[string]string
	manifestJSON []byte
	indexJSON    []byte
	bytes        int64
}

// readSaved hashes every regular file of the tar stream r as it streams,
// keeping manifest.json and index.json (up to manifest.MaxManifestSize
// each) and nothing else: memory does not grow with layer size. On an
// error it returns what it read so far with the error.
func readSaved(ctx context.Context, r io.Reader) (*savedArchive, error) {
	a := &savedArchive{files: map[string]savedFile{}, links: map[string]string{}}
	tr := tar.NewReader(r)
	h := sha256.New()
	buf := make([]byte, copyBuffer)
	for {
		if err := ctx.Err(); err != nil {
			return a, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return a, nil
		}
		if err != nil {
			return a, fmt.Errorf("reading the engine's archive: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			a.links[name] = path.Join(path.Dir(name), hdr.Linkname)
			continue
		case tar.TypeReg:
		default:
			continue
		}
		var keep *bytes.Buffer
		if name == archiveManifest || name == layout.IndexFile {
			keep = &bytes.Buffer{}
		}
		n, err := hashFile(ctx, h, keep, tr, buf)
		if err != nil {
			a.bytes += n
			a.files[name] = savedFile{digest: digest.NewDigest(digest.SHA256, h), size: n, cut: true}
			return a, fmt.Errorf("reading %s of the engine's archive: %w", name, err)
		}
		a.bytes += n
		a.files[name] = savedFile{digest: digest.NewDigest(digest.SHA256, h), size: n}
		switch name {
		case archiveManifest:
			a.manifestJSON = keep.Bytes()
		case layout.IndexFile:
			a.indexJSON = keep.Bytes()
		}
	}
}

// hashFile hashes r into h (reset first), copying it into keep too when
// keep is not nil, up to manifest.MaxManifestSize.
func hashFile(ctx context.Context, h hash.Hash, keep *bytes.Buffer, r io.Reader, buf []byte) (int64, error) {
	h.Reset()
	var n int64
	for {
		m, err := r.Read(buf)
		if m > 0 {
			h.Write(buf[:m])
			n += int64(m)
			if keep != nil {
				if n > manifest.MaxManifestSize {
					return n, fmt.Errorf("more than %d bytes", manifest.MaxManifestSize)
				}
				keep.Write(buf[:m])
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
}

// file finds name in the archive, following symlinks.
func (a *savedArchive) file(name string) (savedFile, bool) {
	name = path.Clean(name)
	for range maxArchiveLinks {
		if f, ok := a.files[name]; ok {
			return f, true
		}
		target, ok := a.links[name]
		if !ok {
			return savedFile{}, false
		}
		name = target
	}
	return savedFile{}, false
}

// exportCheck exports the image docker holds as name (a tag or ID) through
// the engine's API and checks the archive against v, the vendored platform
// the image's ID identifies. It returns the bytes rehashed and the
// findings, with Image and Tag left for the caller; the error is for a
// cancelled ctx only, as anything the engine does wrong is a finding.
func exportCheck(ctx context.Context, c Client, l *layout.Layout, name string, v *vendored, byIndex bool) (int64, []Finding, error) {
	var platforms []ocispec.Platform
	if byIndex {
		// The tag names the pinned index: export the platform it matched.
		platforms = append(platforms, v.platform)
	}
	res, err := c.ImageSave(ctx, []string{name}, platforms...)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		f, err := refused(ctx, l, v, name, err)
		return 0, []Finding{f}, err
	}
	defer res.Close()
	tail := &tailWriter{}
	body := io.TeeReader(res, tail)
	a, err := readSaved(ctx, body)
	// What follows the tar's end (an engine's error) reaches the tail too.
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxTrailer))
	if ctx.Err() != nil {
		return 0, nil, ctx.Err()
	}
	// An engine that fails once it has started to stream (the containerd
	// store, when a blob does not hash to its digest) ends the stream with
	// its error as a JSON message, which a tar reader may take for the end.
	if msg := tail.engineError(); msg != "" {
		err = fmt.Errorf("the engine stopped the export: %s", msg)
	}
	if err == nil {
		return a.bytes, a.check(v, false), nil
	}
	// Cut short: what did arrive may still show the layer that differs.
	if fs := a.check(v, true); len(fs) > 0 {
		for i := range fs {
			fs[i].Message += " (" + err.Error() + ")"
		}
		return a.bytes, fs, nil
	}
	f, err := refused(ctx, l, v, name, err)
	return a.bytes, []Finding{f}, err
}

// tailWriter keeps the last bytes written to it: the end of an export
// stream, where an engine writes its error.
type tailWriter struct{ b []byte }

// tailSize is what tailWriter keeps, more than an engine's error message.
const tailSize = 4 << 10

// maxTrailer bounds what is read of an export stream after its tar's end.
const maxTrailer = 1 << 20

func (t *tailWriter) Write(p []byte) (int, error) {
	if len(p) >= tailSize {
		t.b = append(t.b[:0], p[len(p)-tailSize:]...)
		return len(p), nil
	}
	if over := len(t.b) + len(p) - tailSize; over > 0 {
		t.b = t.b[:copy(t.b, t.b[over:])]
	}
	t.b = append(t.b, p...)
	return len(p), nil
}

// engineError is the message of a JSON error an engine appended to the
// stream ({"errorMessage": ..., "errorDetail": {"message": ...}}), or "".
func (t *tailWriter) engineError() string {
	i := bytes.LastIndex(t.b, []byte(`{"error`))
	if i < 0 {
		return ""
	}
	var m struct {
		ErrorMessage string `json:"errorMessage"`
		Error        string `json:"error"`
		ErrorDetail  struct {
			Message string `json:"message"`
		} `json:"errorDetail"`
	}
	if json.Unmarshal(bytes.TrimSpace(t.b[i:]), &m) != nil {
		return ""
	}
	for _, s := range []string{m.ErrorDetail.Message, m.ErrorMessage, m.Error} {
		if s != "" {
			return s
		}
	}
	return ""
}

// refused is the finding for an export that failed. An engine that checks
// its own layers as it exports refuses to export a changed one: docker's
// classic store names the layer ("could not verify layer data for:
// sha256:...") or, when the layer's own per-file checksums catch it first,
// the file ("file integrity checksum failed for \"etc/passwd\""). The
// finding then names the layer: the one with that digest, or the vendored
// layers that hold a file of that name (read from the layout, only then).
func refused(ctx context.Context, l *layout.Layout, v *vendored, name string, err error) (Finding, error) {
	msg := err.Error()
	for i := range v.layers {
		for _, d := range []digest.Digest{v.diffIDs[i], v.layers[i].Digest} {
			if strings.Contains(msg, d.String()) {
				return contentFinding(i, v.diffIDs[i].String(), "", fmt.Sprintf("the engine refused to export %s, naming layer %d (diff_id %s): the layer's files in its storage no longer hash to the diff_id: %v", name, i, v.diffIDs[i], err)), nil
			}
		}
	}
	if m := checksumFailed().FindStringSubmatch(msg); m != nil {
		file, uerr := strconv.Unquote(m[1])
		if uerr != nil {
			file = strings.Trim(m[1], `"`)
		}
		in, lerr := layersWithFile(ctx, l, v, file)
		if lerr != nil && ctx.Err() != nil {
			return Finding{}, ctx.Err()
		}
		if len(in) > 0 {
			also := ""
			if len(in) > 1 {
				also = fmt.Sprintf(" (layers %s hold a file of that name; the engine exports them in order and stops at the first that differs)", joinInts(in))
			}
			i := in[0]
			return contentFinding(i, v.diffIDs[i].String(), "", fmt.Sprintf("the engine refused to export %s: the file %s of layer %d (diff_id %s) changed in its storage%s: %v", name, file, i, v.diffIDs[i], also, err)), nil
		}
		return contentFinding(-1, "", "", fmt.Sprintf("the engine refused to export %s: the file %s changed in its storage, and no vendored layer holds a file of that name: %v", name, file, err)), nil
	}
	return Finding{Kind: KindExport, Message: fmt.Sprintf("exporting %s from the engine: %v", name, err)}, nil
}

// checksumFailed is the message of an engine whose layer's per-file
// checksums (tar-split's) failed as it exported the layer.
var checksumFailed = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`checksum failed for ("(?:[^"\\]|\\.)*")`)
})

// layersWithFile lists the layers of v, read from the layout, whose tars
// hold an entry named file.
func layersWithFile(ctx context.Context, l *layout.Layout, v *vendored, file string) ([]int, error) {
	file = path.Clean(strings.TrimPrefix(file, "/"))
	var out []int
	for i, d := range v.layers {
		ok, err := layerHolds(ctx, l, d, file)
		if err != nil {
			return out, err
		}
		if ok {
			out = append(out, i)
		}
	}
	return out, nil
}

// layerHolds reports whether the layer blob d holds an entry named file.
func layerHolds(ctx context.Context, l *layout.Layout, d ocispec.Descriptor, file string) (bool, error) {
	f, err := l.OpenBlob(d.Digest)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r, err := layout.Decompress(f, d.MediaType)
	if err != nil {
		return false, err
	}
	defer r.Close()
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if path.Clean(strings.TrimPrefix(strings.TrimPrefix(hdr.Name, "./"), "/")) == file {
			return true, nil
		}
	}
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

func contentFinding(layer int, expected, actual, msg string) Finding {
	f := Finding{Kind: KindContent, Expected: expected, Actual: actual, Message: msg}
	if layer >= 0 {
		f.Layer = &layer
	}
	return f
}

// check compares the archive with v. Where each file is, is read from
// what the archive holds, whatever the engine: a docker-archive
// manifest.json (classic store and podman: plain tar layers, which must
// hash to the config's diff_ids, in order), else an OCI layout's blobs
// (the containerd store: blobs named by digest, layers as they were
// loaded, compressed or not). For an archive cut short (partial), it
// checks only the files that arrived whole, and reports nothing missing.
func (a *savedArchive) check(v *vendored, partial bool) []Finding {
	var out []Finding
	exportErr := func(format string, args ...any) {
		if !partial {
			out = append(out, Finding{Kind: KindExport, Message: fmt.Sprintf(format, args...)})
		}
	}
	file := func(name string) (savedFile, bool) {
		f, ok := a.file(name)
		return f, ok && !f.cut
	}
	cfgPath, layerPaths, err := a.locate(v, partial)
	if err != nil {
		exportErr("%v", err)
		return out
	}
	if f, ok := file(cfgPath); !ok {
		exportErr("the engine's archive lacks the config %s (%s)", v.config.Digest, cfgPath)
	} else if f.digest != v.config.Digest {
		out = append(out, contentFinding(-1, v.config.Digest.String(), f.digest.String(), fmt.Sprintf("the config the engine exported (%s) hashes to %s, not to the vendored %s", cfgPath, reference.Short(f.digest.String()), reference.Short(v.config.Digest.String()))))
	}
	if f, ok := file(archiveBlobs + v.manifest.Digest.Encoded()); ok && f.digest != v.manifest.Digest {
		out = append(out, contentFinding(-1, v.manifest.Digest.String(), f.digest.String(), fmt.Sprintf("the manifest the engine exported hashes to %s, not to the vendored %s", reference.Short(f.digest.String()), reference.Short(v.manifest.Digest.String()))))
	}
	if len(layerPaths) != len(v.diffIDs) {
		exportErr("the engine's archive lists %s for the config's %s", count(len(layerPaths), "layer"), count(len(v.diffIDs), "diff_id"))
		return out
	}
	for i, p := range layerPaths {
		f, ok := file(p)
		switch {
		case !ok:
			exportErr("the engine's archive lacks layer %d (diff_id %s, %s)", i, v.diffIDs[i], p)
		case f.digest == v.diffIDs[i] || f.digest == v.layers[i].Digest:
		default:
			out = append(out, contentFinding(i, v.diffIDs[i].String(), f.digest.String(), fmt.Sprintf("layer %d (diff_id %s) as the engine exported it (%s, %d bytes) hashes to %s: what the engine stores of it changed", i, v.diffIDs[i], p, f.size, f.digest)))
		}
	}
	return out
}

// locate finds v's config and layers in the archive.
func (a *savedArchive) locate(v *vendored, partial bool) (string, []string, error) {
	if a.manifestJSON != nil {
		var mfs []dockerManifest
		if err := json.Unmarshal(a.manifestJSON, &mfs); err != nil {
			return "", nil, fmt.Errorf("the engine's archive has a malformed %s: %w", archiveManifest, err)
		}
		if m, ok := a.entry(mfs, v); ok {
			return m.Config, m.Layers, nil
		}
		return "", nil, fmt.Errorf("the engine's %s has no entry for the config %s", archiveManifest, v.config.Digest)
	}
	switch {
	case a.indexJSON != nil:
		var idx ocispec.Index
		if err := json.Unmarshal(a.indexJSON, &idx); err != nil {
			return "", nil, fmt.Errorf("the engine's archive has a malformed %s: %w", layout.IndexFile, err)
		}
	case !partial:
		return "", nil, errors.New("the engine's archive has neither " + archiveManifest + " nor " + layout.IndexFile)
	}
	// An OCI layout, or an archive cut short before the file that says
	// which file is what: blobs are named by their digests.
	var layers []string
	for i, l := range v.layers {
		p := archiveBlobs + l.Digest.Encoded()
		if _, ok := a.file(p); !ok {
			// An engine that exports layers uncompressed names them by diff_id.
			if alt := archiveBlobs + v.diffIDs[i].Encoded(); a.has(alt) {
				p = alt
			}
		}
		layers = append(layers, p)
	}
	return archiveBlobs + v.config.Digest.Encoded(), layers, nil
}

func (a *savedArchive) has(name string) bool {
	_, ok := a.file(name)
	return ok
}

// entry is the manifest.json entry of v: the one whose config hashes to
// v's config, or is named after it, or the only one.
func (a *savedArchive) entry(mfs []dockerManifest, v *vendored) (dockerManifest, bool) {
	for _, m := range mfs {
		if f, ok := a.file(m.Config); ok && f.digest == v.config.Digest {
			return m, true
		}
	}
	for _, m := range mfs {
		if strings.TrimSuffix(path.Base(m.Config), ".json") == v.config.Digest.Encoded() {
			return m, true
		}
	}
	if len(mfs) == 1 {
		return mfs[0], true
	}
	return dockerManifest{}, false
}

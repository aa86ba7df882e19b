package daemon

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/layout"
)

// StorageCheck says whether verify --daemon --deep compared the image's
// files in the engine's own storage with the vendored layers, and how.
type StorageCheck struct {
	// Checked: every file of every layer folder was compared.
	Checked bool `json:"checked"`
	// Driver is the engine's storage driver or snapshotter ("overlay2",
	// "fuse-overlayfs", "vfs", "native", "overlayfs").
	Driver string `json:"driver,omitempty"`
	// Files is how many entries (files, folders, links) were compared.
	Files int `json:"files,omitempty"`
	// Reason says why the storage was not checked, when it was not.
	Reason string `json:"reason,omitempty"`
}

// maxFileFindings bounds the findings one image's storage check reports
// one by one; the rest are counted in one more.
const maxFileFindings = 20

// entry is what a layer's tar says of one path, or what is on disk there.
type entry struct {
	typ      byte // tar.TypeReg, TypeDir, TypeSymlink, TypeChar, ...; whiteout for a deletion
	mode     int64
	uid, gid int
	link     string // a symlink's target
	size     int64
	sum      digest.Digest // a regular file's content
}

// whiteout is entry.typ for a path a layer deletes.
const whiteout = 'W'

// typeName says what an entry type is, in words.
func typeName(t byte) string {
	switch t {
	case tar.TypeReg:
		return "a regular file"
	case tar.TypeDir:
		return "a folder"
	case tar.TypeSymlink:
		return "a symbolic link"
	case tar.TypeChar:
		return "a character device"
	case tar.TypeBlock:
		return "a block device"
	case tar.TypeFifo:
		return "a named pipe"
	case whiteout:
		return "a whiteout (a deletion)"
	}
	return fmt.Sprintf("a file of type %q", t)
}

// layerEntries reads the vendored layer d from the layout: every path of
// its tar with its type, mode, owner, link target, size and content digest;
// whiteouts as deletions; opaque markers in opaque (the folders they
// mark). A hard link takes its target's entry.
func layerEntries(ctx context.Context, l *layout.Layout, d digest.Digest, mediaType string) (map[string]entry, []string, error) {
	f, err := l.OpenBlob(d)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r, err := layout.Decompress(f, mediaType)
	if err != nil {
		return nil, nil, fmt.Errorf("reading layer %s: %w", d, err)
	}
	defer r.Close()
	out := map[string]entry{}
	var opaque []string
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, opaque, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading layer %s: %w", d, err)
		}
		p := cleanPath(hdr.Name)
		if p == "" {
			continue
		}
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == ".wh..wh..opq":
			opaque = append(opaque, dir)
			continue
		case strings.HasPrefix(base, ".wh."):
			out[path.Join(dir, strings.TrimPrefix(base, ".wh."))] = entry{typ: whiteout}
			continue
		}
		e := entry{typ: hdr.Typeflag, mode: hdr.Mode & 0o7777, uid: hdr.Uid, gid: hdr.Gid}
		switch hdr.Typeflag {
		case tar.TypeReg:
			e.typ = tar.TypeReg
			h := sha256.New()
			n, err := io.Copy(h, tr)
			if err != nil {
				return nil, nil, fmt.Errorf("reading %s in layer %s: %w", p, d, err)
			}
			e.size, e.sum = n, digest.NewDigest(digest.SHA256, h)
		case tar.TypeSymlink:
			e.link = hdr.Linkname
		case tar.TypeLink:
			target, ok := out[cleanPath(hdr.Linkname)]
			if !ok {
				return nil, nil, fmt.Errorf("reading layer %s: %s is a hard link to %s, which the layer does not have before it", d, p, hdr.Linkname)
			}
			e = target
		}
		out[p] = e
	}
}

// cleanPath is a tar entry's path relative to the root: "./usr/bin/" is
// "usr/bin", "./" is "".
func cleanPath(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// mergeLayer applies a layer's entries over a file system's (a snapshot
// that holds every layer up to its own): its opaque folders lose what the
// layers below put in them, its whiteouts delete their path and all under
// it, its other entries replace theirs.
func mergeLayer(fsys map[string]entry, layer map[string]entry, opaque []string) {
	under := func(p, dir string) bool { return dir == "" || strings.HasPrefix(p, dir+"/") }
	for _, dir := range opaque {
		for p := range fsys {
			if under(p, dir) {
				delete(fsys, p)
			}
		}
	}
	for p, e := range layer {
		if e.typ != whiteout {
			continue
		}
		delete(fsys, p)
		for q := range fsys {
			if under(q, p) {
				delete(fsys, q)
			}
		}
	}
	for p, e := range layer {
		if e.typ != whiteout {
			fsys[p] = e
		}
	}
}

// diskEntry reads what is at p on disk. A character device 0/0 is an
// overlay whiteout.
func diskEntry(p string, fi fs.FileInfo) (entry, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return entry{}, fmt.Errorf("%s: no owner information on this system", p)
	}
	e := entry{mode: int64(st.Mode) & 0o7777, uid: int(st.Uid), gid: int(st.Gid)}
	switch m := fi.Mode(); {
	case m.IsRegular():
		e.typ, e.size = tar.TypeReg, fi.Size()
	case m.IsDir():
		e.typ = tar.TypeDir
	case m&fs.ModeSymlink != 0:
		e.typ = tar.TypeSymlink
		l, err := os.Readlink(p)
		if err != nil {
			return entry{}, err
		}
		e.link = l
	case m&fs.ModeCharDevice != 0:
		e.typ = tar.TypeChar
		if st.Rdev == 0 {
			e.typ = whiteout
		}
	case m&fs.ModeDevice != 0:
		e.typ = tar.TypeBlock
	case m&fs.ModeNamedPipe != 0:
		e.typ = tar.TypeFifo
	default:
		e.typ = '?'
	}
	return e, nil
}

// fileSum hashes the file at p.
func fileSum(p string) (digest.Digest, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

// compareFolder compares the folder dir with want, path by path, and
// returns what differs, in path order, and how many entries it compared.
// Folders on disk that want lacks are accepted when want has something
// under them (a tar need not list every parent folder). Opaque markers
// (as fuse-overlayfs keeps them) are ignored.
func compareFolder(ctx context.Context, dir string, want map[string]entry) ([]string, int, error) {
	var diffs []string
	seen := map[string]bool{}
	compared := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." || path.Base(rel) == ".wh..wh..opq" {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		got, err := diskEntry(p, fi)
		if err != nil {
			return err
		}
		if b := path.Base(rel); got.typ == tar.TypeReg && strings.HasPrefix(b, ".wh.") {
			// A whiteout kept as a file (fuse-overlayfs without mknod).
			rel, got = path.Join(path.Dir(rel), strings.TrimPrefix(b, ".wh.")), entry{typ: whiteout}
		}
		compared++
		seen[rel] = true
		exp, ok := want[rel]
		if !ok {
			if got.typ == tar.TypeDir && hasUnder(want, rel) {
				return nil
			}
			diffs = append(diffs, fmt.Sprintf("%s: %s the vendored layer does not have (added)", rel, typeName(got.typ)))
			return nil
		}
		if msg, err := differ(p, got, exp); err != nil {
			return err
		} else if msg != "" {
			diffs = append(diffs, rel+": "+msg)
		}
		return nil
	})
	if err != nil {
		return nil, compared, err
	}
	for p, e := range want {
		if !seen[p] {
			diffs = append(diffs, fmt.Sprintf("%s: missing (the vendored layer has %s)", p, typeName(e.typ)))
		}
	}
	sort.Strings(diffs)
	return diffs, compared, nil
}

// hasUnder reports whether want has an entry under the folder dir.
func hasUnder(want map[string]entry, dir string) bool {
	for p := range want {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// differ says how got, the file at p, differs from the vendored exp, or "".
func differ(p string, got, exp entry) (string, error) {
	if got.typ != exp.typ {
		return fmt.Sprintf("%s, the vendored layer has %s", typeName(got.typ), typeName(exp.typ)), nil
	}
	var out []string
	if got.typ != whiteout && got.typ != tar.TypeSymlink && got.mode != exp.mode {
		out = append(out, fmt.Sprintf("mode %04o, vendored %04o", got.mode, exp.mode))
	}
	if got.typ != whiteout && (got.uid != exp.uid || got.gid != exp.gid) {
		out = append(out, fmt.Sprintf("owner %d:%d, vendored %d:%d", got.uid, got.gid, exp.uid, exp.gid))
	}
	switch got.typ {
	case tar.TypeSymlink:
		if got.link != exp.link {
			out = append(out, fmt.Sprintf("links to %q, vendored %q", got.link, exp.link))
		}
	case tar.TypeReg:
		if got.size != exp.size {
			out = append(out, fmt.Sprintf("%d bytes, vendored %d", got.size, exp.size))
			break
		}
		sum, err := fileSum(p)
		if err != nil {
			return "", err
		}
		if sum != exp.sum {
			out = append(out, fmt.Sprintf("content hashes to %s, vendored %s", sum, exp.sum))
		}
	}
	return strings.Join(out, ", "), nil
}

// checkStorage compares the files of image name's layers in the engine's
// own storage with the vendored layers' tar headers and contents (v): on
// overlay drivers each layer's folder against its own tar (whiteouts
// included), on vfs and the native snapshotter each layer's folder against
// the file system its layers and those below make. The StorageCheck says
// whether it could; an error is for what stops the whole check (ctx).
func checkStorage(ctx context.Context, c Client, l *layout.Layout, name, store string, v *vendored) ([]Finding, StorageCheck, error) {
	lf, err := locate(ctx, c, name, store, v.diffIDs)
	if err != nil {
		if ctx.Err() != nil {
			return nil, StorageCheck{}, ctx.Err()
		}
		return nil, StorageCheck{Reason: err.Error()}, nil
	}
	sc := StorageCheck{Driver: lf.driver}
	var fs []Finding
	more := 0
	fsys := map[string]entry{}
	for i, dir := range lf.dirs {
		want, opaque, err := layerEntries(ctx, l, v.layers[i].Digest, v.layers[i].MediaType)
		if err != nil {
			if ctx.Err() != nil {
				return nil, StorageCheck{}, ctx.Err()
			}
			return nil, StorageCheck{Driver: lf.driver, Reason: err.Error()}, nil
		}
		if lf.full {
			mergeLayer(fsys, want, opaque)
			want = fsys
		}
		diffs, n, err := compareFolder(ctx, dir, want)
		sc.Files += n
		if err != nil {
			if ctx.Err() != nil {
				return nil, StorageCheck{}, ctx.Err()
			}
			return nil, StorageCheck{Driver: lf.driver, Reason: fmt.Sprintf("reading %s: %v", dir, err)}, nil
		}
		for _, d := range diffs {
			if len(fs) == maxFileFindings {
				more++
				continue
			}
			layer := i
			fs = append(fs, Finding{Kind: KindFiles, Layer: &layer, Expected: v.diffIDs[i].String(), Message: fmt.Sprintf("layer %d in the engine's storage (%s): %s", i, dir, d)})
		}
	}
	if more > 0 {
		fs = append(fs, Finding{Kind: KindFiles, Message: fmt.Sprintf("and %d more differences in the engine's storage", more)})
	}
	sc.Checked = true
	return fs, sc, nil
}

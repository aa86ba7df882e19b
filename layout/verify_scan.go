package layout

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
)

// scanStrays walks the layout's folder, without following symlinks, and
// reports everything that is not one of the layout's own files or a blob
// index.json reaches.
func (v *verifier) scanStrays(ctx context.Context) error {
	root := v.l.root
	// extra is the harmless folder being walked ("" outside one): what it
	// holds is reported only when it is dangerous (a symlink, a special
	// file).
	extra := ""
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel := relPath(root, path)
		if err != nil {
			if path == root {
				v.add(Finding{Kind: KindMissing, Path: ".", Message: "the layout folder: " + err.Error()})
				return filepath.SkipAll
			}
			v.add(Finding{Kind: KindMalformed, Path: rel, Message: err.Error()})
			return nil
		}
		if path == root {
			return nil
		}
		if extra != "" && !strings.HasPrefix(rel, extra+"/") {
			extra = ""
		}
		mode := d.Type()
		switch {
		case mode&fs.ModeSymlink != 0:
			v.add(Finding{Kind: KindSymlink, Path: rel, Message: "a symlink in the layout (never followed)"})
			return nil
		case extra != "" && !d.IsDir() && !mode.IsRegular():
			v.add(Finding{Kind: KindNotRegular, Path: rel, Message: "a special file in the layout"})
			return nil
		case extra != "":
			return nil
		case strings.HasPrefix(d.Name(), tempPrefix) && mode.IsRegular():
			v.add(Finding{Kind: KindTemporary, Path: rel, Message: "a temporary file left by an interrupted write: the next sync or gc removes it"})
			return nil
		case strings.HasPrefix(d.Name(), tempPrefix) && d.IsDir() && filepath.Dir(path) == root:
			v.add(Finding{Kind: KindTemporary, Path: rel, Message: "the stage of an interrupted command: the next sync or gc removes it"})
			return filepath.SkipDir
		}
		switch rel {
		case BlobsDir, BlobsDir + "/sha256":
			if !d.IsDir() {
				v.add(Finding{Kind: KindNotRegular, Path: rel, Message: "should be a folder"})
			}
			return nil
		case LayoutFile, IndexFile, GitAttributesFile:
			if !mode.IsRegular() {
				v.add(Finding{Kind: KindNotRegular, Path: rel, Message: "should be a regular file"})
			}
			return nil
		}
		if dir, name := filepath.Split(rel); filepath.Clean(dir) == BlobsDir+"/sha256" {
			dg := digest.NewDigestFromEncoded(digest.SHA256, name)
			switch {
			case dg.Validate() != nil || strings.ToLower(name) != name:
				v.add(Finding{Kind: KindStray, Path: rel, Message: "not a blob: the name is not a sha256 digest"})
			case d.IsDir() || !mode.IsRegular():
				v.add(Finding{Kind: KindNotRegular, Path: rel, Message: "a blob must be a regular file"})
			case !v.reached[dg] && len(v.cut) > 0:
				v.unreached++ // counted in the depth finding
			case !v.reached[dg]:
				v.add(Finding{Kind: KindUnreferenced, Path: rel, Actual: dg.String(), Message: "a blob nothing in index.json references: the next sync prunes it (or vendorimg gc)"})
			}
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if harmless(rel, d) {
			v.add(Finding{Kind: KindExtra, Path: rel, Message: "not part of the OCI layout, and no reader of it uses it (harmless)"})
			if d.IsDir() {
				extra = rel
			}
			return nil
		}
		v.add(Finding{Kind: KindStray, Path: rel, Message: "not part of an OCI image layout"})
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
}

// harmless reports whether something that is not part of the layout
// cannot change what a reader of the layout sees: a regular file or a
// folder at the root (a README, notes), or the folder of another digest
// algorithm under blobs/ (image-spec allows them; vendorimg stores sha256
// only).
func harmless(rel string, d fs.DirEntry) bool {
	dir, name := filepath.Split(rel)
	switch filepath.Clean(dir) {
	case ".":
		return d.IsDir() || d.Type().IsRegular()
	case BlobsDir:
		return d.IsDir() && algorithmName(name)
	}
	return false
}

// algorithmName reports whether name is spelled as image-spec's
// algorithm grammar allows ([a-z0-9]+ separated by + . _ -).
func algorithmName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

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
		mode := d.Type()
		switch {
		case mode&fs.ModeSymlink != 0:
			v.add(Finding{Kind: KindSymlink, Path: rel, Message: "a symlink in the layout (never followed)"})
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
			case !v.reached[dg]:
				v.add(Finding{Kind: KindUnreferenced, Path: rel, Actual: dg.String(), Message: "a blob nothing in index.json references: vendorimg gc removes it"})
			}
			if d.IsDir() {
				return filepath.SkipDir
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

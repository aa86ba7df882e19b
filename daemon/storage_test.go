package daemon

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestMergeLayer: whiteouts delete their path and everything under it,
// opaque folders lose what lower layers put in them but keep the layer's
// own entries.
func TestMergeLayer(t *testing.T) {
	reg := entry{typ: tar.TypeReg, mode: 0o644}
	dir := entry{typ: tar.TypeDir, mode: 0o755}
	fsys := map[string]entry{"a": dir, "a/x": reg, "a/y": reg, "b": dir, "b/z": reg, "b/z2": reg, "c": reg}
	mergeLayer(fsys, map[string]entry{"a": {typ: whiteout}, "b/new": reg, "d": reg}, []string{"b"})
	var got []string
	for p := range fsys {
		got = append(got, p)
	}
	slices.Sort(got)
	if want := []string{"b", "b/new", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("mergeLayer = %v, want %v", got, want)
	}
}

// TestCompareFolder compares a real folder with what a layer says, each
// kind of difference once.
func TestCompareFolder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("comparing owners needs files owned by another user: run as root")
	}
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "bin", "tool"), []byte("tool"), 0o755))
	must(os.Chmod(filepath.Join(dir, "bin", "tool"), 0o755|os.ModeSetuid))
	must(os.Symlink("elsewhere", filepath.Join(dir, "bin", "sh")))
	must(os.WriteFile(filepath.Join(dir, "conf"), []byte("b"), 0o644))
	must(os.Lchown(filepath.Join(dir, "conf"), 7, 8))
	must(os.WriteFile(filepath.Join(dir, "added"), nil, 0o644))
	must(os.MkdirAll(filepath.Join(dir, "implied", "parent"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "implied", "parent", "f"), nil, 0o644))
	empty := digest.FromBytes(nil)
	want := map[string]entry{
		"bin":              {typ: tar.TypeDir, mode: 0o755},
		"bin/tool":         {typ: tar.TypeReg, mode: 0o755, size: 4, sum: digest.FromString("tool")},
		"bin/sh":           {typ: tar.TypeSymlink, mode: 0o777, link: "tool"},
		"conf":             {typ: tar.TypeReg, mode: 0o644, size: 1, sum: digest.FromString("a")},
		"gone":             {typ: tar.TypeReg, mode: 0o644, sum: empty},
		"implied/parent/f": {typ: tar.TypeReg, mode: 0o644, sum: empty},
	}
	diffs, n, err := compareFolder(context.Background(), dir, want)
	if err != nil {
		t.Fatal(err)
	}
	wantDiffs := []string{
		"added: a regular file the vendored layer does not have (added)",
		`bin/sh: links to "elsewhere", vendored "tool"`,
		"bin/tool: mode 4755, vendored 0755",
		"conf: owner 7:8, vendored 0:0, content hashes to " + digest.FromString("b").String() + ", vendored " + digest.FromString("a").String(),
		"gone: missing (the vendored layer has a regular file)",
	}
	if !slices.Equal(diffs, wantDiffs) {
		t.Errorf("compareFolder =\n%s\nwant\n%s", strings.Join(diffs, "\n"), strings.Join(wantDiffs, "\n"))
	}
	if n != 8 {
		t.Errorf("compareFolder compared %d entries, want 8", n)
	}
}

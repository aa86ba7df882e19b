package layout_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/progress"
)

// want is a finding Verify must make. expected and actual are checked when
// not empty.
type want struct {
	kind             layout.Kind
	path             string
	expected, actual string
}

func (w want) key() string { return string(w.kind) + " " + w.path }

// unreferenced are the findings for blobs nothing reaches any more.
func unreferenced(bs ...blob) []want {
	var out []want
	for _, b := range bs {
		out = append(out, want{kind: layout.KindUnreferenced, path: b.rel(), actual: b.Digest.String()})
	}
	return out
}

func TestVerify(t *testing.T) {
	both := []string{"linux/amd64", "linux/arm64"}
	tests := []struct {
		name string
		fx   fixtureOptions
		// setup breaks the fully written layout and returns the findings.
		setup func(t *testing.T, fx *fixture) []want
		// platforms selected in the expectation (default both); nil
		// Images when noExpect.
		platforms []string
		noExpect  bool
		deep      bool
		// incomplete is Report.Incomplete().
		incomplete bool
	}{
		{name: "clean", setup: func(*testing.T, *fixture) []want { return nil }},
		{name: "clean docker media types", fx: fixtureOptions{docker: true}, setup: func(*testing.T, *fixture) []want { return nil }},
		{name: "clean deep", deep: true, fx: fixtureOptions{layers: 3}, setup: func(*testing.T, *fixture) []want { return nil }},
		{name: "clean deep docker", deep: true, fx: fixtureOptions{docker: true}, setup: func(*testing.T, *fixture) []want { return nil }},
		{name: "clean single manifest", fx: fixtureOptions{single: true}, platforms: []string{"linux/amd64"}, setup: func(*testing.T, *fixture) []want { return nil }},
		{name: "clean without expectations", noExpect: true, setup: func(*testing.T, *fixture) []want { return nil }},
		{name: "all platforms", platforms: []string{"all"}, setup: func(*testing.T, *fixture) []want { return nil }},
		{
			name: "flipped byte in a layer",
			setup: func(t *testing.T, fx *fixture) []want {
				l := fx.image("linux/amd64").layers[0]
				got := fx.flip(l, 20)
				return []want{{layout.KindDigest, l.rel(), l.Digest.String(), got.String()}}
			},
		},
		{
			name: "flipped byte in a config",
			setup: func(t *testing.T, fx *fixture) []want {
				c := fx.image("linux/arm64").config
				got := fx.flip(c, 3)
				return []want{{layout.KindDigest, c.rel(), c.Digest.String(), got.String()}}
			},
		},
		{
			name: "flipped byte in a manifest",
			setup: func(t *testing.T, fx *fixture) []want {
				im := fx.image("linux/amd64")
				got := fx.flip(im.manifest, 5)
				// Its config and layers can no longer be reached.
				return append([]want{{layout.KindDigest, im.manifest.rel(), im.manifest.Digest.String(), got.String()}},
					unreferenced(append([]blob{im.config}, im.layers...)...)...)
			},
		},
		{
			name: "flipped byte in the index",
			setup: func(t *testing.T, fx *fixture) []want {
				got := fx.flip(fx.top, 2)
				return append([]want{{layout.KindDigest, fx.top.rel(), fx.top.Digest.String(), got.String()}}, unreferenced(fx.all()[1:]...)...)
			},
		},
		{
			name: "truncated config",
			setup: func(t *testing.T, fx *fixture) []want {
				c := fx.image("linux/amd64").config
				fx.replace(c, c.data[:len(c.data)-7])
				return []want{{layout.KindSize, c.rel(), fmt.Sprintf("%d bytes", c.Size), fmt.Sprintf("%d bytes", c.Size-7)}}
			},
		},
		{
			name: "layer with bytes appended",
			setup: func(t *testing.T, fx *fixture) []want {
				l := fx.image("linux/arm64").layers[0]
				fx.replace(l, append(bytes.Clone(l.data), 0))
				return []want{{layout.KindSize, l.rel(), fmt.Sprintf("%d bytes", l.Size), fmt.Sprintf("%d bytes", l.Size+1)}}
			},
		},
		{
			name:       "missing manifest of a selected platform",
			incomplete: true,
			setup: func(t *testing.T, fx *fixture) []want {
				im := fx.image("linux/arm64")
				fx.remove(im.manifest)
				return append([]want{{layout.KindMissing, im.manifest.rel(), im.manifest.Digest.String(), ""}}, unreferenced(im.config, im.layers[0])...)
			},
		},
		{
			name:       "missing layer of a selected platform",
			incomplete: true,
			setup: func(t *testing.T, fx *fixture) []want {
				l := fx.image("linux/amd64").layers[0]
				fx.remove(l)
				return []want{{layout.KindMissing, l.rel(), l.Digest.String(), ""}}
			},
		},
		{
			name:       "missing top-level index",
			incomplete: true,
			setup: func(t *testing.T, fx *fixture) []want {
				fx.remove(fx.top)
				return append([]want{{layout.KindMissing, fx.top.rel(), fx.top.Digest.String(), ""}}, unreferenced(fx.all()[1:]...)...)
			},
		},
		{
			name:      "unselected platform absent",
			platforms: []string{"linux/amd64"},
			setup: func(t *testing.T, fx *fixture) []want {
				fx.remove(fx.image("linux/arm64").blobs()...)
				return nil
			},
		},
		{
			name:      "unselected platform present but corrupt",
			platforms: []string{"linux/amd64"},
			setup: func(t *testing.T, fx *fixture) []want {
				l := fx.image("linux/arm64").layers[0]
				got := fx.flip(l, 12)
				return []want{{layout.KindDigest, l.rel(), l.Digest.String(), got.String()}}
			},
		},
		{
			name:     "partial layout without expectations",
			noExpect: true,
			setup: func(t *testing.T, fx *fixture) []want {
				fx.remove(fx.image("linux/arm64").blobs()...)
				return nil
			},
		},
		{
			name: "stray files",
			setup: func(t *testing.T, fx *fixture) []want {
				fx.writeFile("blobs/sha256/notadigest", "x")
				fx.writeFile("blobs/sha256/"+strings.ToUpper(digest.FromString("u").Encoded()), "u")
				fx.writeFile("blobs/loose", "x")
				return []want{
					{kind: layout.KindStray, path: "blobs/sha256/notadigest"},
					{kind: layout.KindStray, path: "blobs/sha256/" + strings.ToUpper(digest.FromString("u").Encoded())},
					{kind: layout.KindStray, path: "blobs/loose"},
				}
			},
		},
		{
			// Issue 8: a README, notes, another algorithm's folder are
			// reported as harmless extras; verify passes. A .gitattributes,
			// whatever it says, is the layout's own file: no finding.
			name: "harmless extras",
			setup: func(t *testing.T, fx *fixture) []want {
				fx.writeFile(layout.GitAttributesFile, "blobs/** binary\n*.json -diff\n")
				fx.writeFile("README.md", "hello")
				fx.writeFile("blobs/sha512/"+strings.Repeat("ab", 64), "x")
				fx.writeFile("extra/deep/file", "x")
				return []want{
					{kind: layout.KindExtra, path: "README.md"},
					{kind: layout.KindExtra, path: "blobs/sha512"},
					{kind: layout.KindExtra, path: "extra"},
				}
			},
		},
		{
			// Inside a harmless folder, what is dangerous is still found.
			name: "symlink in an extra folder",
			setup: func(t *testing.T, fx *fixture) []want {
				fx.writeFile("notes/a.txt", "x")
				if err := os.Symlink("/etc/passwd", filepath.Join(fx.l.Root(), "notes", "link")); err != nil {
					t.Fatal(err)
				}
				return []want{
					{kind: layout.KindExtra, path: "notes"},
					{kind: layout.KindSymlink, path: "notes/link"},
				}
			},
		},
		{
			name:       "temporary files",
			incomplete: true,
			setup: func(t *testing.T, fx *fixture) []want {
				fx.writeFile("blobs/sha256/.tmp-4abcf2066143-123", "partial")
				fx.writeFile(".tmp-index.json-456", "{")
				return []want{{kind: layout.KindTemporary, path: "blobs/sha256/.tmp-4abcf2066143-123"}, {kind: layout.KindTemporary, path: ".tmp-index.json-456"}}
			},
		},
		{
			name: "symlink in blobs",
			setup: func(t *testing.T, fx *fixture) []want {
				l := fx.image("linux/amd64").layers[0]
				outside := filepath.Join(filepath.Dir(fx.l.Root()), "copy")
				writeOver(t, outside, l.data)
				p := fx.path(l.rel())
				replaceWith(t, p, func() error { return os.Symlink(outside, p) })
				// And one under a blob name nothing references.
				extra := fx.path(layout.RelBlobPath(digest.FromString("extra")))
				if err := os.Symlink(outside, extra); err != nil {
					t.Fatal(err)
				}
				return []want{{kind: layout.KindSymlink, path: l.rel()}, {kind: layout.KindSymlink, path: layout.RelBlobPath(digest.FromString("extra"))}}
			},
		},
		{
			name: "symlinked blobs folder",
			setup: func(t *testing.T, fx *fixture) []want {
				blobs := fx.path("blobs")
				moved := filepath.Join(filepath.Dir(fx.l.Root()), "moved-blobs")
				if err := os.Rename(blobs, moved); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(moved, blobs); err != nil {
					t.Fatal(err)
				}
				// Every blob is behind the symlink; the symlink itself is
				// what is wrong, and reporting it fails verification.
				return []want{{kind: layout.KindSymlink, path: "blobs"}}
			},
		},
		{
			name: "fifo in place of a layer",
			setup: func(t *testing.T, fx *fixture) []want {
				l := fx.image("linux/arm64").layers[0]
				p := fx.path(l.rel())
				replaceWith(t, p, func() error { return syscall.Mkfifo(p, 0o644) })
				return []want{{kind: layout.KindNotRegular, path: l.rel()}}
			},
		},
		{
			name:       "unreferenced blob",
			incomplete: true,
			setup: func(t *testing.T, fx *fixture) []want {
				extra := newBlob("application/octet-stream", []byte("left over from an older pin"))
				fx.write(extra)
				return unreferenced(extra)
			},
		},
		{
			name: "index.json digest edited",
			setup: func(t *testing.T, fx *fixture) []want {
				edited := digest.FromString("edited")
				p := fx.path(layout.IndexFile)
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				writeOver(t, p, bytes.ReplaceAll(b, []byte(fx.top.Digest.Encoded()), []byte(edited.Encoded())))
				return append([]want{
					{layout.KindPin, layout.IndexFile, fx.top.Digest.String(), edited.String()},
					{layout.KindMissing, layout.RelBlobPath(edited), edited.String(), ""},
				}, unreferenced(fx.all()...)...)
			},
		},
		{
			name: "media type mismatch in index.json",
			setup: func(t *testing.T, fx *fixture) []want {
				top := fx.top.Descriptor
				top.MediaType = manifest.MediaTypeDockerList
				if _, err := fx.l.WriteIndex(context.Background(), []ocispec.Descriptor{layout.Entry(top, fx.name)}); err != nil {
					t.Fatal(err)
				}
				return []want{{layout.KindMediaType, fx.top.rel(), manifest.MediaTypeDockerList, manifest.MediaTypeOCIIndex}}
			},
		},
		{
			name: "size edited in index.json",
			setup: func(t *testing.T, fx *fixture) []want {
				top := fx.top.Descriptor
				top.Size++
				if _, err := fx.l.WriteIndex(context.Background(), []ocispec.Descriptor{layout.Entry(top, fx.name)}); err != nil {
					t.Fatal(err)
				}
				return append([]want{{layout.KindSize, fx.top.rel(), fmt.Sprintf("%d bytes", top.Size), fmt.Sprintf("%d bytes", fx.top.Size)}}, unreferenced(fx.all()[1:]...)...)
			},
		},
		{
			name: "deep diff_id mismatch",
			deep: true,
			fx: fixtureOptions{editConfig: func(p string, cfg *manifest.Config) {
				if p == "linux/amd64" {
					cfg.RootFS.DiffIDs[0] = digest.FromString("not the layer")
				}
			}},
			setup: func(t *testing.T, fx *fixture) []want {
				im := fx.image("linux/amd64")
				return []want{{layout.KindDiffID, im.layers[0].rel(), digest.FromString("not the layer").String(), im.diffIDs[0].String()}}
			},
		},
		{
			name: "diff_id mismatch not checked without deep",
			fx: fixtureOptions{editConfig: func(p string, cfg *manifest.Config) {
				cfg.RootFS.DiffIDs[0] = digest.FromString("not the layer")
			}},
			setup: func(*testing.T, *fixture) []want { return nil },
		},
		{
			name: "deep layer that is not gzip",
			deep: true,
			fx:   fixtureOptions{plainLayers: true},
			setup: func(t *testing.T, fx *fixture) []want {
				var out []want
				for _, im := range fx.images {
					out = append(out, want{layout.KindDiffID, im.layers[0].rel(), im.diffIDs[0].String(), ""})
				}
				return out
			},
		},
		{
			name: "deep diff_id count mismatch",
			deep: true,
			fx: fixtureOptions{layers: 2, editConfig: func(p string, cfg *manifest.Config) {
				if p == "linux/arm64" {
					cfg.RootFS.DiffIDs = cfg.RootFS.DiffIDs[:1]
				}
			}},
			setup: func(t *testing.T, fx *fixture) []want {
				return []want{{layout.KindDiffID, fx.image("linux/arm64").config.rel(), "2 layers", "1 diff_id"}}
			},
		},
		{
			name:      "selected platform not in the index",
			platforms: []string{"linux/amd64", "linux/s390x"},
			setup: func(t *testing.T, fx *fixture) []want {
				return []want{{layout.KindPlatform, fx.top.rel(), "linux/s390x", ""}}
			},
		},
		{
			name:      "single manifest of another platform",
			fx:        fixtureOptions{single: true},
			platforms: []string{"linux/arm64"},
			setup: func(t *testing.T, fx *fixture) []want {
				return []want{{layout.KindPlatform, fx.images[0].config.rel(), "linux/arm64", "linux/amd64"}}
			},
		},
		{
			name:       "index.json never written",
			incomplete: true,
			setup: func(t *testing.T, fx *fixture) []want {
				if _, err := fx.l.WriteIndex(context.Background(), nil); err != nil {
					t.Fatal(err)
				}
				return append([]want{{layout.KindNotSynced, layout.IndexFile, fx.top.Digest.String(), ""}}, unreferenced(fx.all()...)...)
			},
		},
		{
			name: "missing oci-layout",
			setup: func(t *testing.T, fx *fixture) []want {
				if err := os.Remove(fx.path(layout.LayoutFile)); err != nil {
					t.Fatal(err)
				}
				return []want{{kind: layout.KindMissing, path: layout.LayoutFile}}
			},
			incomplete: true,
		},
		{
			name: "malformed index.json",
			setup: func(t *testing.T, fx *fixture) []want {
				writeOver(t, fx.path(layout.IndexFile), []byte(`{"schemaVersion":2,`))
				return append([]want{{kind: layout.KindMalformed, path: layout.IndexFile}}, unreferenced(fx.all()...)...)
			},
		},
		{
			name: "hostile index.json",
			setup: func(t *testing.T, fx *fixture) []want {
				writeOver(t, fx.path(layout.IndexFile), []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:../../../../etc/passwd","size":1}]}`))
				return append([]want{{kind: layout.KindMalformed, path: layout.IndexFile}}, unreferenced(fx.all()...)...)
			},
		},
		{
			name: "oci-layout of another version",
			setup: func(t *testing.T, fx *fixture) []want {
				writeOver(t, fx.path(layout.LayoutFile), []byte(`{"imageLayoutVersion":"9.9.9"}`))
				return []want{{kind: layout.KindMalformed, path: layout.LayoutFile}}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, tt.fx).writeAll()
			wants := tt.setup(t, fx)
			platforms := tt.platforms
			if platforms == nil {
				platforms = both
			}
			opts := layout.VerifyOptions{Deep: tt.deep, Images: fx.expect(platforms...)}
			if tt.noExpect {
				opts.Images = nil
			}
			rep, err := fx.l.Verify(context.Background(), opts)
			if err != nil {
				t.Fatalf("Verify() = %v, want a report", err)
			}
			checkFindings(t, rep, wants)
			if got := rep.Incomplete(); got != tt.incomplete {
				t.Errorf("Verify().Incomplete() = %v, want %v (findings %v)", got, tt.incomplete, rep.Findings)
			}
			// Only harmless extras leave a layout OK.
			wantOK := !slices.ContainsFunc(wants, func(w want) bool { return !w.kind.Passes() })
			if got := rep.OK(); got != wantOK {
				t.Errorf("Verify().OK() = %v, want %v", got, wantOK)
			}
		})
	}
}

// checkFindings compares the report's findings with wants, as sets of
// kind and path (a problem seen from two sides may be reported twice).
func checkFindings(t *testing.T, rep *layout.Report, wants []want) {
	t.Helper()
	var got, exp []string
	for _, f := range rep.Findings {
		got = append(got, string(f.Kind)+" "+f.Path)
		if f.Message == "" {
			t.Errorf("finding %+v has no message", f)
		}
		if f.Path != "" && !strings.Contains(f.String(), f.Path) {
			t.Errorf("finding %q does not name its path %s", f.String(), f.Path)
		}
	}
	for _, w := range wants {
		exp = append(exp, w.key())
	}
	slices.Sort(got)
	slices.Sort(exp)
	got, exp = slices.Compact(got), slices.Compact(exp)
	if !slices.Equal(got, exp) {
		t.Errorf("Verify() findings = %q, want %q\nfull findings: %v", got, exp, rep.Findings)
		return
	}
	for _, w := range wants {
		i := slices.IndexFunc(rep.Findings, func(f layout.Finding) bool {
			return f.Kind == w.kind && f.Path == w.path && (w.expected == "" || f.Expected == w.expected) && (w.actual == "" || f.Actual == w.actual)
		})
		if i < 0 {
			t.Errorf("Verify() findings = %+v, want %s with expected %q and actual %q", rep.Findings, w.key(), w.expected, w.actual)
		}
	}
}

func TestVerifyReport(t *testing.T) {
	fx := newFixture(t, fixtureOptions{layers: 2}).writeAll()
	var mu sync.Mutex
	var calls [][2]int64
	rep, err := fx.l.Verify(context.Background(), layout.VerifyOptions{
		Images: fx.expect("linux/amd64", "linux/arm64"),
		Jobs:   2,
		Progress: func(e progress.Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.Kind == progress.Advance {
				calls = append(calls, [2]int64{e.Done, e.Size})
			}
		},
	})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify() = %+v, %v, want a clean report", rep, err)
	}
	var size int64
	for _, b := range fx.all() {
		size += b.Size
	}
	if rep.Blobs != len(fx.all()) || rep.Bytes != size {
		t.Errorf("Verify() hashed %d blobs, %d bytes, want %d, %d", rep.Blobs, rep.Bytes, len(fx.all()), size)
	}
	if len(rep.Images) != 1 {
		t.Fatalf("Verify().Images = %+v, want one", rep.Images)
	}
	ir := rep.Images[0]
	if ir.Name != fx.name || ir.Digest != fx.top.Digest || ir.MediaType != manifest.MediaTypeOCIIndex || !slices.Equal(ir.Platforms, []string{"linux/amd64", "linux/arm64"}) || ir.Blobs != len(fx.all()) || ir.Bytes != size {
		t.Errorf("Verify().Images[0] = %+v, want %s with both platforms, %d blobs, %d bytes", ir, fx.name, len(fx.all()), size)
	}
	if rep.Layout != fx.l.Root() || rep.Deep {
		t.Errorf("Verify() = layout %q, deep %v, want %q, false", rep.Layout, rep.Deep, fx.l.Root())
	}
	if len(calls) == 0 {
		t.Fatal("Verify() never called Progress")
	}
	for i, c := range calls {
		if c[0] > c[1] || (i > 0 && c[0] < calls[i-1][0]) {
			t.Errorf("Progress call %d = %v after %v, want done growing and never above total", i, c, calls[max(i-1, 0)])
		}
	}
	if last := calls[len(calls)-1]; last[0] != rep.Bytes {
		t.Errorf("last Progress call = %v, want done = %d", last, rep.Bytes)
	}
}

func TestVerifyExpectations(t *testing.T) {
	fx := newFixture(t, fixtureOptions{}).writeAll()
	other := layout.Expect{Name: "registry.example.test/team/other:v2", Digest: digest.FromString("other"), Platforms: platform.All}
	tests := []struct {
		name       string
		images     []layout.Expect
		want       []want
		incomplete bool
	}{
		{"configured but not synced", append(fx.expect("linux/amd64"), other), []want{{layout.KindNotSynced, layout.IndexFile, other.Digest.String(), ""}}, true},
		{"synced but not configured", []layout.Expect{}, []want{{layout.KindUnconfigured, layout.IndexFile, "", fx.top.Digest.String()}}, true},
		{"pinned to another digest", []layout.Expect{{Name: fx.name, Digest: other.Digest, Platforms: platform.All}}, []want{{layout.KindPin, layout.IndexFile, other.Digest.String(), fx.top.Digest.String()}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := fx.l.Verify(context.Background(), layout.VerifyOptions{Images: tt.images})
			if err != nil {
				t.Fatal(err)
			}
			checkFindings(t, rep, tt.want)
			if got := rep.Incomplete(); got != tt.incomplete {
				t.Errorf("Verify().Incomplete() = %v, want %v", got, tt.incomplete)
			}
			for _, f := range rep.Findings {
				if f.Image == "" {
					t.Errorf("finding %+v names no image", f)
				}
			}
		})
	}
}

func TestVerifyCancelled(t *testing.T) {
	fx := newFixture(t, fixtureOptions{}).writeAll()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := fx.l.Verify(ctx, layout.VerifyOptions{Images: fx.expect("linux/amd64")})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Verify() with a cancelled ctx = %+v, %v, want %v", rep, err, context.Canceled)
	}
}

// TestVerifyNoLayout: a folder that does not exist, or is empty (as a
// first sync leaves it for a moment between creating and locking it), is
// no layout; one with anything in it is read as a layout.
func TestVerifyNoLayout(t *testing.T) {
	empty := t.TempDir()
	notEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(notEmpty, "README"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir string
		none      bool
	}{
		{"missing", filepath.Join(t.TempDir(), "absent"), true},
		{"empty", empty, true},
		{"not empty", notEmpty, false},
	} {
		rep, err := layout.New(tc.dir).Verify(context.Background(), layout.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		none := len(rep.Findings) == 1 && rep.Findings[0].Kind == layout.KindMissing && rep.Findings[0].Path == "." && rep.Incomplete()
		if none != tc.none {
			t.Errorf("Verify() of a %s folder = %v, want no layout: %v", tc.name, rep.Findings, tc.none)
		}
	}
}

func TestIncomplete(t *testing.T) {
	tests := []struct {
		name  string
		kinds []layout.Kind
		want  bool
	}{
		{"no findings", nil, false},
		{"missing", []layout.Kind{layout.KindMissing}, true},
		{"what a killed sync leaves", []layout.Kind{layout.KindMissing, layout.KindTemporary, layout.KindUnreferenced, layout.KindNotSynced, layout.KindUnconfigured}, true},
		{"digest", []layout.Kind{layout.KindDigest}, false},
		{"missing and digest", []layout.Kind{layout.KindMissing, layout.KindDigest}, false},
		{"size", []layout.Kind{layout.KindSize}, false},
		{"pin", []layout.Kind{layout.KindPin}, false},
		{"symlink", []layout.Kind{layout.KindSymlink}, false},
		{"stray", []layout.Kind{layout.KindStray}, false},
		{"media type", []layout.Kind{layout.KindMediaType}, false},
		{"diff id", []layout.Kind{layout.KindDiffID}, false},
		{"platform", []layout.Kind{layout.KindPlatform}, false},
		{"malformed", []layout.Kind{layout.KindMalformed}, false},
		{"not regular", []layout.Kind{layout.KindNotRegular}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &layout.Report{}
			for _, k := range tt.kinds {
				rep.Findings = append(rep.Findings, layout.Finding{Kind: k, Message: "x"})
			}
			if got := rep.Incomplete(); got != tt.want {
				t.Errorf("Report{%v}.Incomplete() = %v, want %v", tt.kinds, got, tt.want)
			}
		})
	}
}

// TestKindClasses: which kinds leave the configured images intact
// (Harmless), and which let verify pass (Passes).
func TestKindClasses(t *testing.T) {
	for _, tt := range []struct {
		kind             layout.Kind
		harmless, passes bool
	}{
		{layout.KindExtra, true, true},
		{layout.KindAdopted, true, true},
		{layout.KindUnreferenced, true, false},
		{layout.KindTemporary, true, false},
		{layout.KindUnconfigured, true, false},
		{layout.KindStray, false, false},
		{layout.KindTooDeep, false, false},
		{layout.KindDigest, false, false},
	} {
		if got := tt.kind.Harmless(); got != tt.harmless {
			t.Errorf("%s.Harmless() = %v, want %v", tt.kind, got, tt.harmless)
		}
		if got := tt.kind.Passes(); got != tt.passes {
			t.Errorf("%s.Passes() = %v, want %v", tt.kind, got, tt.passes)
		}
	}
}

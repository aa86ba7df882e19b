package config_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	alpineDigest  = "sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b"
	busyboxDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	otherDigest   = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Encode() = \n%s\nwant (%s):\n%s", got, path, want)
	}
}

func load(t *testing.T, name string) *config.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("/project/"+config.FileName, b)
	if err != nil {
		t.Fatalf("Parse(%s) = %v, want nil", name, err)
	}
	return c
}

func mustRef(t *testing.T, s string) reference.Reference {
	t.Helper()
	ref, err := reference.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func mustSel(t *testing.T, specs ...string) platform.Selection {
	t.Helper()
	sel, err := platform.ParseSelection(specs)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

// TestRoundTrip: a file vendorimg did not edit encodes to its own bytes,
// comments and flow lists included.
func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"vendorimg.yaml", "commented.yaml", "empty-images.yaml"} {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			c := load(t, name)
			got, err := c.Encode()
			if err != nil {
				t.Fatalf("Encode() = %v, want nil", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Encode() of %s = \n%s\nwant it unchanged:\n%s", name, got, want)
			}
		})
	}
}

func TestParseCanonical(t *testing.T) {
	c := load(t, "vendorimg.yaml")
	if c.Layout != "testdata/images" || c.LayoutDir() != filepath.FromSlash("/project/testdata/images") {
		t.Errorf("Parse(vendorimg.yaml) layout = %q (%q), want testdata/images", c.Layout, c.LayoutDir())
	}
	if len(c.Images) != 1 {
		t.Fatalf("Parse(vendorimg.yaml) has %d images, want 1", len(c.Images))
	}
	im := c.Images[0]
	want := config.Image{Ref: mustRef(t, "alpine:3.19.1"), Digest: alpineDigest, Platforms: mustSel(t, "linux/amd64", "linux/arm64"), Line: 4}
	if im.Ref != want.Ref || im.Digest != want.Digest || !im.Platforms.Equal(want.Platforms) || im.Line != want.Line {
		t.Errorf("Parse(vendorimg.yaml).Images[0] = %+v, want %+v", im, want)
	}
	if got := im.Name(); got != "docker.io/library/alpine:3.19.1" {
		t.Errorf("Name() = %q, want docker.io/library/alpine:3.19.1", got)
	}
	if got := im.Pinned().String(); got != "docker.io/library/alpine:3.19.1@"+alpineDigest {
		t.Errorf("Pinned() = %q, want the reference with its digest", got)
	}
	if len(c.Mirrors) != 0 || c.Insecure != nil {
		t.Errorf("Parse(vendorimg.yaml) mirrors = %v, insecure = %v, want none", c.Mirrors, c.Insecure)
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		layout string
		check  func(t *testing.T, c *config.Config)
	}{
		{"mirrors and insecure", "mirrors:\n  index.docker.io: registry.internal:5000\ninsecure: [registry.internal:5000, \"[::1]:5000\"]\nimages: []\n", config.DefaultLayout,
			func(t *testing.T, c *config.Config) {
				if c.Mirrors["docker.io"] != "registry.internal:5000" || len(c.Mirrors) != 1 {
					t.Errorf("Mirrors = %v, want docker.io: registry.internal:5000", c.Mirrors)
				}
				if !slices.Equal(c.Insecure, []string{"registry.internal:5000", "[::1]:5000"}) {
					t.Errorf("Insecure = %v, want [registry.internal:5000 [::1]:5000]", c.Insecure)
				}
			}},
		{"empty mirrors", "mirrors:\nimages:\n", config.DefaultLayout, nil},
		{"no images key", "layout: imgs\n", "imgs", func(t *testing.T, c *config.Config) {
			if len(c.Images) != 0 {
				t.Errorf("Images = %v, want none", c.Images)
			}
		}},
		{"digest in ref only", "images:\n  - ref: alpine:3.19.1@" + alpineDigest + "\n    platforms: all\n", config.DefaultLayout,
			func(t *testing.T, c *config.Config) {
				im := c.Images[0]
				if im.Digest != alpineDigest || im.Ref.Digest != "" || im.Ref.Tag != "3.19.1" || !im.Platforms.All {
					t.Errorf("Images[0] = %+v, want the digest moved out of the ref and all platforms", im)
				}
			}},
		{"digest in both, agreeing", "images:\n  - ref: alpine:3.19.1@" + alpineDigest + "\n    digest: " + alpineDigest + "\n    platforms: [linux/amd64]\n", config.DefaultLayout, nil},
		{"digest-only ref", "images:\n  - ref: alpine@" + alpineDigest + "\n    platforms: [linux/amd64]\n", config.DefaultLayout,
			func(t *testing.T, c *config.Config) {
				if got, want := c.Images[0].Name(), "docker.io/library/alpine@"+alpineDigest; got != want {
					t.Errorf("Images[0].Name() = %q, want %q", got, want)
				}
			}},
		{"same repository, two tags", "images:\n  - ref: alpine:3.19\n    digest: " + alpineDigest + "\n    platforms: all\n  - ref: alpine:3.20\n    digest: " + alpineDigest + "\n    platforms: all\n", config.DefaultLayout,
			func(t *testing.T, c *config.Config) {
				if len(c.Images) != 2 || c.Images[1].Line != 5 {
					t.Errorf("Images = %+v, want two, the second on line 5", c.Images)
				}
			}},
		{"absolute layout", "layout: /srv/images\n", "/srv/images", nil},
		{"platform variants", "images:\n  - ref: a.test/x:1\n    digest: " + alpineDigest + "\n    platforms:\n      - linux/arm/v6\n      - linux/arm/v7\n", config.DefaultLayout,
			func(t *testing.T, c *config.Config) {
				if got := c.Images[0].Platforms.String(); got != "linux/arm/v6,linux/arm/v7" {
					t.Errorf("Images[0].Platforms = %q, want linux/arm/v6,linux/arm/v7", got)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse("/p/vendorimg.yaml", []byte(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want nil", tt.in, err)
			}
			if c.Layout != tt.layout {
				t.Errorf("Parse(%q).Layout = %q, want %q", tt.in, c.Layout, tt.layout)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const pin = "    digest: " + alpineDigest + "\n"
	tests := []struct {
		name     string
		in       string
		wantLine int
		wantIn   []string
		wantErrs []error // besides errs.ErrConfig
	}{
		{"empty file", "", 0, []string{"the file is empty"}, nil},
		{"only a comment", "# nothing\n", 0, []string{"the file is empty"}, nil},
		{"a list", "- ref: alpine\n", 1, []string{"must be a mapping"}, nil},
		{"a string", "images\n", 1, []string{"must be a mapping"}, nil},
		{"syntax error", "images:\n  - ref: [\n", 2, []string{"did not find expected node content"}, nil},
		{"tab indentation", "images:\n\t- ref: alpine\n", 2, []string{"cannot start any token"}, nil},
		{"unknown top key", "layout: x\nimage:\n", 2, []string{`unknown key "image"`, "known: layout, mirrors, insecure, referrers, verify, images"}, nil},
		{"unknown image key", "images:\n  - ref: alpine:3.19.1\n" + pin + "    platform: [linux/amd64]\n", 4, []string{`unknown key "platform" in an image`, "known: ref, digest, platforms"}, nil},
		{"duplicate top key", "layout: a\nlayout: b\n", 2, []string{`key "layout" appears twice`, "first on line 1"}, nil},
		{"duplicate image key", "images:\n  - ref: alpine:3.19.1\n" + pin + pin + "    platforms: all\n", 4, []string{`key "digest" appears twice`, "first on line 3"}, nil},
		{"duplicate image", "images:\n  - ref: alpine:3.19.1\n" + pin + "    platforms: all\n  - ref: docker.io/library/alpine:3.19.1\n" + pin + "    platforms: [linux/amd64]\n",
			5, []string{"docker.io/library/alpine:3.19.1 is listed twice", "first on line 2"}, nil},
		{"missing digest", "images:\n  - ref: alpine:3.19.1\n    platforms: all\n", 2, []string{"image alpine:3.19.1 has no digest", `vendorimg add alpine:3.19.1`}, nil},
		{"digest disagrees with ref", "images:\n  - ref: alpine:3.19.1@" + otherDigest + "\n" + pin + "    platforms: all\n", 3, []string{"disagrees with the digest in ref", alpineDigest}, nil},
		{"missing ref", "images:\n  - digest: " + alpineDigest + "\n    platforms: all\n", 2, []string{"image has no ref"}, nil},
		{"missing platforms", "images:\n  - ref: alpine:3.19.1\n" + pin, 2, []string{"alpine:3.19.1 has no platforms"}, nil},
		{"bad platform", "images:\n  - ref: alpine:3.19.1\n" + pin + "    platforms: [linux/amd64, linux/x86_64]\n", 4, []string{`"linux/x86_64"`, `spelled "amd64"`}, []error{errs.ErrInvalidPlatform}},
		{"bad platform in block list", "images:\n  - ref: alpine:3.19.1\n" + pin + "    platforms:\n      - linux/amd64\n      - plan10/amd64\n", 6, []string{`"plan10/amd64"`, `unknown os "plan10"`}, []error{errs.ErrInvalidPlatform}},
		{"platform scalar", "images:\n  - ref: alpine:3.19.1\n" + pin + "    platforms: linux/amd64\n", 4, []string{`not "linux/amd64"`}, []error{errs.ErrInvalidPlatform}},
		{"platforms duplicate", "images:\n  - ref: alpine:3.19.1\n" + pin + "    platforms: [linux/arm64, linux/arm64/v8]\n", 4, []string{"listed twice"}, []error{errs.ErrInvalidPlatform}},
		{"platforms empty", "images:\n  - ref: alpine:3.19.1\n" + pin + "    platforms: []\n", 4, []string{"no platform given"}, []error{errs.ErrInvalidPlatform}},
		{"platforms all and more", "images:\n  - ref: alpine:3.19.1\n" + pin + "    platforms: [all, linux/amd64]\n", 4, []string{"cannot be combined"}, []error{errs.ErrInvalidPlatform}},
		{"platforms mapping", "images:\n  - ref: alpine:3.19.1\n" + pin + "    platforms: {linux: amd64}\n", 4, []string{"platforms must be a list"}, nil},
		{"bad ref", "images:\n  - ref: Alpine\n" + pin + "    platforms: all\n", 2, []string{`"Alpine"`}, []error{errs.ErrInvalidReference}},
		{"bad digest", "images:\n  - ref: alpine:3.19.1\n    digest: sha256:abc\n    platforms: all\n", 3, []string{`"sha256:abc"`}, []error{errs.ErrInvalidDigest}},
		{"sha512 digest", "images:\n  - ref: alpine:3.19.1\n    digest: sha512:" + strings.Repeat("a", 128) + "\n    platforms: all\n", 3, []string{`"sha512"`}, []error{errs.ErrInvalidDigest}},
		{"digest in ref invalid", "images:\n  - ref: alpine@sha256:abc\n    platforms: all\n", 2, []string{"sha256:abc"}, []error{errs.ErrInvalidReference, errs.ErrInvalidDigest}},
		{"ref not a string", "images:\n  - ref: [alpine]\n" + pin + "    platforms: all\n", 2, []string{"ref must be a string"}, nil},
		{"ref null", "images:\n  - ref:\n" + pin + "    platforms: all\n", 2, []string{"ref must be a string"}, nil},
		{"image not a mapping", "images:\n  - alpine:3.19.1\n", 2, []string{"an image must be a mapping"}, nil},
		{"images not a list", "images:\n  ref: alpine\n", 2, []string{"images must be a list"}, nil},
		{"layout empty", "layout: \"\"\n", 1, []string{"layout must not be empty"}, nil},
		{"layout not a string", "layout: [a, b]\n", 1, []string{"layout must be a string"}, nil},
		{"mirrors a list", "mirrors: [docker.io]\n", 1, []string{"mirrors must map a registry host"}, nil},
		{"mirror bad host", "mirrors:\n  docker.io: http://mirror.test\n", 2, []string{`"http://mirror.test"`}, []error{errs.ErrInvalidReference}},
		{"mirror bad key", "mirrors:\n  docker.io/library: mirror.test\n", 2, []string{`"docker.io/library"`}, []error{errs.ErrInvalidReference}},
		{"mirror key not a word", "mirrors:\n  [a]: mirror.test\n", 2, []string{"keys in mirrors must be plain words"}, nil},
		{"insecure not a list", "insecure: mirror.test\n", 1, []string{"insecure must be a list"}, nil},
		{"insecure bad host", "insecure:\n  - ok.test\n  - bad host\n", 3, []string{`"bad host"`}, []error{errs.ErrInvalidReference}},
		{"alias", "layout: &l testdata/images\nimages:\n  - ref: alpine:3.19.1\n" + pin + "    platforms: all\n  - ref: *l\n", 6, []string{"aliases (*l) are not supported"}, nil},
		{"merge key alias", "base: &b {platforms: all}\nimages:\n  - <<: *b\n    ref: alpine:3.19.1\n", 3, []string{"aliases (*b)"}, nil},
		{"yaml bomb", "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\n", 2, []string{"aliases (*a)"}, nil},
		{"second document", "images: []\n---\nimages: []\n", 2, []string{"a second YAML document", "holds one document"}, nil},
		{"second document empty", "images: []\n---\n", 2, []string{"a second YAML document"}, nil},
		{"second document after end marker", "images: []\n...\n---\nlayout: x\n", 3, []string{"a second YAML document"}, nil},
		{"second document broken", "images: []\n---\nimages: [\n", 3, []string{"did not find expected node content"}, nil},
		{"utf-16le", "\xff\xfei\x00m\x00a\x00g\x00e\x00s\x00:\x00 \x00[\x00]\x00\n\x00", 0, []string{"the file is UTF-16", "must be UTF-8"}, nil},
		{"utf-16be", "\xfe\xff\x00i\x00m\x00a\x00g\x00e\x00s\x00:\x00 \x00[\x00]\x00\n", 0, []string{"the file is UTF-16", "must be UTF-8"}, nil},
		{"utf-32le", "\xff\xfe\x00\x00i\x00\x00\x00", 0, []string{"the file is UTF-32"}, nil},
		{"utf-16le without a mark", "i\x00m\x00a\x00g\x00e\x00s\x00:\x00 \x00[\x00]\x00\n\x00", 1, []string{"a NUL byte at byte 1", "must be UTF-8"}, nil},
		{"latin-1", "# caf\xe9\nimages: []\n", 1, []string{"a byte that is not UTF-8 at byte 5"}, nil},
		{"latin-1 on line 3", "layout: x\nimages: []\n# na\xefve\n", 3, []string{"not UTF-8 at byte 25"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const path = "/p/vendorimg.yaml"
			c, err := config.Parse(path, []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, nil, want an error", tt.in, c)
			}
			if c != nil {
				t.Errorf("Parse(%q) returned a config with an error", tt.in)
			}
			for _, want := range append([]error{errs.ErrConfig}, tt.wantErrs...) {
				if !errors.Is(err, want) {
					t.Errorf("Parse(%q) = %v, want an error wrapping %v", tt.in, err, want)
				}
			}
			var fe *config.FileError
			if !errors.As(err, &fe) || fe.Path != path || fe.Line != tt.wantLine {
				t.Errorf("Parse(%q) = %#v, want a *FileError for %s line %d", tt.in, err, path, tt.wantLine)
			}
			msg := err.Error()
			prefix := fmt.Sprintf("%s:%d: ", path, tt.wantLine)
			if tt.wantLine == 0 {
				// A problem of the whole file has no line to name.
				prefix = path + ": "
			}
			if !strings.HasPrefix(msg, prefix) {
				t.Errorf("Parse(%q) = %q, want it to start with %q", tt.in, msg, prefix)
			}
			for _, w := range tt.wantIn {
				if !strings.Contains(msg, w) {
					t.Errorf("Parse(%q) = %q, want it to contain %q", tt.in, msg, w)
				}
			}
			if strings.Contains(msg, ": line ") {
				t.Errorf("Parse(%q) = %q, want the line given once", tt.in, msg)
			}
		})
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		name   string
		from   string // testdata file, or "" for config.New
		set    []config.Image
		golden string
		want   []string // Name() of every image after the edits
	}{
		{
			name:   "replace keeps place and comments",
			from:   "commented.yaml",
			set:    []config.Image{{Ref: mustRef(t, "alpine:3.19.1"), Digest: otherDigest, Platforms: mustSel(t, "linux/amd64")}},
			golden: "set-replace.golden.yaml",
			want:   []string{"docker.io/library/alpine:3.19.1", "docker.io/library/busybox:1.36"},
		},
		{
			name: "replace list by all and all by list",
			from: "commented.yaml",
			set: []config.Image{
				{Ref: mustRef(t, "docker.io/library/alpine:3.19.1"), Digest: alpineDigest, Platforms: platform.All},
				{Ref: mustRef(t, "busybox:1.36"), Digest: busyboxDigest, Platforms: mustSel(t, "linux/arm/v7", "linux/amd64")},
			},
			golden: "set-platforms.golden.yaml",
			want:   []string{"docker.io/library/alpine:3.19.1", "docker.io/library/busybox:1.36"},
		},
		{
			name:   "append at the end",
			from:   "commented.yaml",
			set:    []config.Image{{Ref: mustRef(t, "registry.example.test/team/app:v1"), Digest: otherDigest, Platforms: mustSel(t, "linux/amd64", "linux/arm64")}},
			golden: "set-append.golden.yaml",
			want:   []string{"docker.io/library/alpine:3.19.1", "docker.io/library/busybox:1.36", "registry.example.test/team/app:v1"},
		},
		{
			name:   "another tag is another image",
			from:   "vendorimg.yaml",
			set:    []config.Image{{Ref: mustRef(t, "alpine:3.20"), Digest: otherDigest, Platforms: platform.All}},
			golden: "set-other-tag.golden.yaml",
			want:   []string{"docker.io/library/alpine:3.19.1", "docker.io/library/alpine:3.20"},
		},
		{
			name:   "images key with no value",
			from:   "empty-images.yaml",
			set:    []config.Image{{Ref: mustRef(t, "alpine:3.19.1"), Digest: alpineDigest, Platforms: mustSel(t, "linux/amd64")}},
			golden: "set-empty.golden.yaml",
			want:   []string{"docker.io/library/alpine:3.19.1"},
		},
		{
			name: "new file",
			set: []config.Image{
				{Ref: mustRef(t, "alpine:3.19.1"), Digest: alpineDigest, Platforms: mustSel(t, "linux/amd64", "linux/arm64")},
				{Ref: mustRef(t, "localhost:5000/app@"+busyboxDigest), Digest: busyboxDigest, Platforms: platform.All},
			},
			golden: "new.golden.yaml",
			want:   []string{"docker.io/library/alpine:3.19.1", "localhost:5000/app@" + busyboxDigest},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *config.Config
			if tt.from == "" {
				var err error
				if c, err = config.New("/project/" + config.FileName); err != nil {
					t.Fatal(err)
				}
			} else {
				c = load(t, tt.from)
			}
			before := slices.Clone(c.Images)
			for _, im := range tt.set {
				if err := c.Set(im); err != nil {
					t.Fatalf("Set(%s) = %v, want nil", im.Name(), err)
				}
			}
			names := func(ims []config.Image) []string {
				var out []string
				for _, im := range ims {
					out = append(out, im.Name())
				}
				return out
			}
			if got := names(c.Images); !slices.Equal(got, tt.want) {
				t.Errorf("after Set, Images = %q, want %q", got, tt.want)
			}
			// A replaced image keeps its line.
			for _, old := range before {
				if i := c.Lookup(old.Pinned()); i < 0 || c.Images[i].Line != old.Line {
					t.Errorf("after Set, image %s is at index %d, want it kept with line %d", old.Name(), i, old.Line)
				}
			}
			b, err := c.Encode()
			if err != nil {
				t.Fatalf("Encode() = %v, want nil", err)
			}
			golden(t, tt.golden, b)
			// What Set wrote is what Parse reads back.
			again, err := config.Parse(c.Path, b)
			if err != nil {
				t.Fatalf("Parse(Encode()) = %v, want nil", err)
			}
			if got := names(again.Images); !slices.Equal(got, tt.want) {
				t.Errorf("Parse(Encode()).Images = %q, want %q", got, tt.want)
			}
			for i, im := range again.Images {
				if im.Digest != c.Images[i].Digest || !im.Platforms.Equal(c.Images[i].Platforms) {
					t.Errorf("Parse(Encode()).Images[%d] = %+v, want %+v", i, im, c.Images[i])
				}
			}
		})
	}
}

func TestSetWithoutDocument(t *testing.T) {
	c := &config.Config{Path: "/p/vendorimg.yaml"}
	err := c.Set(config.Image{Ref: mustRef(t, "alpine:3.19.1"), Digest: alpineDigest, Platforms: platform.All})
	if !errors.Is(err, errs.ErrConfig) {
		t.Errorf("Set on a Config not read from a file = %v, want an error wrapping %v", err, errs.ErrConfig)
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, config.FileName)
	c, err := config.New(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != path || c.Layout != config.DefaultLayout || c.LayoutDir() != filepath.Join(dir, "testdata", "images") || len(c.Images) != 0 {
		t.Errorf("New(%q) = %+v, want an empty config with the default layout", path, c)
	}
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "new-empty.golden.yaml", b)
	if _, err := config.Parse(path, b); err != nil {
		t.Errorf("Parse(New().Encode()) = %v, want nil", err)
	}
}

func TestSaveLoad(t *testing.T) {
	tests := []struct {
		name     string
		existing os.FileMode // 0: no file before Save
		wantMode os.FileMode
	}{
		{"new file", 0, 0o644},
		{"keeps mode", 0o600, 0o600},
		{"keeps executable mode", 0o755, 0o755},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sub")
			path := filepath.Join(dir, config.FileName)
			if tt.existing != 0 {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte("images:\n"), tt.existing); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.existing); err != nil {
					t.Fatal(err)
				}
			}
			c, err := config.New(path)
			if err != nil {
				t.Fatal(err)
			}
			im := config.Image{Ref: mustRef(t, "alpine:3.19.1"), Digest: alpineDigest, Platforms: mustSel(t, "linux/amd64")}
			if err := c.Set(im); err != nil {
				t.Fatal(err)
			}
			if err := c.Save(context.Background()); err != nil {
				t.Fatalf("Save() = %v, want nil", err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.wantMode {
				t.Errorf("Save() wrote mode %v, want %v", fi.Mode().Perm(), tt.wantMode)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("Save() left %v in %s, want only %s", entries, dir, config.FileName)
			}
			got, err := config.Load(context.Background(), path)
			if err != nil {
				t.Fatalf("Load(%q) = %v, want nil", path, err)
			}
			if len(got.Images) != 1 || got.Images[0].Name() != im.Name() || got.Images[0].Digest != im.Digest || got.Path != path {
				t.Errorf("Load(%q) = %+v, want the saved image", path, got)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, append([]byte("images:\n"), bytes.Repeat([]byte("# padding\n"), 110_000)...), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("imagez:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantErr error
		wantIn  string
	}{
		{"missing", filepath.Join(dir, "nope.yaml"), errs.ErrNoConfig, "does not exist"},
		{"too large", big, errs.ErrConfig, "larger than"},
		{"invalid", bad, errs.ErrConfig, bad + ":1:"},
		{"a folder", dir, nil, dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(context.Background(), tt.path)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("Load(%q) = %v, %v, want an error wrapping %v containing %q", tt.path, c, err, tt.wantErr, tt.wantIn)
			}
		})
	}
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	project := filepath.Join(root, "project")
	deep := filepath.Join(project, "a", "b", "c")
	nested := filepath.Join(project, "a", "nested")
	// A folder named vendorimg.yaml is not the file.
	fake := filepath.Join(project, "a", "b", config.FileName)
	for _, d := range []string{deep, nested, fake} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(project, config.FileName), filepath.Join(nested, config.FileName)} {
		if err := os.WriteFile(f, []byte("images:\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		dir  string
		want string
	}{
		{"in the folder", project, filepath.Join(project, config.FileName)},
		{"in a parent", deep, filepath.Join(project, config.FileName)},
		{"past a folder of that name", filepath.Join(project, "a", "b"), filepath.Join(project, config.FileName)},
		{"nearest wins", nested, filepath.Join(nested, config.FileName)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := config.Find(tt.dir)
			if err != nil || got != tt.want {
				t.Errorf("Find(%q) = %q, %v, want %q, nil", tt.dir, got, err, tt.want)
			}
		})
	}
	t.Run("relative", func(t *testing.T) {
		t.Chdir(deep)
		got, err := config.Find(".")
		if want := filepath.Join(project, config.FileName); err != nil || got != want {
			t.Errorf("Find(%q) = %q, %v, want %q, nil", ".", got, err, want)
		}
	})
	t.Run("none", func(t *testing.T) {
		got, err := config.Find(root)
		if err == nil {
			// Only a vendorimg.yaml above the temporary folder can explain it.
			if _, statErr := os.Stat(filepath.Join(filepath.Dir(root), config.FileName)); statErr != nil {
				t.Errorf("Find(%q) = %q, nil, want an error wrapping %v", root, got, errs.ErrNoConfig)
			}
			return
		}
		if !errors.Is(err, errs.ErrNoConfig) || !strings.Contains(err.Error(), root) {
			t.Errorf("Find(%q) = %v, want an error wrapping %v naming the folder", root, err, errs.ErrNoConfig)
		}
	})
}

func TestLayoutDir(t *testing.T) {
	abs := filepath.Join(t.TempDir(), "shared", "images")
	tests := []struct {
		name   string
		layout string
		want   string
	}{
		{"default", "", filepath.FromSlash("/work/project/testdata/images")},
		{"relative", "vendor/images", filepath.FromSlash("/work/project/vendor/images")},
		{"relative with dot", "./images/", filepath.FromSlash("/work/project/images")},
		{"parent", "../shared/images", filepath.FromSlash("/work/shared/images")},
		{"absolute", abs, abs},
		{"absolute unclean", abs + "/../images/./", abs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "images: []\n"
			if tt.layout != "" {
				in = fmt.Sprintf("layout: %q\n", tt.layout) + in
			}
			c, err := config.Parse(filepath.FromSlash("/work/project/vendorimg.yaml"), []byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.LayoutDir(); got != tt.want {
				t.Errorf("LayoutDir() with layout %q = %q, want %q", tt.layout, got, tt.want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	c := load(t, "commented.yaml")
	tests := []struct {
		name    string
		refs    []string
		want    []string
		wantErr error
	}{
		{"all", nil, []string{"docker.io/library/alpine:3.19.1", "docker.io/library/busybox:1.36"}, nil},
		{"familiar name", []string{"alpine:3.19.1"}, []string{"docker.io/library/alpine:3.19.1"}, nil},
		{"full name", []string{"docker.io/library/busybox:1.36"}, []string{"docker.io/library/busybox:1.36"}, nil},
		{"with a digest", []string{"alpine:3.19.1@" + otherDigest}, []string{"docker.io/library/alpine:3.19.1"}, nil},
		{"order of the arguments", []string{"busybox:1.36", "alpine:3.19.1"}, []string{"docker.io/library/busybox:1.36", "docker.io/library/alpine:3.19.1"}, nil},
		{"other tag", []string{"alpine:3.20"}, nil, errs.ErrConfig},
		{"implicit latest", []string{"alpine"}, nil, errs.ErrConfig},
		{"bad reference", []string{"Alpine"}, nil, errs.ErrInvalidReference},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Select(tt.refs)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Select(%q) = %v, %v, want an error wrapping %v", tt.refs, got, err, tt.wantErr)
				}
				return
			}
			var names []string
			for _, im := range got {
				names = append(names, im.Name())
			}
			if err != nil || !slices.Equal(names, tt.want) {
				t.Errorf("Select(%q) = %q, %v, want %q, nil", tt.refs, names, err, tt.want)
			}
		})
	}
	// Select returns copies: editing them leaves the config alone.
	got, err := c.Select(nil)
	if err != nil {
		t.Fatal(err)
	}
	got[0].Digest = digest.Digest(otherDigest)
	if c.Images[0].Digest != alpineDigest {
		t.Errorf("editing Select(nil)[0] changed the config's image to %s", c.Images[0].Digest)
	}
}

func TestImageNames(t *testing.T) {
	c := load(t, "commented.yaml")
	if got, want := names(c), "docker.io/library/alpine:3.19.1, docker.io/library/busybox:1.36"; got != want {
		t.Errorf("images of commented.yaml = %q, want %q", got, want)
	}
}

func ExampleLoad() {
	dir, err := os.MkdirTemp("", "vendorimg-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, config.FileName)
	err = os.WriteFile(path, []byte(`# vendorimg.yaml
layout: testdata/images
images:
  - ref: docker.io/library/alpine:3.19.1
    digest: sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b
    platforms: [linux/amd64, linux/arm64]
`), 0o644)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := config.Load(context.Background(), path)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, im := range c.Images {
		fmt.Println(im.Ref.Familiar(), im.Digest.Encoded()[:12], im.Platforms)
	}
	// Output:
	// alpine:3.19.1 c5b1261d6d3e linux/amd64,linux/arm64
}

func ExampleConfig_Set() {
	c, err := config.New("/project/vendorimg.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	ref, err := reference.Parse("alpine:3.19.1")
	if err != nil {
		fmt.Println(err)
		return
	}
	sel, err := platform.ParseSelection([]string{"linux/amd64", "linux/arm64"})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = c.Set(config.Image{Ref: ref, Digest: "sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b", Platforms: sel})
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := c.Encode()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(b))
	// Output:
	// # vendorimg.yaml: images vendored into testdata/images (see vendorimg --help)
	// layout: testdata/images
	// images:
	//   - ref: docker.io/library/alpine:3.19.1
	//     digest: sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b
	//     platforms: [linux/amd64, linux/arm64]
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"vendorimg.yaml", "commented.yaml", "empty-images.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "images:\n", "a: &a [x]\nb: *a\n", "images:\n  - ref: alpine@" + alpineDigest + "\n    platforms: all\n", "- x\n", "{}", "mirrors: {a: b}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("/p/vendorimg.yaml", data)
		if err != nil {
			if !errors.Is(err, errs.ErrConfig) {
				t.Fatalf("Parse(%q) = %v, want an error wrapping %v", data, err, errs.ErrConfig)
			}
			return
		}
		for _, im := range c.Images {
			if im.Digest == "" || im.Ref.Digest != "" || im.Line <= 0 {
				t.Fatalf("Parse(%q) image %+v, want a digest, a ref without one, and a line", data, im)
			}
		}
		// Save re-parses what it writes: an unedited file must survive.
		b, err := c.Encode()
		if err != nil {
			t.Fatalf("Parse(%q).Encode() = %v, want nil", data, err)
		}
		again, err := config.Parse("/p/vendorimg.yaml", b)
		if err != nil {
			t.Fatalf("Parse(Encode(Parse(%q))) = %v, want nil (encoded %q)", data, err, b)
		}
		if names(again) != names(c) || again.Layout != c.Layout {
			t.Fatalf("Parse(Encode(Parse(%q))) = %q in %q, want %q in %q", data, names(again), again.Layout, names(c), c.Layout)
		}
	})
}

// names lists a configuration's images, for comparisons.
func names(c *config.Config) string {
	var out []string
	for _, im := range c.Images {
		out = append(out, im.Name())
	}
	return strings.Join(out, ", ")
}

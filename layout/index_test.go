package layout_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
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
		t.Errorf("got\n%s\nwant (%s):\n%s", got, path, want)
	}
}

const (
	alpineList  = "sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b"
	alpineAmd64 = "sha256:6457d53fb065d6f250e1504b9bc42d5b6c65941d57532c072d929dd0628977d0"
)

// indexEntries are index.json entries in no particular order, as a sync
// that visits images concurrently might produce them.
func indexEntries() []ocispec.Descriptor {
	return []ocispec.Descriptor{
		layout.Entry(ocispec.Descriptor{MediaType: manifest.MediaTypeDockerList, Digest: alpineList, Size: 1638,
			// Nothing but media type, digest and size is kept.
			Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}, Annotations: map[string]string{"upstream": "x"}, URLs: []string{"https://example.test/"}},
			"docker.io/library/alpine:3.19.1"),
		layout.Entry(ocispec.Descriptor{MediaType: manifest.MediaTypeOCIManifest, Digest: digest.FromString("app"), Size: 1234}, "registry.example.test/team/app:v1&<2>"),
		layout.Entry(ocispec.Descriptor{MediaType: manifest.MediaTypeDockerV2, Digest: alpineAmd64, Size: 528}, "docker.io/library/alpine@"+alpineAmd64),
		layout.Entry(ocispec.Descriptor{MediaType: manifest.MediaTypeOCIIndex, Digest: digest.FromString("busybox"), Size: 2000}, "docker.io/library/busybox:1.36"),
	}
}

func TestEncodeIndex(t *testing.T) {
	entries := indexEntries()
	want, err := layout.EncodeIndex(entries)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "index.golden.json", want)
	if !bytes.HasSuffix(want, []byte("}\n")) || bytes.HasSuffix(want, []byte("\n\n")) {
		t.Errorf("EncodeIndex() ends with %q, want one trailing newline", want[len(want)-3:])
	}
	// Any order of the same entries gives the same bytes.
	perms := [][]int{{3, 2, 1, 0}, {1, 3, 0, 2}, {2, 0, 3, 1}}
	for _, p := range perms {
		shuffled := make([]ocispec.Descriptor, len(entries))
		for i, j := range p {
			shuffled[i] = entries[j]
		}
		got, err := layout.EncodeIndex(shuffled)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("EncodeIndex(order %v) = \n%s, %v, want the same bytes as in order 0 1 2 3", p, got, err)
		}
	}
	// The entries are sorted by name and parse back unchanged.
	idx, err := layout.ParseIndex(want)
	if err != nil {
		t.Fatalf("ParseIndex(EncodeIndex()) = %v, want nil", err)
	}
	for i := 1; i < len(idx.Manifests); i++ {
		if layout.NameOf(idx.Manifests[i-1]) > layout.NameOf(idx.Manifests[i]) {
			t.Errorf("EncodeIndex() entry %d %q comes before %q, want sorted names", i-1, layout.NameOf(idx.Manifests[i-1]), layout.NameOf(idx.Manifests[i]))
		}
	}
	if entries[0].Platform != nil || entries[0].URLs != nil || len(entries[0].Annotations) != 2 {
		t.Errorf("Entry() kept %+v, want only media type, digest, size and the two names", entries[0])
	}
}

func TestEncodeIndexEmpty(t *testing.T) {
	for _, entries := range [][]ocispec.Descriptor{nil, {}} {
		got, err := layout.EncodeIndex(entries)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "index-empty.golden.json", got)
	}
}

func TestEncodeIndexSameNameSortsByDigest(t *testing.T) {
	a := layout.Entry(ocispec.Descriptor{MediaType: "x", Digest: digest.FromString("a"), Size: 1}, "")
	b := layout.Entry(ocispec.Descriptor{MediaType: "x", Digest: digest.FromString("b"), Size: 1}, "")
	ab, err := layout.EncodeIndex([]ocispec.Descriptor{a, b})
	if err != nil {
		t.Fatal(err)
	}
	ba, err := layout.EncodeIndex([]ocispec.Descriptor{b, a})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ab, ba) {
		t.Errorf("EncodeIndex(a, b) = \n%s\nEncodeIndex(b, a) = \n%s\nwant the same bytes", ab, ba)
	}
}

func TestWriteIndex(t *testing.T) {
	l := newLayout(t)
	entries := indexEntries()
	changed, err := l.WriteIndex(context.Background(), entries)
	if err != nil || !changed {
		t.Fatalf("WriteIndex() = %v, %v, want true, nil", changed, err)
	}
	b, err := os.ReadFile(filepath.Join(l.Root(), layout.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "index.golden.json", b)
	before := snapshot(t, l.Root())
	changed, err = l.WriteIndex(context.Background(), []ocispec.Descriptor{entries[2], entries[0], entries[3], entries[1]})
	if err != nil || changed {
		t.Errorf("WriteIndex(same entries) = %v, %v, want false, nil", changed, err)
	}
	if after := snapshot(t, l.Root()); !maps.Equal(before, after) {
		t.Errorf("WriteIndex(same entries) touched the layout")
	}
	idx, err := l.ReadIndex(context.Background())
	if err != nil || len(idx.Manifests) != len(entries) {
		t.Fatalf("ReadIndex() = %v, %v, want %d entries", idx, err, len(entries))
	}
	m, ok := layout.Lookup(idx, "docker.io/library/alpine:3.19.1", alpineList)
	if d := m.Entry; !ok || m.Adopted || d.Digest != alpineList || d.Size != 1638 || d.MediaType != manifest.MediaTypeDockerList {
		t.Errorf("Lookup(alpine:3.19.1) = %+v, %v, want the manifest list", m, ok)
	}
	if m, ok := layout.Lookup(idx, "docker.io/library/alpine:3.20", ""); ok {
		t.Errorf("Lookup(alpine:3.20) = %+v, true, want false", m)
	}
	if files := listFiles(t, l.Root()); hasTemp(files) {
		t.Errorf("the layout holds %q, want no temporary file", files)
	}

	errTests := []struct {
		name    string
		entries []ocispec.Descriptor
		wantErr error
	}{
		{"same name twice", []ocispec.Descriptor{entries[0], layout.Entry(ocispec.Descriptor{MediaType: "x", Digest: digest.FromString("y"), Size: 1}, layout.NameOf(entries[0]))}, errs.ErrInvalidLayout},
		{"traversal digest", []ocispec.Descriptor{{MediaType: "x", Digest: "sha256:../../x", Size: 1}}, errs.ErrInvalidDigest},
		{"negative size", []ocispec.Descriptor{{MediaType: "x", Digest: alpineList, Size: -1}}, errs.ErrSizeMismatch},
		{"no media type", []ocispec.Descriptor{{Digest: alpineList, Size: 1}}, nil},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			changed, err := l.WriteIndex(context.Background(), tt.entries)
			if err == nil || changed || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("WriteIndex(%s) = %v, %v, want false and an error wrapping %v", tt.name, changed, err, tt.wantErr)
			}
			if after := snapshot(t, l.Root()); !maps.Equal(before, after) {
				t.Errorf("a failed WriteIndex(%s) changed the layout", tt.name)
			}
		})
	}
}

func TestParseIndex(t *testing.T) {
	good, err := layout.EncodeIndex(indexEntries())
	if err != nil {
		t.Fatal(err)
	}
	entry := func(d string) string {
		return `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + d + `]}`
	}
	tests := []struct {
		name    string
		in      string
		wantErr []error // nil: valid
		wantIn  string
	}{
		{"canonical", string(good), nil, ""},
		{"no mediaType", `{"schemaVersion":2,"manifests":[]}`, nil, ""},
		{"no manifests", `{"schemaVersion":2}`, nil, ""},
		{"other tools' fields", `{"schemaVersion":2,"annotations":{"a":"b"},"manifests":[{"mediaType":"x","digest":"` + alpineList + `","size":1,"annotations":{"org.opencontainers.image.ref.name":"3.19"}}]}`, nil, ""},
		{"empty", ``, []error{errs.ErrInvalidLayout}, ""},
		{"not json", `{"schemaVersion":2,`, []error{errs.ErrInvalidLayout}, ""},
		{"an array", `[]`, []error{errs.ErrInvalidLayout}, ""},
		{"schemaVersion 1", `{"schemaVersion":1,"manifests":[]}`, []error{errs.ErrInvalidLayout}, "schemaVersion 1"},
		{"schemaVersion missing", `{"manifests":[]}`, []error{errs.ErrInvalidLayout}, "schemaVersion 0"},
		{"wrong mediaType", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}`, []error{errs.ErrInvalidLayout}, `mediaType "application/vnd.oci.image.manifest.v1+json"`},
		{"docker list mediaType", `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeDockerList + `","manifests":[]}`, []error{errs.ErrInvalidLayout}, "mediaType"},
		{"path traversal digest", entry(`{"mediaType":"x","digest":"sha256:../../../../etc/passwd","size":1}`), []error{errs.ErrInvalidLayout, errs.ErrInvalidDigest}, "manifests[0]"},
		{"absolute path digest", entry(`{"mediaType":"x","digest":"sha256:/etc/passwd","size":1}`), []error{errs.ErrInvalidLayout, errs.ErrInvalidDigest}, "manifests[0]"},
		{"digest without algorithm", entry(`{"mediaType":"x","digest":"c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b","size":1}`), []error{errs.ErrInvalidLayout, errs.ErrInvalidDigest}, "manifests[0]"},
		{"sha512 digest", entry(`{"mediaType":"x","digest":"sha512:` + strings.Repeat("ab", 64) + `","size":1}`), []error{errs.ErrInvalidLayout, errs.ErrInvalidDigest}, "manifests[0]"},
		{"negative size", entry(`{"mediaType":"x","digest":"` + alpineList + `","size":-1}`), []error{errs.ErrInvalidLayout, errs.ErrSizeMismatch}, "negative size"},
		{"huge size overflows", entry(`{"mediaType":"x","digest":"` + alpineList + `","size":1e30}`), []error{errs.ErrInvalidLayout}, ""},
		{"missing media type", entry(`{"digest":"` + alpineList + `","size":1}`), []error{errs.ErrInvalidLayout}, "no mediaType"},
		{"second entry bad", entry(`{"mediaType":"x","digest":"` + alpineList + `","size":1},{"mediaType":"x","digest":"sha256:abc","size":1}`), []error{errs.ErrInvalidLayout, errs.ErrInvalidDigest}, "manifests[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, err := layout.ParseIndex([]byte(tt.in))
			if tt.wantErr == nil {
				if err != nil || idx == nil {
					t.Errorf("ParseIndex(%s) = %v, %v, want an index", tt.name, idx, err)
				}
				return
			}
			if err == nil || idx != nil {
				t.Fatalf("ParseIndex(%s) = %+v, %v, want nil and an error", tt.name, idx, err)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("ParseIndex(%s) = %v, want an error wrapping %v", tt.name, err, want)
				}
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("ParseIndex(%s) = %v, want it to contain %q", tt.name, err, tt.wantIn)
			}
		})
	}
}

func TestReadIndexRefusesSymlinkAndSize(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, l *layout.Layout)
		wantErr error
		wantIn  string
	}{
		{"symlink", func(t *testing.T, l *layout.Layout) {
			p := filepath.Join(l.Root(), layout.IndexFile)
			outside := filepath.Join(filepath.Dir(l.Root()), "index.json")
			writeOver(t, outside, []byte(`{"schemaVersion":2,"manifests":[]}`))
			replaceWith(t, p, func() error { return os.Symlink(outside, p) })
		}, nil, "symlink"},
		{"too large", func(t *testing.T, l *layout.Layout) {
			big := append([]byte(`{"schemaVersion":2,"manifests":[]}`), bytes.Repeat([]byte(" "), layout.MaxIndexSize)...)
			writeOver(t, filepath.Join(l.Root(), layout.IndexFile), big)
		}, errs.ErrTooLarge, ""},
		{"missing", func(t *testing.T, l *layout.Layout) {
			if err := os.Remove(filepath.Join(l.Root(), layout.IndexFile)); err != nil {
				t.Fatal(err)
			}
		}, os.ErrNotExist, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			tt.setup(t, l)
			idx, err := l.ReadIndex(context.Background())
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("ReadIndex() = %v, %v, want an error wrapping %v containing %q", idx, err, tt.wantErr, tt.wantIn)
			}
		})
	}
}

func TestNameOf(t *testing.T) {
	d := alpineList
	tests := []struct {
		name        string
		annotations map[string]string
		want        string
	}{
		{"both", map[string]string{layout.AnnotationRefName: "docker.io/library/alpine:3.19.1", layout.AnnotationContainerName: "docker.io/library/alpine:3.19.1"}, "docker.io/library/alpine:3.19.1"},
		{"containerd wins", map[string]string{layout.AnnotationRefName: "3.19.1", layout.AnnotationContainerName: "docker.io/library/alpine:3.19.1"}, "docker.io/library/alpine:3.19.1"},
		{"ref name only, as skopeo writes it", map[string]string{layout.AnnotationRefName: "3.19.1"}, "3.19.1"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := layout.NameOf(ocispec.Descriptor{Digest: digest.Digest(d), Annotations: tt.annotations}); got != tt.want {
				t.Errorf("NameOf(%v) = %q, want %q", tt.annotations, got, tt.want)
			}
		})
	}
}

func FuzzParseIndex(f *testing.F) {
	good, err := layout.EncodeIndex(indexEntries())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	for _, s := range []string{
		`{"schemaVersion":2,"manifests":[]}`,
		`{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:../../etc/passwd","size":1}]}`,
		`{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"abc","size":1}]}`,
		`{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"` + alpineList + `","size":-1}]}`,
		`{"schemaVersion":1}`, `null`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := layout.ParseIndex(b)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidLayout) {
				t.Fatalf("ParseIndex(%q) = %v, want an error wrapping %v", b, err, errs.ErrInvalidLayout)
			}
			return
		}
		l := layout.New("/srv/images")
		for _, d := range idx.Manifests {
			if err := manifest.CheckDescriptor(d); err != nil {
				t.Fatalf("ParseIndex(%q) returned %+v: CheckDescriptor = %v, want nil", b, d, err)
			}
			// Every digest it accepts names a file inside blobs/sha256.
			p, err := l.BlobPath(d.Digest)
			if err != nil || filepath.Dir(p) != filepath.Join("/srv/images", "blobs", "sha256") {
				t.Fatalf("BlobPath(%q) = %q, %v, want a file in blobs/sha256", d.Digest, p, err)
			}
		}
		// What it accepts, the canonical encoding keeps.
		enc, err := layout.EncodeIndex(idx.Manifests)
		if err != nil {
			t.Fatalf("EncodeIndex(ParseIndex(%q)) = %v, want nil", b, err)
		}
		again, err := layout.ParseIndex(enc)
		if err != nil || len(again.Manifests) != len(idx.Manifests) {
			t.Fatalf("ParseIndex(EncodeIndex(ParseIndex(%q))) = %v, %v, want %d entries", b, again, err, len(idx.Manifests))
		}
		enc2, err := layout.EncodeIndex(again.Manifests)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("EncodeIndex is not stable: %q then %q (%v)", enc, enc2, err)
		}
	})
}

// TestLookupAdopts: an image with no entry of its own takes an entry
// another tool wrote for its pin, and never one vendorimg named for another
// image.
func TestLookupAdopts(t *testing.T) {
	pin, other := digest.FromString("pin"), digest.FromString("other")
	const name = "docker.io/library/alpine:3.19"
	entry := func(d digest.Digest, annotations map[string]string) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: d, Size: 100, Annotations: annotations}
	}
	tests := []struct {
		name        string
		entries     []ocispec.Descriptor
		wantOK      bool
		wantAdopted bool
		wantIndex   int
		wantWas     string
	}{
		{"by name", []ocispec.Descriptor{entry(pin, map[string]string{layout.AnnotationRefName: "3.19"}), layout.Entry(entry(pin, nil), name)}, true, false, 1, name},
		{"by name with another digest", []ocispec.Descriptor{entry(pin, nil), layout.Entry(entry(other, nil), name)}, true, false, 1, name},
		{"a tag only (regctl, skopeo)", []ocispec.Descriptor{entry(other, map[string]string{layout.AnnotationRefName: "1"}), entry(pin, map[string]string{layout.AnnotationRefName: "3.19"})}, true, true, 1, "3.19"},
		{"no name (crane)", []ocispec.Descriptor{entry(pin, nil)}, true, true, 0, ""},
		{"a short reference", []ocispec.Descriptor{entry(pin, map[string]string{layout.AnnotationRefName: "alpine:3.19"})}, true, true, 0, "alpine:3.19"},
		{"another image's vendorimg name", []ocispec.Descriptor{layout.Entry(entry(pin, nil), "docker.io/library/alpine:3.19.1")}, false, false, 0, ""},
		{"another digest", []ocispec.Descriptor{entry(other, nil)}, false, false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := layout.Lookup(&ocispec.Index{Manifests: tt.entries}, name, pin)
			if ok != tt.wantOK || m.Adopted != tt.wantAdopted || (ok && (m.Index != tt.wantIndex || m.Was != tt.wantWas)) {
				t.Fatalf("Lookup() = %+v, %v, want ok %v, adopted %v, index %d, was %q", m, ok, tt.wantOK, tt.wantAdopted, tt.wantIndex, tt.wantWas)
			}
			if ok && layout.NameOf(m.Entry) != name {
				t.Errorf("Lookup().Entry is named %q, want %q", layout.NameOf(m.Entry), name)
			}
		})
	}
	t.Run("keeps other annotations", func(t *testing.T) {
		idx := &ocispec.Index{Manifests: []ocispec.Descriptor{entry(pin, map[string]string{layout.AnnotationRefName: "1", "org.example.note": "kept"})}}
		m, _ := layout.Lookup(idx, name, pin)
		if m.Entry.Annotations["org.example.note"] != "kept" || m.Entry.Annotations[layout.AnnotationContainerName] != name {
			t.Errorf("Lookup().Entry.Annotations = %v, want the note kept and both names %s", m.Entry.Annotations, name)
		}
		if idx.Manifests[0].Annotations[layout.AnnotationRefName] != "1" {
			t.Errorf("Lookup() changed index.json's entry: %v", idx.Manifests[0].Annotations)
		}
	})
}

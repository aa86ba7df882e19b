package testimage_test

import (
	"context"
	"debug/buildinfo"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vendorimg/vendorimg/internal/testsupport/testimage"
)

// TestIndexIsReproducible builds the index for the host's platform twice
// (one platform keeps it fast) and compares the bytes; when the Go version
// is the one the committed image records, the build must also equal the
// committed image byte for byte.
func TestIndexIsReproducible(t *testing.T) {
	ctx := context.Background()
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	build := func() (v1.ImageIndex, v1.Hash, []byte) {
		t.Helper()
		idx, err := testimage.Index(ctx, []v1.Platform{p}, testimage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := idx.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		return idx, d, raw
	}
	idx1, d1, raw1 := build()
	_, d2, raw2 := build()
	if d1 != d2 || string(raw1) != string(raw2) {
		t.Fatalf("Index(%s) built twice = %s then %s, want the same digest\n%s\n%s", p, d1, d2, raw1, raw2)
	}

	goVersion, err := testimage.GoVersion(ctx, testimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := loadCommitted(t, runtime.GOARCH)
	history := c.config(t).History
	if len(history) != 1 {
		t.Fatalf("committed config has %d history entries, want 1", len(history))
	}
	if history[0].Comment != "built with "+goVersion {
		// The two builds above were compared; the committed image can only
		// be compared by a build with its Go version.
		t.Skipf("the committed image was %s, this is %s: not comparing this build with it (go generate -tags mkprobe ./internal/testsupport/testimage re-pins)", history[0].Comment, goVersion)
	}
	m, err := idx1.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	got := m.Manifests[0].Digest
	if want := c.image.Manifest.Digest.String(); got.String() != want {
		t.Errorf("Index(%s) with %s has manifest %s, want the committed %s: the build is not reproducible, or the probe changed without go generate -tags mkprobe ./internal/testsupport/testimage", p, goVersion, got, want)
	}
}

// TestCompileStampsNothingLocal checks the build settings recorded in the
// binary: no VCS state, no paths (with -trimpath go does not even record
// -ldflags), no cgo, and the baseline GOAMD64 even when the caller's
// environment asks for something else.
func TestCompileStampsNothingLocal(t *testing.T) {
	t.Setenv("GOFLAGS", "-buildvcs=true")
	t.Setenv("GOAMD64", "v3")
	p := v1.Platform{OS: "linux", Architecture: "amd64"}
	out := filepath.Join(t.TempDir(), "probe")
	if err := testimage.Compile(context.Background(), p, out, testimage.Options{}); err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
		if strings.HasPrefix(s.Key, "vcs") {
			t.Errorf("build setting %s=%s, want no VCS stamp", s.Key, s.Value)
		}
	}
	want := map[string]string{"-trimpath": "true", "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v1", "-buildmode": "exe"}
	for k, v := range want {
		if settings[k] != v {
			t.Errorf("build setting %s = %q, want %q (all: %v)", k, settings[k], v, settings)
		}
	}
	if info.Path != testimage.ProbePackage {
		t.Errorf("binary path = %q, want %q", info.Path, testimage.ProbePackage)
	}
}

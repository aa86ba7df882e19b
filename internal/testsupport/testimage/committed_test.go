package testimage_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/testimage"
	"github.com/vendorimg/vendorimg/layout"
)

// repoConfig is the repository root's vendorimg.yaml, seen from this
// package's folder (where go test runs).
var repoConfig = filepath.Join("..", "..", "..", config.FileName)

// committed is the probe image as vendored in the repository: its pin and
// the stored image for arch.
type committed struct {
	cfg    *config.Config
	pin    config.Image
	layout *layout.Layout
	image  layout.Image
}

func loadCommitted(t *testing.T, arch string) committed {
	t.Helper()
	cfg, err := config.Load(context.Background(), repoConfig)
	if err != nil {
		t.Fatal(err)
	}
	i := -1
	for j, im := range cfg.Images {
		if im.Name() == testimage.Ref {
			i = j
		}
	}
	if i < 0 {
		t.Fatalf("%s does not pin %s (run go generate -tags mkprobe ./internal/testsupport/testimage)", cfg.Path, testimage.Ref)
	}
	c := committed{cfg: cfg, pin: cfg.Images[i], layout: layout.New(cfg.LayoutDir())}
	idx, err := c.layout.ReadIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, ok := layout.Lookup(idx, testimage.Ref, "")
	top := m.Entry
	if !ok {
		t.Fatalf("%s/index.json has no entry %s", cfg.LayoutDir(), testimage.Ref)
	}
	inv, err := c.layout.Inventory(context.Background(), top, layout.WalkOptions{Platforms: c.pin.Platforms})
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range inv.Images {
		if im.Platform.OS == "linux" && im.Platform.Architecture == arch {
			c.image = im
			return c
		}
	}
	t.Fatalf("%s has no linux/%s image (this test runs the probe for the host's architecture, %s)", testimage.Ref, arch, runtime.GOARCH)
	return c
}

// config reads the stored image's config.
func (c committed) config(t *testing.T) ocispec.Image {
	t.Helper()
	raw, err := c.layout.ReadBlob(context.Background(), c.image.Config.Digest, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var img ocispec.Image
	if err := json.Unmarshal(raw, &img); err != nil {
		t.Fatal(err)
	}
	return img
}

// files reads the stored image's only layer: each entry's header and
// contents.
func (c committed) files(t *testing.T) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	if len(c.image.Layers) != 1 {
		t.Fatalf("image %s has %d layers, want 1", c.image.Manifest.Digest, len(c.image.Layers))
	}
	f, err := c.layout.OpenBlob(c.image.Layers[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	headers, bodies := map[string]*tar.Header{}, map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return headers, bodies
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			t.Fatal(err)
		}
		headers[h.Name], bodies[h.Name] = h, b
	}
}

func TestCommittedLayoutVerifies(t *testing.T) {
	c := loadCommitted(t, runtime.GOARCH)
	if len(c.cfg.Mirrors) != 0 {
		t.Errorf("%s has mirrors %v; the mirror to the generator's local registry must not be committed", c.cfg.Path, c.cfg.Mirrors)
	}
	if got := c.pin.Platforms.Strings(); len(got) != 2 || got[0] != "linux/amd64" || got[1] != "linux/arm64" {
		t.Errorf("%s pins platforms %v, want [linux/amd64 linux/arm64]", c.cfg.Path, got)
	}
	report, err := vendorimg.Verify(context.Background(), c.cfg, vendorimg.VerifyOptions{Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range report.Findings {
		t.Errorf("Verify(%s, deep): %s", c.cfg.LayoutDir(), f)
	}
	if report.Blobs != 7 {
		t.Errorf("Verify(%s) hashed %d blobs, want 7 (an index, and per platform a manifest, a config and a layer)", c.cfg.LayoutDir(), report.Blobs)
	}
}

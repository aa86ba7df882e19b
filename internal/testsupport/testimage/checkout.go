package testimage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
)

// Checkout makes a project for a test in a new temporary folder of t: a
// copy of the layout of the vendorimg.yaml at cfgPath (the repository's,
// which vendors the probe as Ref) in which the probe is vendored under
// each of names instead, with the same bytes and pin (an index.json entry
// per name), and a vendorimg.yaml that configures those names. It returns
// the new vendorimg.yaml's path. The names give the probe the Docker Hub
// name a test pulls through an engine's docker.io registry mirrors
// ("docker.io/library/alpine:3.19.4"); Ref among them keeps its own.
func Checkout(t testing.TB, cfgPath string, names ...string) string {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(ctx, cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var probe *config.Image
	for i, im := range cfg.Images {
		if im.Name() == Ref {
			probe = &cfg.Images[i]
		}
	}
	if probe == nil {
		t.Fatalf("%s does not configure %s", cfgPath, Ref)
	}
	dir := t.TempDir()
	dst := filepath.Join(dir, "testdata", "images")
	if err := os.CopyFS(dst, os.DirFS(cfg.LayoutDir())); err != nil {
		t.Fatal(err)
	}
	l := layout.New(dst)
	idx, err := l.ReadIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := layout.Lookup(idx, Ref, probe.Digest)
	if !ok {
		t.Fatalf("%s/index.json has no %s", cfg.LayoutDir(), Ref)
	}
	entries := make([]ocispec.Descriptor, len(names))
	var yaml strings.Builder
	yaml.WriteString("images:\n")
	for i, name := range names {
		entries[i] = layout.Entry(m.Entry, name)
		fmt.Fprintf(&yaml, "  - ref: %s\n    digest: %s\n    platforms: [%s]\n", name, probe.Digest, strings.Join(probe.Platforms.Strings(), ", "))
	}
	if _, err := l.WriteIndex(ctx, entries); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, config.FileName)
	if err := os.WriteFile(path, []byte(yaml.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

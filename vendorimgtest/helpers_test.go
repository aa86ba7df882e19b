package vendorimgtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
)

// probeRef is the repository's own vendored image (vendorimg.yaml at the
// module root).
const probeRef = "registry.vendorimg.test/probe:1"

// helperEnv marks a scenario process that a test starts: TestMain takes no
// lock there (the parent holds it), and the TestHelper functions run.
const helperEnv = "VENDORIMGTEST_HELPER"

// repoConfig is the repository's vendorimg.yaml, found as Main finds it.
func repoConfig(t *testing.T) *config.Config {
	t.Helper()
	path, err := config.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// engine connects to the engine under test (DOCKER_HOST, or the local
// socket).
func engine(t *testing.T) engineClient {
	t.Helper()
	c, err := newClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// vendoredID is the image ID the engine gives the probe image of its
// platform, read from the layout (the config digest with the classic
// store, the platform manifest's digest with the containerd store), and
// the digest of that platform's first layer.
func vendoredID(t *testing.T, c engineClient, cfg *config.Config) (id, layer digest.Digest, plat string) {
	t.Helper()
	ctx := context.Background()
	eng, err := daemon.Inspect(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	im := cfg.Images[0]
	l := layout.New(cfg.LayoutDir())
	idx, err := l.ReadIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, ok := layout.Lookup(idx, im.Name(), "")
	top := m.Entry
	if !ok {
		t.Fatalf("%s has no entry %s", l.Root(), im.Name())
	}
	inv, err := l.Inventory(ctx, top, layout.WalkOptions{Platforms: im.Platforms})
	if err != nil {
		t.Fatal(err)
	}
	for _, ii := range inv.Images {
		if platform.FromOCI(ii.Platform).String() == eng.Platform {
			id = ii.Config.Digest
			if enginetest.Describe(t).Store == daemon.StoreContainerd {
				id = ii.Manifest.Digest
			}
			return id, ii.Layers[0].Digest, eng.Platform
		}
	}
	t.Fatalf("%s is not vendored for the engine's platform %s", im.Name(), eng.Platform)
	return "", "", ""
}

// docker runs the docker command and returns its trimmed stdout; it fails
// the test if the command fails.
var docker = enginetest.Docker

// restoreProbe puts the vendored probe image back under its tag when the
// test ends, and checks that docker holds it again.
func restoreProbe(t *testing.T) {
	t.Cleanup(func() {
		ctx := context.Background()
		cfg := repoConfig(t)
		c := engine(t)
		l := layout.New(cfg.LayoutDir())
		if _, err := daemon.Load(ctx, c, l, cfg.Images, daemon.LoadOptions{}); err != nil {
			t.Errorf("restoring %s: Load() = %v", probeRef, err)
			return
		}
		rep, err := daemon.Verify(ctx, c, l, cfg.Images, daemon.VerifyOptions{})
		if err != nil || !rep.OK() {
			t.Errorf("after restoring %s: Verify() = %+v, %v; want OK", probeRef, rep, err)
		}
	})
}

// otherImage makes an image that is not the vendored one (a commit of a
// created container of the probe, enginetest.Commit) and removes it when
// the test ends. Call it before restoreProbe, so that the restore runs
// first. It returns the image's ID as inspect writes it.
func otherImage(t *testing.T) string {
	t.Helper()
	return enginetest.Commit(t, probeRef, enginetest.CommitOptions{})
}

// copyConfig writes a vendorimg.yaml in a temporary folder that pins
// cfg's images, and extra entries (YAML list items), with the layout dir.
// It returns its path.
func copyConfig(t *testing.T, cfg *config.Config, layoutDir string, extra ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("layout: " + filepath.ToSlash(layoutDir) + "\nimages:\n")
	for _, im := range cfg.Images {
		b.WriteString("  - ref: " + im.Name() + "\n    digest: " + im.Digest.String() + "\n    platforms: [" + strings.Join(im.Platforms.Strings(), ", ") + "]\n")
	}
	for _, e := range extra {
		b.WriteString(e)
	}
	path := filepath.Join(t.TempDir(), config.FileName)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyLayout copies the layout at src into a temporary folder.
var copyLayout = enginetest.CopyLayout

// flipByte inverts a byte in the middle of the file at path.
var flipByte = enginetest.FlipByte

// fakeRunner stands for *testing.M: it runs fn as the tests and returns
// code.
type fakeRunner struct {
	code int
	fn   func()
	ran  bool
}

func (f *fakeRunner) Run() int {
	f.ran = true
	if f.fn != nil {
		f.fn()
	}
	return f.code
}

// writeFile writes content to path, making its folder.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

package vendorimgtest

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// addImage pins name (pushed already) for platforms in a new
// vendorimg.yaml in a temporary folder, and syncs it (vendorimg.Add).
func addImage(t *testing.T, name string, platforms ...string) *config.Config {
	t.Helper()
	cfg, err := config.New(filepath.Join(t.TempDir(), config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reference.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := platform.ParseSelection(platforms)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vendorimg.Add(context.Background(), cfg, vendorimg.AddOptions{Ref: ref, Platforms: sel}); err != nil {
		t.Fatalf("Add(%s) = %v", name, err)
	}
	return cfg
}

// TestRunAfterUpdate: after a tag moved and vendorimg update re-pinned
// it (pruning the old pin's blobs), a test run through Main loads the new
// pin and passes: a routine re-pin does not break CI.
func TestRunAfterUpdate(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{})
	name := reg.Host + "/update/app:1"
	both := []string{"linux/amd64", "linux/arm64"}
	registrytest.Push(t, name, registrytest.Index(t, both, 1, 4000, 701, registrytest.OCI))
	cfg := addImage(t, name, both...)
	pin2 := registrytest.Push(t, name, registrytest.Index(t, both, 1, 4000, 702, registrytest.OCI))
	res, err := vendorimg.Update(ctx, cfg, vendorimg.UpdateOptions{})
	if err != nil || len(res.Updated) != 1 || cfg.Images[0].Digest != pin2 || len(res.Sync.Pruned) == 0 {
		t.Fatalf("Update() = %+v, %v; want the image re-pinned to %s and the old blobs pruned", res, err, pin2)
	}

	var stderr bytes.Buffer
	m := &fakeRunner{}
	c := engine(t)
	t.Cleanup(func() {
		if _, err := daemon.Unload(ctx, c, layout.New(cfg.LayoutDir()), cfg.Images, daemon.UnloadOptions{}); err != nil {
			t.Errorf("unloading %s: %v", name, err)
		}
	})
	if code := run(ctx, m, Options{Config: cfg.Path, Lock: LockNone, Stderr: &stderr}, nil); code != 0 || !m.ran {
		t.Errorf("run() after update = %d (tests ran %v), want 0:\n%s", code, m.ran, stderr.String())
	}
}

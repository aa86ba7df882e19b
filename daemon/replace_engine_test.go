package daemon_test

import (
	"context"
	"testing"

	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// TestLoadSaysWhatItReplaced moves a loaded image's tag onto another image
// and loads again: the result names the image the tag pointed to and what
// became of it. Then Replace removes the vendored image and loads it again.
func TestLoadSaysWhatItReplaced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	im := f.add(repoName(t, "img"), "1.0", registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, randomSeed(t), registrytest.OCI), "linux/amd64")
	other := f.add(repoName(t, "other"), "1.0", registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, randomSeed(t), registrytest.OCI), "linux/amd64")
	if _, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{}); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	otherID := f.id(f.platformImages(other)["linux/amd64"])
	vendoredID := f.id(f.platformImages(im)["linux/amd64"])
	if err := f.c.ImageTag(ctx, tagOf(other), tagOf(im)); err != nil {
		t.Fatal(err)
	}
	rep, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images[:1], daemon.LoadOptions{})
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	got := rep.Images[0]
	if got.Replaced != otherID || got.ReplacedAction != daemon.ReplacedTagged+" "+tagOf(other) && got.ReplacedAction != daemon.ReplacedTagged+" docker.io/library/"+tagOf(other) && got.ReplacedAction != daemon.ReplacedTagged+" localhost/"+tagOf(other) {
		t.Errorf("Load() after a re-tag = %+v, want it to name %s, still tagged %s", got, otherID, tagOf(other))
	}
	rep, err = daemon.Load(ctx, f.c, f.l, f.cfg.Images[:1], daemon.LoadOptions{Replace: true})
	if err != nil {
		t.Fatalf("Load(Replace) = %v", err)
	}
	got = rep.Images[0]
	if got.Action != daemon.ActionLoaded || got.ImageID != vendoredID || got.Replaced != vendoredID || got.ReplacedAction != daemon.ReplacedRemoved || got.Streamed == 0 {
		t.Errorf("Load(Replace) = %+v, want %s removed and loaded again from the layout", got, vendoredID)
	}
}

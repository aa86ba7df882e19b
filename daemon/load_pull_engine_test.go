package daemon_test

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/testbin"
	"github.com/vendorimg/vendorimg/layout"
)

// loadLogged runs daemon.Load with a debug log, which it returns.
func loadLogged(f *fixture, images []config.Image) (*daemon.LoadReport, string, error) {
	var log testbin.Log
	rep, err := daemon.Load(context.Background(), f.c, f.l, images, daemon.LoadOptions{Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	return rep, log.String(), err
}

var pullRef = regexp.MustCompile(`ref=(127\.0\.0\.1:[0-9]+/)`)

// noTemporaryName fails the test if the engine holds a name under the
// address of the loopback server the log names.
func noTemporaryName(t *testing.T, f *fixture, log string) {
	t.Helper()
	m := pullRef.FindStringSubmatch(log)
	if m == nil {
		return
	}
	list, err := f.c.ImageList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range list {
		for _, name := range append(im.RepoTags, im.RepoDigests...) {
			if strings.HasPrefix(name, m[1]) {
				t.Errorf("the engine still holds the temporary name %s (image %s, names %v %v)", name, im.ID, im.RepoTags, im.RepoDigests)
			}
		}
	}
}

// pullingEngine: load has the engine under test pull from its loopback
// server (podman), rather than send an archive (docker, either store).
func pullingEngine(f *fixture) bool { return f.eng.Product == "podman" }

// TestLoadPulls: podman pulls the images to load from vendorimg's
// loopback server (two images sharing layers, and a third the same as the
// first); docker, with either store, is never asked to pull. Either way
// each tag points to the vendored image and no temporary name is left.
func TestLoadPulls(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b, c, _, _ := sharedImages(t, f)
	images := []config.Image{a, b, c}
	rep, log, err := loadLogged(f, images)
	if err != nil {
		t.Fatalf("Load() = %v\n%s", err, log)
	}
	asked := strings.Contains(log, "the engine pulls the image")
	pulled := asked && !strings.Contains(log, "the engine did not pull")
	if pulled != pullingEngine(f) || asked != pullingEngine(f) {
		t.Errorf("Load() on %s: asked to pull %v, pulled %v; want %v:\n%s", f.eng, asked, pulled, pullingEngine(f), log)
	}
	pa, pb := f.platformImages(a)["linux/amd64"], f.platformImages(b)["linux/amd64"]
	for i, w := range []struct{ action, id string }{{daemon.ActionLoaded, f.id(pa)}, {daemon.ActionLoaded, f.id(pb)}, {daemon.ActionTagged, f.id(pa)}} {
		got := rep.Images[i]
		if got.Action != w.action || got.ImageID != w.id || got.Match != f.rule() {
			t.Errorf("Load() image %d = %+v, want %s as %s", i, got, w.action, w.id)
		}
		if got.Action == daemon.ActionLoaded && got.Streamed <= 0 {
			t.Errorf("Load() image %d streamed %d bytes, want those the engine took", i, got.Streamed)
		}
	}
	noTemporaryName(t, f, log)
	vr, err := daemon.Verify(context.Background(), f.c, f.l, images, daemon.VerifyOptions{})
	if err != nil || !vr.OK() {
		t.Errorf("Verify() = %+v, %v, want OK", vr.Findings, err)
	}
}

// TestLoadPullTamperedBlob: a layer changed on disk loads nothing of
// its image and is named, on every engine: when podman fetches it, the
// loopback server cuts the pull at once (podman would retry) and the
// archive route names it; when podman already holds the layer (another
// image with it was loaded first) and does not fetch it, it is rehashed
// from the layout before the tag is set. No temporary name is left.
func TestLoadPullTamperedBlob(t *testing.T) {
	t.Parallel()
	for _, held := range []bool{false, true} {
		t.Run(map[bool]string{false: "fetched", true: "already held"}[held], func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			a, b, _, _, _ := sharedImages(t, f)
			if held {
				// b, loaded first, brings the base layers a shares.
				if _, err := daemon.Load(context.Background(), f.c, f.l, []config.Image{b}, daemon.LoadOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			bad := vendoredLayers(t, f, a)[0] // shared with b
			changeBlob(t, f.l, bad, func(raw []byte) []byte { raw[len(raw)-1] ^= 0xff; return raw })
			rep, log, err := loadLogged(f, []config.Image{a})
			if !errors.Is(err, errs.ErrDigestMismatch) || !strings.Contains(err.Error(), layout.RelBlobPath(bad)) {
				t.Fatalf("Load() with a changed layer = %v, want a digest mismatch naming %s\n%s", err, layout.RelBlobPath(bad), log)
			}
			if pullingEngine(f) && held && !strings.Contains(err.Error(), "which the engine already held") {
				t.Errorf("Load() = %v, want the layer %s held found changed in the layout", err, f.eng)
			}
			if pullingEngine(f) && !strings.Contains(log, "the engine pulls the image") {
				t.Errorf("Load() did not ask %s to pull:\n%s", f.eng, log)
			}
			if rep.Images[0].Action != "" {
				t.Errorf("Load() = %+v, want no action", rep.Images[0])
			}
			if _, ok := inspect(t, f.c, tagOf(a)); ok {
				t.Errorf("%s is in the engine after a load with a changed layer", tagOf(a))
			}
			noTemporaryName(t, f, log)
		})
	}
}

// TestLoadConcurrently: two loads of the same images at once (pytest-xdist
// workers, parallel Go tests) both succeed, each with its own loopback
// server on podman, and leave the tags on the vendored images and no
// temporary name.
func TestLoadConcurrently(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b, c, _, _ := sharedImages(t, f)
	images := []config.Image{a, b, c}
	type result struct {
		rep *daemon.LoadReport
		log string
		err error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			rep, log, err := loadLogged(f, images)
			results <- result{rep, log, err}
		}()
	}
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatalf("Load() beside another = %v\n%s", r.err, r.log)
		}
		for i, got := range r.rep.Images {
			if got.ImageID == "" || got.Match != f.rule() {
				t.Errorf("Load() beside another, image %d = %+v, want it in the engine by %s", i, got, f.rule())
			}
		}
		noTemporaryName(t, f, r.log)
	}
	vr, err := daemon.Verify(context.Background(), f.c, f.l, images, daemon.VerifyOptions{})
	if err != nil || !vr.OK() {
		t.Errorf("Verify() after two loads at once = %+v, %v, want OK", vr.Findings, err)
	}
}

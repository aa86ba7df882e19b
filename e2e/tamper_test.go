package e2e_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// These tests break docker's copy of the vendored image on purpose; each
// restores it (env.restore) before the next test starts.

// TestDaemonVerifyCatches: an image that changes under the tag during a
// run is caught by daemon.Verify (vendorimg verify --daemon), naming the
// tag and the image it now points to.
func TestDaemonVerifyCatches(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		// tamper moves the tag to another image and returns its ID.
		tamper func(t *testing.T, probe vendorimgtest.Loaded) string
	}{
		{
			name: "docker commit onto the tag",
			tamper: func(t *testing.T, probe vendorimgtest.Loaded) string {
				return e.commit(t, probe.Ref)
			},
		},
		{
			name: "re-tag of the tag",
			tamper: func(t *testing.T, probe vendorimgtest.Loaded) string {
				other := e.commit(t, "")
				docker(t, "tag", other, probe.Ref)
				return other
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probe := vendorimgtest.Image(t, probeRef)
			e.restore(t)
			id := tt.tamper(t, probe)
			if id == probe.ID {
				t.Fatalf("the tamper left %s on %s", probe.Ref, id)
			}
			rep := e.verify(t)
			if len(rep.Findings) != 1 {
				t.Fatalf("daemon.Verify() findings = %v, want one", rep.Findings)
			}
			f := rep.Findings[0]
			if f.Kind != daemon.KindTagMoved || f.Tag != probeRef || f.Actual != id || !strings.Contains(f.Expected, probe.ID) {
				t.Errorf("daemon.Verify() finding = %+v, want %s on %s, %s pointing to %s instead of %s", f, daemon.KindTagMoved, probeRef, probeRef, id, probe.ID)
			}
			if s := f.String(); !strings.HasPrefix(s, "daemon tag-moved: "+probeRef+": points to image "+id[:len("sha256:")+12]) {
				t.Errorf("finding prints as %q, want it to name the tag and the image", s)
			}
		})
	}
}

// TestRemoveAndReload: removing the image and loading it again from the
// layout gives the same image ID; a second load sends nothing.
func TestRemoveAndReload(t *testing.T) {
	e := newEnv(t)
	probe := vendorimgtest.Image(t, probeRef)
	e.restore(t)
	evict(t, probe)
	ctx := context.Background()
	rep, err := daemon.Load(ctx, e.c, e.l, e.images, daemon.LoadOptions{})
	if err != nil {
		t.Fatalf("daemon.Load() = %v", err)
	}
	got := rep.Images[0]
	if got.Action != daemon.ActionLoaded || got.ImageID != probe.ID || got.Streamed != got.Bytes || got.Tag != probeRef {
		t.Errorf("daemon.Load() after docker rmi = %+v, want %s loaded as %s with every byte streamed", got, probeRef, probe.ID)
	}
	t.Logf("load after rmi: %v, %d bytes", got.Duration, got.Streamed)
	rep, err = daemon.Load(ctx, e.c, e.l, e.images, daemon.LoadOptions{})
	if err != nil {
		t.Fatalf("second daemon.Load() = %v", err)
	}
	if got := rep.Images[0]; got.Action != daemon.ActionSkipped || got.Streamed != 0 || got.ImageID != probe.ID {
		t.Errorf("second daemon.Load() = %+v, want skipped, nothing streamed", got)
	}
	t.Logf("second load: %v", rep.Images[0].Duration)
}

// TestTamperedLayoutLoadsNothing: a layer that changed on disk aborts the
// load, naming the blob, and docker is left without the image.
func TestTamperedLayoutLoadsNothing(t *testing.T) {
	e := newEnv(t)
	probe := vendorimgtest.Image(t, probeRef)
	e.restore(t)
	tampered := copyLayout(t, e.l.Root())
	layer := e.vendored(t, tampered).Layers[0].Digest
	flipByte(t, tampered, layer)
	// Without the rmi, load would find the image in docker and only check
	// its tag: it reads layers only to send them.
	evict(t, probe)

	rep, err := daemon.Load(context.Background(), e.c, tampered, e.images, daemon.LoadOptions{})
	if err == nil {
		t.Fatalf("daemon.Load() of a layout with a tampered layer = %+v, want an error", rep)
	}
	for _, w := range []string{layout.RelBlobPath(layer), "docker loaded nothing"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("daemon.Load() = %v, want an error containing %q", err, w)
		}
	}
	if got := rep.Images[0]; got.Error == "" || got.Action != "" || got.ImageID != "" {
		t.Errorf("daemon.Load() report = %+v, want the image failed", got)
	}
	for _, ref := range []string{probe.ID, probe.Ref} {
		if exists(t, ref) {
			t.Errorf("docker has %s after a load of a tampered layer, want nothing loaded", ref)
		}
	}
}

package vendorimgtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/daemon"
)

// recorder is a testing.TB that records Fatalf and Skip instead of
// stopping the test, so that a test can check what Image does.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recorder) Skip(args ...any)                  { r.skip = fmt.Sprint(args...) }

func TestImage(t *testing.T) {
	cfg := repoConfig(t)
	id, _, plat := vendoredID(t, engine(t), cfg)
	pin := cfg.Images[0].Digest
	loaded := Loaded{Ref: probeRef, ID: id.String(), Name: probeRef, Platform: plat}
	tests := []struct {
		name      string
		ref       string
		want      Loaded
		wantFatal []string
	}{
		{name: "reference as configured", ref: probeRef, want: loaded},
		{name: "with the pinned digest", ref: probeRef + "@" + pin.String(), want: loaded},
		{name: "with another digest", ref: probeRef + "@sha256:" + strings.Repeat("ab", 32), wantFatal: []string{`vendorimgtest.Image("` + probeRef + `@sha256:abab`, "is pinned to " + pin.String() + " in " + cfg.Path}},
		{name: "not configured", ref: "alpine:3.19.1", wantFatal: []string{"docker.io/library/alpine:3.19.1 is not in " + cfg.Path}},
		{name: "malformed", ref: "Probe:1!", wantFatal: []string{`invalid reference "Probe:1!"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			got := Image(r, tt.ref)
			if r.skip != "" {
				t.Fatalf("Image(%q) skipped: %s", tt.ref, r.skip)
			}
			if tt.wantFatal == nil {
				if r.fatal != "" || got != tt.want {
					t.Errorf("Image(%q) = %+v, failed %q; want %+v", tt.ref, got, r.fatal, tt.want)
				}
				return
			}
			for _, w := range tt.wantFatal {
				if !strings.Contains(r.fatal, w) {
					t.Errorf("Image(%q) failed the test with %q, want it to contain %q", tt.ref, r.fatal, w)
				}
			}
		})
	}
}

// TestImageAfterTagMoved: a test that asks for an image an earlier test
// changed fails, instead of running against the wrong image.
func TestImageAfterTagMoved(t *testing.T) {
	other := otherImage(t)
	restoreProbe(t)
	docker(t, "tag", other, probeRef)
	r := &recorder{TB: t}
	Image(r, probeRef)
	for _, w := range []string{"docker no longer holds the vendored " + probeRef, "daemon tag-moved: " + probeRef} {
		if !strings.Contains(r.fatal, w) {
			t.Errorf("Image(%q) after a re-tag failed the test with %q, want it to contain %q", probeRef, r.fatal, w)
		}
	}
}

func TestLoadReport(t *testing.T) {
	id, _, plat := vendoredID(t, engine(t), repoConfig(t))
	rep := LoadReport()
	if rep == nil || len(rep.Images) != 1 {
		t.Fatalf("LoadReport() = %+v, want one image", rep)
	}
	got := rep.Images[0]
	switch {
	case got.Ref != probeRef, got.Tag != probeRef, got.ImageID != id.String(), got.Platform != plat, got.Error != "":
		t.Errorf("LoadReport().Images[0] = %+v, want %s (%s) as %s", got, probeRef, plat, id)
	case got.Action != daemon.ActionLoaded && got.Action != daemon.ActionSkipped && got.Action != daemon.ActionTagged:
		t.Errorf("LoadReport().Images[0].Action = %q, want loaded, skipped or tagged", got.Action)
	}
	t.Logf("Main's load: %s in %v (%d bytes streamed)", got.Action, got.Duration, got.Streamed)
}

package vendorimgtest

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/vendorimg/vendorimg/layout"
)

// These tests drive Main's logic (run) with a fake *testing.M, in this
// process: TestMain holds the engine's lock, so they take none.

func TestRunRefusesToStart(t *testing.T) {
	cfg := repoConfig(t)
	missing := "  - ref: registry.vendorimg.test/missing:1\n    digest: sha256:" + strings.Repeat("0", 63) + "1\n    platforms: [linux/amd64]\n"
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{
			name: "unknown lock mode",
			opts: Options{Lock: 7},
			want: []string{"vendorimgtest: invalid Options.Lock: unknown lock mode 7"},
		},
		{
			name: "malformed platform",
			opts: Options{Platform: "linux/", Lock: LockNone},
			want: []string{"vendorimgtest: invalid Options.Platform", "invalid platform"},
		},
		{
			name: "unconfigured image",
			opts: Options{Images: []string{"alpine:3.19.1"}, Lock: LockNone},
			want: []string{"vendorimgtest: invalid Options.Images", "docker.io/library/alpine:3.19.1 is not in " + cfg.Path},
		},
		{
			name: "no vendorimg.yaml",
			opts: Options{Config: filepath.Join(t.TempDir(), "vendorimg.yaml"), Lock: LockNone},
			want: []string{"vendorimgtest: no vendorimg.yaml found"},
		},
		{
			name: "platform not vendored",
			opts: Options{Platform: "linux/s390x", Lock: LockNone},
			want: []string{"loading images into docker at ", "failed; no test ran", "\n  " + probeRef + ": ", "linux/s390x is not vendored"},
		},
		{
			name: "image not synced",
			opts: Options{Config: copyConfig(t, cfg, cfg.LayoutDir(), missing), Lock: LockNone},
			want: []string{"failed; no test ran", "\n  registry.vendorimg.test/missing:1: registry.vendorimg.test/missing:1 is not in index.json"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			tt.opts.Stderr = &stderr
			m := &fakeRunner{}
			code := run(context.Background(), m, tt.opts, nil)
			if code != 1 || m.ran {
				t.Errorf("run() = %d, tests ran %v; want 1 and no test run (stderr %q)", code, m.ran, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("run() printed %q, want it to contain %q", stderr.String(), w)
				}
			}
		})
	}
}

func TestRunChecksAfterTests(t *testing.T) {
	cfg := repoConfig(t)
	c := engine(t)
	_, hostLayer, _ := vendoredID(t, c, cfg)
	retag := func(t *testing.T, _ string) []string {
		other := otherImage(t)
		restoreProbe(t)
		docker(t, "tag", other, probeRef)
		return []string{
			"vendorimgtest: the vendored images changed during the tests (1 problem):",
			"daemon tag-moved: " + probeRef + ": points to image " + other[:len("sha256:")+12],
			"actual   " + other,
		}
	}
	tests := []struct {
		name string
		// code is what the tests return; tamper changes something during
		// them and returns what the report must say.
		code     int
		tamper   func(t *testing.T, layoutDir string) []string
		wantCode int
		// before changes the layout before the run; the report must say
		// it was already wrong then, and nothing about the tests.
		before func(t *testing.T, layoutDir string) []string
	}{
		{name: "nothing changed", code: 0, wantCode: 0},
		{name: "tests failed, nothing changed", code: 3, wantCode: 3},
		{name: "tag moved", code: 0, tamper: retag, wantCode: 1},
		{name: "tests failed and the tag moved", code: 2, tamper: retag, wantCode: 2},
		{
			name: "image removed",
			tamper: func(t *testing.T, _ string) []string {
				restoreProbe(t)
				docker(t, "rmi", probeRef)
				return []string{"daemon tag-missing: " + probeRef + ": not in docker"}
			},
			wantCode: 1,
		},
		{
			name: "layout blob changed",
			tamper: func(t *testing.T, layoutDir string) []string {
				rel := layout.RelBlobPath(hostLayer)
				flipByte(t, filepath.Join(layoutDir, filepath.FromSlash(rel)))
				return []string{"layout digest: " + rel + ": ", "expected " + hostLayer.String()}
			},
			wantCode: 1,
		},
		{
			// An unreferenced blob or an extra file leaves the proof intact.
			name: "harmless extras",
			tamper: func(t *testing.T, layoutDir string) []string {
				writeFile(t, filepath.Join(layoutDir, "blobs", "sha256", digest.FromString("old\n").Encoded()), "old\n")
				writeFile(t, filepath.Join(layoutDir, "NOTES.md"), "notes\n")
				return nil
			},
			wantCode: 0,
		},
		{
			name: "layout blob changed before the tests",
			before: func(t *testing.T, layoutDir string) []string {
				rel := layout.RelBlobPath(hostLayer)
				flipByte(t, filepath.Join(layoutDir, filepath.FromSlash(rel)))
				return []string{"vendorimgtest: already wrong before the tests started (1 problem):", "layout digest: " + rel + ": "}
			},
			wantCode: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyLayout(t, cfg.LayoutDir())
			var stderr bytes.Buffer
			var want []string
			if tt.before != nil {
				want = tt.before(t, dir)
			}
			m := &fakeRunner{code: tt.code}
			if tt.tamper != nil {
				m.fn = func() { want = tt.tamper(t, dir) }
			}
			code := run(context.Background(), m, Options{Config: copyConfig(t, cfg, dir), Lock: LockNone, Stderr: &stderr}, nil)
			if code != tt.wantCode || !m.ran {
				t.Errorf("run() = %d, tests ran %v; want %d after the tests ran (stderr %q)", code, m.ran, tt.wantCode, stderr.String())
			}
			if (tt.tamper == nil || tt.wantCode == 0) && strings.Contains(stderr.String(), "the vendored images changed") {
				t.Errorf("run() printed %q, want no problem", stderr.String())
			}
			for _, w := range want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("run() printed %q, want it to contain %q", stderr.String(), w)
				}
			}
		})
	}
}

package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// TestHostileLayoutIsReportedAndChangesNothing: a malformed or hostile
// index.json, symlinks and huge sizes in the layout get a clear error and
// nothing is written (Promise 7).
func TestHostileLayoutIsReportedAndChangesNothing(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/hostile/x:1"
	img := registrytest.Image(t, "linux/amd64", 1, 2000, 81, registrytest.OCI)
	pin := registrytest.Push(t, ref, img)
	layerD, _ := img.Layers()
	ld, _ := layerD[0].Digest()

	setup := func(t *testing.T) (dir, layoutDir string) {
		dir = t.TempDir()
		layoutDir = filepath.Join(dir, "testdata", "images")
		yaml := fmt.Sprintf("images:\n  - ref: %s\n    digest: %s\n    platforms: [linux/amd64]\n", ref, pin)
		if err := os.WriteFile(filepath.Join(dir, "vendorimg.yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out, errOut := run(t, "-C", dir, "sync"); code != 0 {
			t.Fatalf("sync: %d %s %s", code, out, errOut)
		}
		return dir, layoutDir
	}
	index := func(entry string) string {
		return `{"schemaVersion": 2, "manifests": [` + entry + `]}`
	}
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, layoutDir string)
		want   string // in verify's and sync's output
	}{
		{"path-traversal-digest", func(t *testing.T, l string) {
			write(t, filepath.Join(l, "index.json"), index(`{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:../../../../etc/passwd", "size": 10}`))
		}, "invalid digest"},
		{"huge-size", func(t *testing.T, l string) {
			write(t, filepath.Join(l, "index.json"), index(fmt.Sprintf(`{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": %q, "size": 9223372036854775807, "annotations": {"io.containerd.image.name": %q}}`, pin, ref)))
		}, "9223372036854775807"},
		{"not-json", func(t *testing.T, l string) {
			write(t, filepath.Join(l, "index.json"), "{\"schemaVersion\": 2, \"manifests\": [")
		}, "index.json"},
		{"symlink-layer", func(t *testing.T, l string) {
			p := filepath.Join(l, "blobs", "sha256", ld.Hex)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/etc/passwd", p); err != nil {
				t.Fatal(err)
			}
		}, "symlink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, layoutDir := setup(t)
			tc.break_(t, layoutDir)
			before := snapshot(t, dir)
			code, stdout, stderr := run(t, "-C", dir, "verify")
			if code != 1 || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("verify = exit %d\n%s%s\nwant exit 1 mentioning %q", code, stdout, stderr, tc.want)
			}
			if tc.name == "huge-size" {
				// A size in index.json is derived data: sync recomputes it
				// from the stored bytes, and verify passes again.
				if code, stdout, stderr := run(t, "-C", dir, "sync"); code != 0 {
					t.Fatalf("sync = exit %d\n%s%s", code, stdout, stderr)
				}
				if code, stdout, stderr := run(t, "-C", dir, "verify"); code != 0 {
					t.Errorf("verify after sync = exit %d\n%s%s", code, stdout, stderr)
				}
				return
			}
			code, stdout, stderr = run(t, "-C", dir, "sync")
			if code != 1 || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("sync = exit %d\n%s%s\nwant exit 1 mentioning %q", code, stdout, stderr, tc.want)
			}
			if snapshot(t, dir) != before {
				t.Errorf("sync changed the layout")
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

package systemtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
)

// Interop: skopeo and umoci (Debian packages) read what vendorimg writes,
// and vendorimg verifies what skopeo writes.

func lookPath(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install it (apt-get install %s)", name, pkg)
	}
	return p
}

func runTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func TestSkopeoAndUmociReadVendoredImages(t *testing.T) {
	t.Parallel() // its own registry and folders: it overlaps the package's long tests
	skopeo := lookPath(t, "skopeo", "skopeo")
	umoci := lookPath(t, "umoci", "umoci")
	reg := registrytest.Start(t, registrytest.Options{})
	index := registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 2, 3000, 51, registrytest.OCI)
	indexPin := registrytest.Push(t, reg.Host+"/interop/multi:1", index)
	single := registrytest.Image(t, "linux/amd64", 2, 3000, 52, registrytest.OCI)
	singlePin := registrytest.Push(t, reg.Host+"/interop/single:1", single)

	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`images:
  - ref: %[1]s/interop/multi:1
    digest: %[2]s
    platforms: [linux/arm64]
  - ref: %[1]s/interop/single:1
    digest: %[3]s
    platforms: [linux/amd64]
`, reg.Host, indexPin, singlePin))
	mustSync(t, cfg, vendorimg.SyncOptions{})
	l := cfg.LayoutDir()

	for _, tc := range []struct {
		name   string
		served interface{ RawManifest() ([]byte, error) }
		arch   string
	}{
		{reg.Host + "/interop/multi:1", index, "arm64"},
		{reg.Host + "/interop/single:1", single, "amd64"},
	} {
		t.Run("skopeo/"+tc.arch, func(t *testing.T) {
			raw := runTool(t, skopeo, "inspect", "--raw", "oci:"+l+":"+tc.name)
			want, _ := tc.served.RawManifest()
			if !bytes.Equal(raw, want) {
				t.Errorf("skopeo inspect --raw oci:%s = %s, want the registry's bytes %s", tc.name, raw, want)
			}
			// A full copy makes skopeo read and check every blob.
			out := filepath.Join(t.TempDir(), "copy")
			runTool(t, skopeo, "copy", "--override-arch", tc.arch, "oci:"+l+":"+tc.name, "dir:"+out)
			var m struct{ Layers []json.RawMessage }
			b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &m); err != nil || len(m.Layers) != 2 {
				t.Errorf("skopeo copy wrote a manifest with %d layers (%v), want 2", len(m.Layers), err)
			}
		})
	}

	// umoci unpacks single-manifest OCI images (it refuses an index with
	// several platforms as "ambiguous", whatever is vendored of it).
	t.Run("umoci", func(t *testing.T) {
		bundle := filepath.Join(t.TempDir(), "bundle")
		runTool(t, umoci, "unpack", "--rootless", "--image", l+":"+reg.Host+"/interop/single:1", bundle)
		entries, err := os.ReadDir(filepath.Join(bundle, "rootfs"))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			t.Errorf("umoci unpacked %d files, want the 2 random files of the 2 layers", len(entries))
		}
	})
}

func TestVerifyLayoutWrittenBySkopeo(t *testing.T) {
	skopeo := lookPath(t, "skopeo", "skopeo")
	reg := registrytest.Start(t, registrytest.Options{})
	name := reg.Host + "/interop/fromskopeo:1"
	registrytest.Push(t, name, registrytest.Index(t, []string{"linux/amd64", "linux/arm64", "linux/ppc64le"}, 2, 3000, 61, registrytest.OCI))

	dir := t.TempDir()
	layoutDir := filepath.Join(dir, "skopeo-layout")
	runTool(t, skopeo, "copy", "--all", "--src-tls-verify=false", "docker://"+name, "oci:"+layoutDir+":"+name)
	// skopeo may re-encode the index; pin what it wrote.
	idx, err := layout.New(layoutDir).ReadIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, fmt.Sprintf("layout: skopeo-layout\nimages:\n  - ref: %s\n    digest: %s\n    platforms: all\n", name, idx.Manifests[0].Digest))
	mustVerify(t, cfg, true)

	// And a flipped byte in what skopeo wrote is caught.
	blobs, _ := os.ReadDir(filepath.Join(layoutDir, "blobs", "sha256"))
	victim := filepath.Join(layoutDir, "blobs", "sha256", blobs[0].Name())
	b, _ := os.ReadFile(victim)
	b[0] ^= 0x20
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := vendorimg.Verify(context.Background(), cfg, vendorimg.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(fmt.Sprint(rep.Findings), blobs[0].Name()) {
		t.Errorf("Verify() after a flipped byte = %v, want a finding naming %s", rep.Findings, blobs[0].Name())
	}
}

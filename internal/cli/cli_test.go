package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// run drives the real root command, as main does.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Execute(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestAcceptance is the "done when", against the real registry.
func TestAcceptance(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	idx := registrytest.Index(t, []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}, 2, 4000, 1, registrytest.OCI)
	pin := registrytest.Push(t, reg.Host+"/x:1", idx)
	refName := reg.Host + "/x:1"
	dir := t.TempDir()
	layoutDir := filepath.Join(dir, "testdata", "images")

	code, stdout, stderr := run(t, "-C", dir, "add", refName, "--platform", "linux/arm64")
	if code != 0 {
		t.Fatalf("add exit %d\n%s%s", code, stdout, stderr)
	}

	// index.json holds the registry's own digest.
	var index struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	b, err := os.ReadFile(filepath.Join(layoutDir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != pin.String() || index.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != refName {
		t.Fatalf("index.json = %s, want one entry %s named %s", b, pin, refName)
	}

	// Exactly the index, the arm64 manifest, its config and its layers.
	im, _ := idx.IndexManifest()
	want := []string{pin.Encoded()}
	for _, m := range im.Manifests {
		if m.Platform.Architecture != "arm64" {
			continue
		}
		want = append(want, m.Digest.Hex)
		img, _ := idx.Image(m.Digest)
		c, _ := img.ConfigName()
		want = append(want, c.Hex)
		layers, _ := img.Layers()
		for _, l := range layers {
			d, _ := l.Digest()
			want = append(want, d.Hex)
		}
	}
	slices.Sort(want)
	entries, _ := os.ReadDir(filepath.Join(layoutDir, "blobs", "sha256"))
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("blobs = %v, want %v", got, want)
	}

	if code, stdout, stderr := run(t, "-C", dir, "verify"); code != 0 {
		t.Fatalf("verify exit %d, want 0\n%s%s", code, stdout, stderr)
	}

	// A second sync: zero requests, no byte changed.
	before := snapshot(t, dir)
	reg.ResetLog()
	code, stdout, stderr = run(t, "-C", dir, "sync")
	if code != 0 || !strings.Contains(stdout, "everything up to date") {
		t.Fatalf("sync exit %d, want 0 and up to date\n%s%s", code, stdout, stderr)
	}
	if reqs := reg.Requests(); len(reqs) != 0 {
		t.Errorf("second sync sent %v, want no request", reqs)
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("second sync changed bytes")
	}

	// skopeo reads the same index back.
	out, err := exec.Command("skopeo", "inspect", "--raw", "oci:"+layoutDir+":"+refName).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --raw: %v", err)
	}
	served, _ := idx.RawManifest()
	if !bytes.Equal(out, served) {
		t.Errorf("skopeo inspect --raw printed\n%s\nwant the registry's index\n%s", out, served)
	}

	// Flipping one byte of any blob makes verify exit 1 naming that blob.
	for _, name := range want {
		t.Run("flip-"+name[:12], func(t *testing.T) {
			path := filepath.Join(layoutDir, "blobs", "sha256", name)
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			flipped := bytes.Clone(orig)
			flipped[len(flipped)/2] ^= 0x01
			if err := os.WriteFile(path, flipped, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(path, orig, 0o644)
			code, stdout, stderr := run(t, "-C", dir, "verify")
			if code != 1 {
				t.Fatalf("verify exit %d, want 1\n%s%s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, "blobs/sha256/"+name) {
				t.Errorf("verify output does not name blobs/sha256/%s:\n%s", name, stderr)
			}
		})
	}
}

// snapshot is every file's path, mode and content under dir.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&sb, "%s %s %d\n", path, info.Mode(), info.Size())
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sb.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

func TestExitCodesAndUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown-command", []string{"frob"}, 2, "unknown command"},
		{"unknown-flag", []string{"sync", "--frob"}, 2, "unknown flag"},
		{"extra-args", []string{"-C", dir, "sync", "x"}, 2, "unknown command"},
		{"bad-reference", []string{"-C", dir, "add", "Not/Valid"}, 2, "invalid reference"},
		{"bad-platform", []string{"-C", dir, "add", "alpine:3", "--platform", "linux/amd46"}, 2, "unknown architecture"},
		{"bad-jobs", []string{"-C", dir, "add", "alpine:3", "--jobs", "0"}, 2, "--jobs"},
		{"quiet-and-verbose", []string{"-C", dir, "status", "-q", "-v"}, 2, "cannot be used together"},
		{"no-config", []string{"-C", dir, "sync"}, 1, "no vendorimg.yaml found"},
		{"missing-dir", []string{"-C", filepath.Join(dir, "nope"), "sync"}, 2, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("vendorimg %v = exit %d, %q; want exit %d mentioning %q", tc.args, code, stderr, tc.code, tc.want)
			}
			if strings.Count(stderr, "vendorimg: ") != 1 {
				t.Errorf("vendorimg %v printed the error %d times, want once:\n%s", tc.args, strings.Count(stderr, "vendorimg: "), stderr)
			}
		})
	}
}

func TestEveryCommandHasHelpAndExample(t *testing.T) {
	root := newRootCommand(&globals{})
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			continue
		}
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("command %s: Short %q, Long set %v, Example set %v; want all three", c.Name(), c.Short, c.Long != "", c.Example != "")
		}
	}
}

func TestConfigErrorNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	yaml := "layout: testdata/images\nimages:\n  - ref: alpine:3.19.1\n    digest: sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b\n    platfroms: [linux/amd64]\n"
	if err := os.WriteFile(filepath.Join(dir, "vendorimg.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "-C", dir, "status")
	want := filepath.Join(dir, "vendorimg.yaml") + `:5: unknown key "platfroms"`
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("status = exit %d, %q; want exit 1 with %q", code, stderr, want)
	}
}

func TestEmptyConfigFileHasNoLineZero(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vendorimg.yaml")
	if err := os.WriteFile(path, []byte("# nothing yet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "-C", dir, "status")
	want := "vendorimg: " + path + ": the file is empty"
	if code != 1 || !strings.HasPrefix(stderr, want) || strings.Contains(stderr, ":0:") {
		t.Errorf("status on an empty file = exit %d, %q; want exit 1 starting %q, without :0:", code, stderr, want)
	}
}

// TestServeJSONOnFailure: serve of a layout that is not there prints one
// --json document with the error and its kind, and exits 1.
func TestServeJSONOnFailure(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vendorimg.yaml"), []byte("images: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := run(t, "-C", dir, "serve", "--addr", "127.0.0.1:0", "--json")
	var doc struct{ Error, Kind string }
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != 1 || doc.Kind != "invalid-layout" {
		t.Errorf("serve --json with no layout = %d, %q (%v); want exit 1 and one document of kind invalid-layout", code, stdout, err)
	}
	code, _, _ = run(t, "-C", dir, "push")
	if code != 2 {
		t.Errorf("push with no REGISTRY = %d, want 2", code)
	}
}

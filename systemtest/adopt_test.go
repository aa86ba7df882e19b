package systemtest_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/serve"
)

// toolCacheBinary is a tool .ci/run installs into the tool cache
// ($VENDORIMG_TOOL_CACHE/bin, default /var/cache/vendorimg-tools/bin). A
// missing one skips the test, unless VENDORIMG_REQUIRE_DOCKER=1 (CI), where
// it fails it.
func toolCacheBinary(t *testing.T, name string) string {
	t.Helper()
	cache := os.Getenv("VENDORIMG_TOOL_CACHE")
	if cache == "" {
		cache = "/var/cache/vendorimg-tools"
	}
	bin := filepath.Join(cache, "bin", name)
	if _, err := os.Stat(bin); err != nil {
		msg := fmt.Sprintf("%s not in the tool cache (%v): .ci/run installs it", name, err)
		if os.Getenv("VENDORIMG_REQUIRE_DOCKER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// runIn runs a peer tool with extra environment, failing the test with its
// output when it fails.
func runIn(t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// vendorimgJSON runs the vendorimg binary with --json, fails the test
// unless it exits 0, and decodes its document into v.
func vendorimgJSON(t *testing.T, dir string, v any, args ...string) {
	t.Helper()
	cmd := exec.Command(vendorimgBinary(t), append([]string{"-C", dir, "--json"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("vendorimg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("vendorimg %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestAdoptLayoutsOfOtherTools copies an image from a local distribution
// registry into an OCI layout with skopeo, crane (no --annotate-ref: an
// entry with no name) and regctl (an entry named by its tag), then points
// a vendorimg.yaml at the layout with the image's pin: verify passes with
// an "adopted" finding, status calls it complete, serve serves it under its
// name, push --dry-run plans it, load puts it into the machine's engine, verify --daemon and unload
// find it, and sync renames the entry to vendorimg's name (reporting it as
// adopted, not removed), after which verify finds nothing.
func TestAdoptLayoutsOfOtherTools(t *testing.T) {
	skopeo := lookPath(t, "skopeo", "skopeo")
	crane := toolCacheBinary(t, "crane")
	regctl := toolCacheBinary(t, "regctl")
	reg := registrytest.Start(t, registrytest.Options{})
	home := t.TempDir() // regctl's configuration
	runIn(t, []string{"HOME=" + home}, regctl, "registry", "set", reg.Host, "--tls", "disabled")

	for _, tc := range []struct {
		peer string
		// copy writes the image to the layout at dir.
		copy func(t *testing.T, ref, dir string)
		// was is the name the peer gives the entry.
		was string
	}{
		{"skopeo", func(t *testing.T, ref, dir string) {
			runIn(t, nil, skopeo, "copy", "--preserve-digests", "--src-tls-verify=false", "docker://"+ref, "oci:"+dir+":1")
		}, "1"},
		{"crane", func(t *testing.T, ref, dir string) {
			runIn(t, nil, crane, "pull", "--insecure", "--format=oci", ref, dir)
		}, ""},
		{"regctl", func(t *testing.T, ref, dir string) {
			runIn(t, []string{"HOME=" + home}, regctl, "image", "copy", ref, "ocidir://"+dir+":1")
		}, "1"},
	} {
		t.Run(tc.peer, func(t *testing.T) {
			var b [8]byte
			if _, err := rand.Read(b[:]); err != nil {
				t.Fatal(err)
			}
			seed := int64(binary.BigEndian.Uint64(b[:]) >> 1)
			// A repository of its own, so that the tag load makes is this
			// test's alone on the shared engine.
			ref := fmt.Sprintf("%s/vendorimg-test/adopt-%s-%s:1", reg.Host, tc.peer, hex.EncodeToString(b[:4]))
			pin := registrytest.Push(t, ref, registrytest.Image(t, "linux/amd64", 2, 3000, seed, registrytest.OCI))
			dir := t.TempDir()
			layoutDir := filepath.Join(dir, "testdata", "images")
			if err := os.MkdirAll(filepath.Dir(layoutDir), 0o755); err != nil {
				t.Fatal(err)
			}
			tc.copy(t, ref, layoutDir)
			idx, err := layout.New(layoutDir).ReadIndex(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != pin || layout.NameOf(idx.Manifests[0]) != tc.was {
				t.Fatalf("%s wrote index.json entries %+v, want one for %s named %q", tc.peer, idx.Manifests, pin, tc.was)
			}
			cfg := writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s\n    digest: %s\n    platforms: [linux/amd64]\n", ref, pin))
			name := cfg.Images[0].Name()

			var verified struct {
				OK     bool
				Layout struct{ Findings []layout.Finding }
			}
			vendorimgJSON(t, dir, &verified, "verify")
			if f := verified.Layout.Findings; !verified.OK || len(f) != 1 || f[0].Kind != layout.KindAdopted || f[0].Actual != tc.was || !strings.Contains(f[0].Message, "next sync renames it") {
				t.Errorf("verify = ok %v, findings %v, want ok with one adopted finding for the entry %q", verified.OK, f, tc.was)
			}

			var status struct {
				Images []struct {
					Complete bool
					Adopted  *string
				}
				Unconfigured []string
			}
			vendorimgJSON(t, dir, &status, "status")
			if len(status.Images) != 1 || !status.Images[0].Complete || status.Images[0].Adopted == nil || *status.Images[0].Adopted != tc.was || len(status.Unconfigured) != 0 {
				t.Errorf("status = %+v, want the image complete, adopted from %q, nothing unconfigured", status, tc.was)
			}

			h, err := serve.New(context.Background(), layout.New(layoutDir), serve.Options{Names: []string{name}, Pins: map[string]digest.Digest{name: pin}})
			if err != nil {
				t.Fatalf("serve.New() = %v", err)
			}
			srv := httptest.NewServer(h)
			resp, err := http.Get(srv.URL + "/v2/" + cfg.Images[0].Ref.Repository + "/manifests/1")
			srv.Close()
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != pin.String() {
				t.Errorf("serve: GET the manifest by tag = %s, digest %q, want 200, %s", resp.Status, resp.Header.Get("Docker-Content-Digest"), pin)
			}

			var pushed struct {
				Images []struct {
					Digest string
					Error  string
				}
			}
			vendorimgJSON(t, dir, &pushed, "push", "--dry-run", reg.Host+"/pushed")
			if len(pushed.Images) != 1 || pushed.Images[0].Digest != pin.String() || pushed.Images[0].Error != "" {
				t.Errorf("push --dry-run = %+v, want the image planned", pushed)
			}

			var loaded struct {
				Images []struct{ Action, Tag string }
			}
			vendorimgJSON(t, dir, &loaded, "load")
			t.Cleanup(func() { _ = exec.Command(vendorimgBinary(t), "-C", dir, "unload", "-q").Run() })
			if len(loaded.Images) != 1 || loaded.Images[0].Action != "loaded" {
				t.Errorf("load = %+v, want the image loaded", loaded)
			}
			var daemonVerified struct{ OK bool }
			vendorimgJSON(t, dir, &daemonVerified, "verify", "--daemon")
			if !daemonVerified.OK {
				t.Errorf("verify --daemon after load: not ok")
			}
			var unloaded struct {
				Images []struct{ Action string }
			}
			vendorimgJSON(t, dir, &unloaded, "unload")
			if len(unloaded.Images) != 1 || unloaded.Images[0].Action != "removed" {
				t.Errorf("unload = %+v, want the image removed", unloaded)
			}

			var synced struct {
				Adopted []struct{ Name, Was string }
				Removed []string
				Fetched int
			}
			if tc.peer == "crane" {
				// The text output says it too.
				out, err := exec.Command(vendorimgBinary(t), "-C", dir, "sync", "--offline").CombinedOutput()
				if want := name + "  adopted the index.json entry with no name (another tool's) and renamed it"; err != nil || !strings.Contains(string(out), want) || strings.Contains(string(out), "removed") {
					t.Errorf("vendorimg sync = %v\n%s\nwant %q and nothing removed", err, out, want)
				}
			} else {
				vendorimgJSON(t, dir, &synced, "sync", "--offline")
				if len(synced.Adopted) != 1 || synced.Adopted[0].Name != name || synced.Adopted[0].Was != tc.was || len(synced.Removed) != 0 || synced.Fetched != 0 {
					t.Errorf("sync = %+v, want the entry %q adopted as %s, nothing removed or fetched", synced, tc.was, name)
				}
			}
			idx, err = layout.New(layoutDir).ReadIndex(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != pin || layout.NameOf(idx.Manifests[0]) != name || idx.Manifests[0].Annotations[layout.AnnotationRefName] != name {
				t.Errorf("index.json after sync = %+v, want one entry for %s named %s", idx.Manifests, pin, name)
			}
			vendorimgJSON(t, dir, &verified, "verify")
			if !verified.OK || len(verified.Layout.Findings) != 0 {
				t.Errorf("verify after sync = ok %v, findings %v, want ok with none", verified.OK, verified.Layout.Findings)
			}
		})
	}
}

// TestVerifyPassesHarmlessExtras: a README, the user's own .gitattributes
// and a blobs/sha512/ folder beside a synced layout are no reason for the
// verify command to fail: extras are reported, the exit status is 0.
func TestVerifyPassesHarmlessExtras(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	pin := registrytest.Push(t, reg.Host+"/extras/x:1", registrytest.Image(t, "linux/amd64", 1, 1000, 71, registrytest.OCI))
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s/extras/x:1\n    digest: %s\n    platforms: [linux/amd64]\n", reg.Host, pin))
	mustSync(t, cfg, vendorimg.SyncOptions{})
	for file, content := range map[string]string{
		"README.md":              "what these images are for\n",
		layout.GitAttributesFile: "blobs/** binary\n*.json -diff\n",
		"blobs/sha512/" + strings.Repeat("ab", 64): "x",
	} {
		path := filepath.Join(cfg.LayoutDir(), filepath.FromSlash(file))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var verified struct {
		OK     bool
		Layout struct{ Findings []layout.Finding }
	}
	vendorimgJSON(t, dir, &verified, "verify")
	var paths []string
	for _, f := range verified.Layout.Findings {
		if f.Kind != layout.KindExtra {
			t.Errorf("finding %v, want only extras", f)
		}
		paths = append(paths, f.Path)
	}
	if want := []string{"README.md", "blobs/sha512"}; !verified.OK || !slices.Equal(paths, want) {
		t.Errorf("verify = ok %v, extras %v, want ok with extras %v", verified.OK, paths, want)
	}
}

package systemtest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// These tests run vendorimg against the real distribution registry
// (Debian's docker-registry) on 127.0.0.1.

// writeConfig writes a vendorimg.yaml into dir and loads it.
func writeConfig(t *testing.T, dir, yaml string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, config.FileName)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(context.Background(), path)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	return cfg
}

// treeHashes maps every file under dir to its sha256 and mode, to compare
// trees byte for byte.
func treeHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	return treeMap(t, dir, func(path string, _ fs.FileInfo) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:]), nil
	})
}

// treeMap maps every folder under dir (with a trailing slash) to its mode,
// and every file to what file says of it and its mode.
func treeMap(t *testing.T, dir string, file func(path string, info fs.FileInfo) (string, error)) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			out[rel+"/"] = info.Mode().String()
			return nil
		}
		v, err := file(path, info)
		if err != nil {
			return err
		}
		out[rel] = v + " " + info.Mode().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func blobFiles(t *testing.T, layoutDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(layoutDir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, "sha256:"+e.Name())
	}
	slices.Sort(out)
	return out
}

func mustSync(t *testing.T, cfg *config.Config, opts vendorimg.SyncOptions) *vendorimg.SyncResult {
	t.Helper()
	res, err := vendorimg.Sync(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("Sync() = %v", err)
	}
	return res
}

func mustVerify(t *testing.T, cfg *config.Config, deep bool) {
	t.Helper()
	rep, err := vendorimg.Verify(context.Background(), cfg, vendorimg.VerifyOptions{Deep: deep})
	if err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	if !rep.OK() {
		t.Fatalf("Verify() found %v, want nothing", rep.Findings)
	}
}

func TestSyncMultiPlatformFromRealRegistry(t *testing.T) {
	t.Parallel() // its own registry and folders: it overlaps the package's long tests
	reg := registrytest.Start(t, registrytest.Options{})
	for _, tc := range []struct {
		name   string
		format registrytest.Format
	}{{"oci-index", registrytest.OCI}, {"docker-list", registrytest.Docker}} {
		t.Run(tc.name, func(t *testing.T) {
			idx := registrytest.Index(t, []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}, 2, 3000, 7, tc.format)
			ref := reg.Host + "/multi/" + tc.name + ":1"
			pin := registrytest.Push(t, ref, idx)
			dir := t.TempDir()
			cfg := writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s\n    digest: %s\n    platforms: [linux/amd64, linux/arm/v7]\n", ref, pin))
			reg.ResetLog()
			res := mustSync(t, cfg, vendorimg.SyncOptions{})
			reqs := reg.Requests()
			if got := res.Images[0].Platforms; !slices.Equal(got, []string{"linux/amd64", "linux/arm/v7"}) {
				t.Errorf("Sync() platforms = %v, want [linux/amd64 linux/arm/v7]", got)
			}
			// Exactly: the index, two manifests, two configs, four layers.
			im, _ := idx.IndexManifest()
			want := []string{pin.String()}
			for _, m := range im.Manifests {
				if m.Platform.Architecture == "arm64" {
					continue
				}
				want = append(want, m.Digest.String())
				img, _ := idx.Image(m.Digest)
				cfgName, _ := img.ConfigName()
				want = append(want, cfgName.String())
				layers, _ := img.Layers()
				for _, l := range layers {
					d, _ := l.Digest()
					want = append(want, d.String())
				}
			}
			slices.Sort(want)
			if got := blobFiles(t, cfg.LayoutDir()); !slices.Equal(got, want) {
				t.Errorf("blobs = %v, want %v", got, want)
			}
			// Each of them asked for once (a manifest fetches its config
			// itself: the walk must not ask again), nothing of arm64.
			var asked []string
			for _, r := range reqs {
				if strings.Contains(r, "/"+tc.name+"/") {
					if i := strings.Index(r, "sha256:"); i >= 0 {
						asked = append(asked, strings.Fields(r[i:])[0])
					}
				}
			}
			slices.Sort(asked)
			if !slices.Equal(asked, want) {
				t.Errorf("Sync() asked the registry for\n  %s\nwant each of the %d blobs once:\n  %s", strings.Join(asked, "\n  "), len(want), strings.Join(want, "\n  "))
			}
			mustVerify(t, cfg, true)
		})
	}
}

func TestSyncCompleteLayoutMakesNoRequest(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/noop/x:1"
	pin := registrytest.Push(t, ref, registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 2, 2000, 3, registrytest.OCI))
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s\n    digest: %s\n    platforms: all\n", ref, pin))
	first := mustSync(t, cfg, vendorimg.SyncOptions{})
	// The index, two manifests, two configs, four layers.
	if first.Fetched != 9 || first.UpToDate {
		t.Fatalf("first Sync() fetched %d blobs (up to date %v), want 9 fetched", first.Fetched, first.UpToDate)
	}
	before := treeHashes(t, dir)
	reg.ResetLog()
	second := mustSync(t, cfg, vendorimg.SyncOptions{})
	if reqs := reg.Requests(); len(reqs) != 0 {
		t.Errorf("second Sync() sent %d requests, want none: %v", len(reqs), reqs)
	}
	if !second.UpToDate || second.Fetched != 0 {
		t.Errorf("second Sync() = up to date %v, fetched %d; want up to date, 0", second.UpToDate, second.Fetched)
	}
	if after := treeHashes(t, dir); !maps.Equal(before, after) {
		t.Errorf("second Sync() changed files:\nbefore %v\nafter  %v", before, after)
	}
	// --offline on a complete layout is the same no-op.
	if _, err := vendorimg.Sync(context.Background(), cfg, vendorimg.SyncOptions{Offline: true}); err != nil {
		t.Errorf("Sync(offline) on a complete layout = %v, want nil", err)
	}
	if reqs := reg.Requests(); len(reqs) != 0 {
		t.Errorf("offline Sync() sent requests: %v", reqs)
	}
}

func TestSyncThroughHtpasswdWithDockerConfig(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{User: "ci", Password: "s3cret-pass"})
	ref := reg.Host + "/private/x:1"
	img := registrytest.Image(t, "linux/amd64", 1, 2000, 11, registrytest.OCI)
	pin := registrytest.Push(t, ref, img, registrytestAuth("ci", "s3cret-pass"))

	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s\n    digest: %s\n    platforms: [linux/amd64]\n", ref, pin))

	t.Run("no-credentials", func(t *testing.T) {
		t.Setenv("DOCKER_CONFIG", t.TempDir())
		_, err := vendorimg.Sync(context.Background(), cfg, vendorimg.SyncOptions{})
		if !errors.Is(err, errs.ErrUnauthorized) {
			t.Fatalf("Sync() without credentials = %v, want ErrUnauthorized", err)
		}
	})
	t.Run("docker-config", func(t *testing.T) {
		dockerCfg := t.TempDir()
		auth := base64.StdEncoding.EncodeToString([]byte("ci:s3cret-pass"))
		body := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, reg.Host, auth)
		if err := os.WriteFile(filepath.Join(dockerCfg, "config.json"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("DOCKER_CONFIG", dockerCfg)
		var logs bytes.Buffer
		res, err := vendorimg.Sync(context.Background(), cfg, vendorimg.SyncOptions{Logger: debugLogger(&logs)})
		if err != nil {
			t.Fatalf("Sync() with docker config credentials = %v", err)
		}
		if res.Fetched != 3 {
			t.Errorf("Sync() fetched %d blobs, want 3", res.Fetched)
		}
		if strings.Contains(logs.String(), "s3cret-pass") || strings.Contains(logs.String(), auth) {
			t.Errorf("the debug log contains the credentials:\n%s", logs.String())
		}
		mustVerify(t, cfg, false)
	})
}

func TestSyncFromMirror(t *testing.T) {
	mirror := registrytest.Start(t, registrytest.Options{})
	// The canonical registry is a name that does not resolve: if vendorimg
	// asked it for anything, the sync would fail.
	canonical := "registry.vendorimg.test"
	pin := registrytest.Push(t, mirror.Host+"/team/tool:2", registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 1, 1500, 5, registrytest.Docker))
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("mirrors:\n  %s: %s\nimages:\n  - ref: %s/team/tool:2\n    digest: %s\n    platforms: [linux/arm64]\n", canonical, mirror.Host, canonical, pin))
	mirror.ResetLog()
	res := mustSync(t, cfg, vendorimg.SyncOptions{})
	if res.Images[0].Name != canonical+"/team/tool:2" {
		t.Errorf("Sync() image name = %q, want the canonical name", res.Images[0].Name)
	}
	reqs := mirror.Requests()
	if !slices.ContainsFunc(reqs, func(r string) bool { return strings.HasPrefix(r, "GET /v2/team/tool/manifests/"+pin.String()) }) {
		t.Errorf("the mirror saw %v, want the pinned manifest fetched from it", reqs)
	}
	idx, err := layout.New(cfg.LayoutDir()).ReadIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := layout.NameOf(idx.Manifests[0]); got != canonical+"/team/tool:2" {
		t.Errorf("index.json name = %q, want %q", got, canonical+"/team/tool:2")
	}
	mustVerify(t, cfg, true)
}

// TestDockerListFormattingKeepsDigest pushes a manifest list whose JSON
// is not what Go's encoder writes (escaped slashes, tabs, key order) and
// checks that add and sync store those exact bytes under that digest.
func TestDockerListFormattingKeepsDigest(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	repo := reg.Host + "/odd/list"
	amd := registrytest.Image(t, "linux/amd64", 1, 1000, 21, registrytest.Docker)
	arm := registrytest.Image(t, "linux/arm64", 1, 1000, 22, registrytest.Docker)
	var entries []string
	for _, x := range []struct {
		img  v1.Image
		arch string
	}{{amd, "amd64"}, {arm, "arm64"}} {
		raw, _ := x.img.RawManifest()
		registrytest.Push(t, repo+":"+x.arch, x.img)
		entries = append(entries, fmt.Sprintf("\t\t{\"platform\": {\"os\": \"linux\", \"architecture\": %q},\n\t\t \"size\": %d, \"digest\": %q,\n\t\t \"mediaType\": \"application\\/vnd.docker.distribution.manifest.v2+json\"}", x.arch, len(raw), digest.FromBytes(raw)))
	}
	list := []byte("{\n\t\"schemaVersion\": 2,\n\t\"mediaType\": \"application\\/vnd.docker.distribution.manifest.list.v2+json\",\n\t\"manifests\": [\n" + strings.Join(entries, ",\n") + "\n\t]\n}\n")
	var check any
	if err := json.Unmarshal(list, &check); err != nil {
		t.Fatalf("test list is not JSON: %v", err)
	}
	pin := registrytest.Push(t, repo+":odd", registrytest.Raw{Bytes: list, Type: "application/vnd.docker.distribution.manifest.list.v2+json"})
	if pin != digest.FromBytes(list) {
		t.Fatalf("pushed digest %s, want %s", pin, digest.FromBytes(list))
	}

	dir := t.TempDir()
	cfg, err := config.New(filepath.Join(dir, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := reference.Parse(repo + ":odd")
	sel, _ := platform.ParseSelection([]string{"linux/arm64"})
	res, err := vendorimg.Add(context.Background(), cfg, vendorimg.AddOptions{Ref: ref, Platforms: sel})
	if err != nil {
		t.Fatalf("Add() = %v", err)
	}
	if res.Digest != pin.String() {
		t.Errorf("Add() pinned %s, want the registry's %s", res.Digest, pin)
	}
	stored, err := os.ReadFile(filepath.Join(cfg.LayoutDir(), "blobs", "sha256", pin.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored, list) {
		t.Errorf("stored list differs from the served bytes:\n%s\nwant\n%s", stored, list)
	}
	saved, err := config.Load(context.Background(), cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Images[0].Digest != pin {
		t.Errorf("vendorimg.yaml pins %s, want %s", saved.Images[0].Digest, pin)
	}
	mustSync(t, saved, vendorimg.SyncOptions{})
	mustVerify(t, saved, true)
}

func TestSharedLayersStoredOnceAndGoldenResync(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	base := registrytest.Image(t, "linux/amd64", 2, 2500, 31, registrytest.OCI)
	pinA := registrytest.Push(t, reg.Host+"/shared/a:1", base)
	// b is a with one more layer: it shares a's two layers.
	more := registrytest.Image(t, "linux/amd64", 1, 2500, 32, registrytest.OCI)
	layers, _ := more.Layers()
	b := appendLayer(t, base, layers[0])
	pinB := registrytest.Push(t, reg.Host+"/shared/b:1", b)

	dir := t.TempDir()
	yamlBoth := fmt.Sprintf("images:\n  - ref: %s/shared/a:1\n    digest: %s\n    platforms: [linux/amd64]\n  - ref: %s/shared/b:1\n    digest: %s\n    platforms: [linux/amd64]\n", reg.Host, pinA, reg.Host, pinB)
	cfg := writeConfig(t, dir, yamlBoth)
	res := mustSync(t, cfg, vendorimg.SyncOptions{})
	// a: manifest, config, 2 layers; b: manifest, config, 1 new layer.
	if got := len(blobFiles(t, cfg.LayoutDir())); got != 7 {
		t.Errorf("blobs stored = %d, want 7 (shared layers once)", got)
	}
	if res.Fetched != 7 {
		t.Errorf("Sync() fetched %d, want 7", res.Fetched)
	}
	golden := treeHashes(t, dir)

	// Syncing again: byte-identical.
	mustSync(t, cfg, vendorimg.SyncOptions{})
	if after := treeHashes(t, dir); !maps.Equal(golden, after) {
		t.Fatalf("second sync changed the tree")
	}

	// Remove b: its entry goes, and sync prunes its own blobs (the shared
	// layers stay, a uses them), so gc has nothing left to do.
	cfgA := writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s/shared/a:1\n    digest: %s\n    platforms: [linux/amd64]\n", reg.Host, pinA))
	res = mustSync(t, cfgA, vendorimg.SyncOptions{})
	if !slices.Equal(res.Removed, []string{reg.Host + "/shared/b:1"}) {
		t.Errorf("Sync() removed %v, want b", res.Removed)
	}
	if len(res.Pruned) != 3 {
		t.Errorf("Sync() pruned %d files, want b's manifest, config and own layer: %v", len(res.Pruned), res.Pruned)
	}
	plan, err := vendorimg.GC(context.Background(), cfgA, vendorimg.GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Remove) != 0 {
		t.Errorf("GC() after a pruning sync removed %v, want nothing", plan.Remove)
	}
	mustVerify(t, cfgA, false)

	// Re-add b: the tree is byte-identical to before.
	cfg = writeConfig(t, dir, yamlBoth)
	mustSync(t, cfg, vendorimg.SyncOptions{})
	if after := treeHashes(t, dir); !maps.Equal(golden, after) {
		t.Errorf("re-adding b did not restore the bytes:\nbefore %v\nafter  %v", golden, after)
	}
}

func TestSyncReportsMissingPlatformAndChangesNothing(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/plat/x:1"
	pin := registrytest.Push(t, ref, registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, 41, registrytest.OCI))
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s\n    digest: %s\n    platforms: [linux/s390x]\n", ref, pin))
	_, err := vendorimg.Sync(context.Background(), cfg, vendorimg.SyncOptions{})
	if !errors.Is(err, errs.ErrPlatformMissing) || !strings.Contains(err.Error(), "linux/s390x") {
		t.Fatalf("Sync() = %v, want ErrPlatformMissing naming linux/s390x", err)
	}
	// A failed first sync leaves no layout at all.
	if _, err := os.Lstat(cfg.LayoutDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a failed first sync, %s: %v, want it absent", cfg.LayoutDir(), err)
	}
}

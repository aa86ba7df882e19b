package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// git runs git in dir and returns its trimmed output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@vendorimg.test", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// gitRepo makes dir a git repository with everything in it committed.
func gitRepo(t *testing.T, dir string) {
	t.Helper()
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "vendored")
}

// changed is what git status says changed in dir, one path per line.
func changed(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(git(t, dir, "status", "--porcelain", "--untracked-files=all"), "\n") {
		if line != "" {
			out = append(out, strings.TrimSpace(line))
		}
	}
	slices.Sort(out)
	return out
}

// TestRepinLifecycle is issue 7's scenario: a tag moves upstream;
// outdated says so, update re-pins it keeping both platforms, verify
// passes with no unreferenced blob, and git sees vendorimg.yaml and only
// the blobs that changed.
func TestRepinLifecycle(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/life/app:1"
	both := []string{"linux/amd64", "linux/arm64"}
	v1 := registrytest.Index(t, both, 2, 3000, 101, registrytest.OCI)
	pin1 := registrytest.Push(t, ref, v1)
	dir := t.TempDir()
	if code, out, errOut := run(t, "-C", dir, "add", ref, "--platform", "linux/amd64,linux/arm64"); code != 0 {
		t.Fatalf("add: exit %d\n%s%s", code, out, errOut)
	}
	// A comment the edits must keep.
	path := filepath.Join(dir, "vendorimg.yaml")
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append([]byte("# our test images\n"), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRepo(t, dir)

	// Nothing moved yet.
	if code, out, errOut := run(t, "-C", dir, "outdated"); code != 0 || !strings.Contains(out, "no") {
		t.Fatalf("outdated before the push: exit %d\n%s%s", code, out, errOut)
	}
	// add again without --platform keeps both platforms: unchanged.
	if code, out, errOut := run(t, "-C", dir, "add", ref); code != 0 || !strings.Contains(out, "unchanged") || !strings.Contains(out, "linux/amd64,linux/arm64") {
		t.Fatalf("add again: exit %d, want unchanged with both platforms\n%s%s", code, out, errOut)
	}
	if c := changed(t, dir); len(c) != 0 {
		t.Fatalf("add of an unchanged pin changed %v", c)
	}

	// v2: the same tag, other layers.
	v2 := registrytest.Index(t, both, 2, 3000, 202, registrytest.OCI)
	pin2 := registrytest.Push(t, ref, v2)
	reg.ResetLog()
	code, out, errOut := run(t, "-C", dir, "outdated", "--json")
	if code != 1 {
		t.Fatalf("outdated after the push: exit %d, want 1\n%s%s", code, out, errOut)
	}
	var od struct {
		Images []struct {
			Name, Pinned, Current string
			Moved                 bool
		}
	}
	if err := json.Unmarshal([]byte(out), &od); err != nil || len(od.Images) != 1 || !od.Images[0].Moved || od.Images[0].Pinned != pin1.String() || od.Images[0].Current != pin2.String() || od.Images[0].Name != ref {
		t.Fatalf("outdated --json = %s (%v), want %s moved from %s to %s", out, err, ref, pin1, pin2)
	}
	var manifests []string
	for _, r := range reg.Requests() {
		if strings.Contains(r, "/manifests/") {
			manifests = append(manifests, r)
		}
	}
	if len(manifests) != 1 || !strings.HasPrefix(manifests[0], "HEAD /v2/life/app/manifests/1 ") {
		t.Errorf("outdated sent %v, want one HEAD of the tag", reg.Requests())
	}

	code, out, errOut = run(t, "-C", dir, "update")
	if code != 0 || !strings.Contains(out, "re-pinned "+ref+" "+pin1.String()[:19]+" -> "+pin2.String()[:19]) {
		t.Fatalf("update: exit %d, want re-pinned OLD -> NEW\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, "-C", dir, "verify"); code != 0 || strings.Contains(out+errOut, "unreferenced") {
		t.Fatalf("verify after update: exit %d\n%s%s", code, out, errOut)
	}
	yaml, _ := os.ReadFile(path)
	if !bytes.HasPrefix(yaml, []byte("# our test images\n")) || !bytes.Contains(yaml, []byte("platforms: [linux/amd64, linux/arm64]")) || !bytes.Contains(yaml, []byte(pin2.String())) {
		t.Errorf("vendorimg.yaml after update:\n%s\nwant the comment, both platforms and %s", yaml, pin2)
	}

	// git sees vendorimg.yaml, index.json, and the blobs of v1 that went
	// and of v2 that came; no other file.
	want := []string{"M testdata/images/index.json", "M vendorimg.yaml"}
	v1Blobs, v2Blobs := registrytest.Blobs(t, v1, both), registrytest.Blobs(t, v2, both)
	for d := range v1Blobs {
		if !v2Blobs[d] {
			want = append(want, "D testdata/images/blobs/sha256/"+d.Encoded())
		}
	}
	for d := range v2Blobs {
		if !v1Blobs[d] {
			want = append(want, "?? testdata/images/blobs/sha256/"+d.Encoded())
		}
	}
	slices.Sort(want)
	if got := changed(t, dir); !slices.Equal(got, want) {
		t.Errorf("git status after update:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if code, out, errOut := run(t, "-C", dir, "outdated"); code != 0 {
		t.Errorf("outdated after update: exit %d\n%s%s", code, out, errOut)
	}
}

// TestFailedAddChangesNothing: every way add can fail leaves the tree
// byte-identical, with or without an existing vendorimg.yaml.
func TestFailedAddChangesNothing(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/fail/app:1"
	registrytest.Push(t, ref, registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 1, 2000, 303, registrytest.OCI))
	other := reg.Host + "/fail/other:1"
	registrytest.Push(t, other, registrytest.Index(t, []string{"linux/amd64"}, 1, 2000, 304, registrytest.OCI))

	existing := t.TempDir()
	if code, out, errOut := run(t, "-C", existing, "add", other, "--platform", "linux/amd64"); code != 0 {
		t.Fatalf("add: exit %d\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"platform-not-in-index", []string{"add", ref, "--platform", "linux/s390x"}, "linux/s390x"},
		{"missing-tag", []string{"add", reg.Host + "/fail/app:9.9.9"}, "9.9.9"},
		{"missing-repository", []string{"add", reg.Host + "/fail/nothing:1"}, "not found"},
		{"unreachable-registry", []string{"add", "127.0.0.1:1/x/y:1"}, "127.0.0.1:1"},
	} {
		for _, start := range []string{"empty", "existing"} {
			t.Run(tc.name+"/"+start, func(t *testing.T) {
				dir := t.TempDir()
				if start == "existing" {
					if err := os.CopyFS(dir, os.DirFS(existing)); err != nil {
						t.Fatal(err)
					}
				}
				before := snapshot(t, dir)
				code, out, errOut := run(t, append([]string{"-C", dir}, tc.args...)...)
				if code != 1 || !strings.Contains(errOut, tc.want) {
					t.Errorf("vendorimg %v: exit %d, want 1 mentioning %q\n%s%s", tc.args, code, tc.want, out, errOut)
				}
				if after := snapshot(t, dir); after != before {
					t.Errorf("a failed add changed the tree:\nbefore:\n%.600s\nafter:\n%.600s", before, after)
				}
			})
		}
	}
}

// TestRemoveAndNoPrune: remove drops the image and its own blobs
// (verify passes); with --no-prune they stay, for gc.
func TestRemoveAndNoPrune(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	a, b := reg.Host+"/rm/a:1", reg.Host+"/rm/b:1"
	registrytest.Push(t, a, registrytest.Index(t, []string{"linux/amd64"}, 1, 2000, 401, registrytest.OCI))
	imgB := registrytest.Index(t, []string{"linux/amd64"}, 1, 2000, 402, registrytest.OCI)
	registrytest.Push(t, b, imgB)
	for _, noPrune := range []bool{false, true} {
		dir := t.TempDir()
		for _, ref := range []string{a, b} {
			if code, out, errOut := run(t, "-C", dir, "add", ref, "--platform", "linux/amd64"); code != 0 {
				t.Fatalf("add %s: exit %d\n%s%s", ref, code, out, errOut)
			}
		}
		args := []string{"-C", dir, "remove", b}
		if noPrune {
			args = append(args, "--no-prune")
		}
		reg.ResetLog()
		if code, out, errOut := run(t, args...); code != 0 || !strings.Contains(out, "removed "+b) {
			t.Fatalf("vendorimg %v: exit %d\n%s%s", args, code, out, errOut)
		}
		if reqs := reg.Requests(); len(reqs) != 0 {
			t.Errorf("remove sent %v, want no request", reqs)
		}
		yaml, _ := os.ReadFile(filepath.Join(dir, "vendorimg.yaml"))
		if bytes.Contains(yaml, []byte("/rm/b:1")) || !bytes.Contains(yaml, []byte("/rm/a:1")) {
			t.Errorf("vendorimg.yaml after remove:\n%s", yaml)
		}
		left := 0
		for d := range registrytest.Blobs(t, imgB, []string{"linux/amd64"}) {
			if _, err := os.Stat(filepath.Join(dir, "testdata", "images", "blobs", "sha256", d.Encoded())); err == nil {
				left++
			}
		}
		code, out, errOut := run(t, "-C", dir, "verify")
		switch {
		case !noPrune && (left != 0 || code != 0):
			t.Errorf("remove: %d of b's blobs left, verify exit %d\n%s%s", left, code, out, errOut)
		case noPrune && (left == 0 || code != 1 || !strings.Contains(errOut, "unreferenced") || !strings.Contains(errOut, "(only extras: the images are intact;")):
			t.Errorf("remove --no-prune: %d of b's blobs left, verify exit %d, want them kept as unreferenced, only extras\n%s%s", left, code, out, errOut)
		}
	}
	code, _, errOut := run(t, "-C", t.TempDir(), "remove", a)
	if code != 1 || !strings.Contains(errOut, "no vendorimg.yaml") {
		t.Errorf("remove with no vendorimg.yaml: exit %d, %s", code, errOut)
	}
}

// TestRepairSameSizeFlip: a flipped byte in a layer (same size) passes
// plain sync's size check, is found and replaced by sync --repair, and
// verify --deep then passes.
func TestRepairSameSizeFlip(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/repair/app:1"
	idx := registrytest.Index(t, []string{"linux/amd64"}, 2, 5000, 501, registrytest.OCI)
	registrytest.Push(t, ref, idx)
	dir := t.TempDir()
	if code, out, errOut := run(t, "-C", dir, "add", ref, "--platform", "linux/amd64"); code != 0 {
		t.Fatalf("add: exit %d\n%s%s", code, out, errOut)
	}
	layer := registrytest.Layers(t, idx, "linux/amd64")[1]
	path := filepath.Join(dir, "testdata", "images", "blobs", "sha256", layer.Encoded())
	good, _ := os.ReadFile(path)
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 0x20
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	reg.ResetLog()
	if code, out, _ := run(t, "-C", dir, "sync"); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("plain sync: exit %d, %s; want it size-checked and up to date", code, out)
	}
	if reqs := reg.Requests(); len(reqs) != 0 {
		t.Errorf("plain sync sent %v, want no request", reqs)
	}
	code, out, errOut := run(t, "-C", dir, "sync", "--repair", "--json")
	var res struct {
		Repaired []struct{ Path, Problem string }
	}
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || len(res.Repaired) != 1 || res.Repaired[0].Path != "blobs/sha256/"+layer.Encoded() || res.Repaired[0].Problem != "digest" {
		t.Fatalf("sync --repair --json: exit %d, %s (%v)\n%s; want the layer repaired", code, out, err, errOut)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, good) {
		t.Errorf("the layer's bytes after --repair are not the registry's")
	}
	if code, out, errOut := run(t, "-C", dir, "verify", "--deep"); code != 0 {
		t.Errorf("verify --deep after --repair: exit %d\n%s%s", code, out, errOut)
	}
}

// TestJSONOnFailure: each command prints exactly one valid JSON document
// on stdout when it fails, with error and kind.
func TestJSONOnFailure(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/json/app:1"
	registrytest.Push(t, ref, registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, 601, registrytest.OCI))
	synced := t.TempDir()
	if code, out, errOut := run(t, "-C", synced, "add", ref, "--platform", "linux/amd64"); code != 0 {
		t.Fatalf("add: exit %d\n%s%s", code, out, errOut)
	}
	incomplete := t.TempDir()
	if err := os.CopyFS(incomplete, os.DirFS(synced)); err != nil {
		t.Fatal(err)
	}
	blobs, _ := os.ReadDir(filepath.Join(incomplete, "testdata", "images", "blobs", "sha256"))
	for _, b := range blobs {
		os.Remove(filepath.Join(incomplete, "testdata", "images", "blobs", "sha256", b.Name()))
	}
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	for _, tc := range []struct {
		name string
		args []string
		kind string
	}{
		{"add-missing-tag", []string{"-C", t.TempDir(), "add", reg.Host + "/json/app:9.9.9"}, "not-found"},
		{"load-no-engine", []string{"-C", synced, "load"}, "engine-unreachable"},
		{"unload-no-engine", []string{"-C", synced, "unload"}, "engine-unreachable"},
		{"verify-daemon-no-engine", []string{"-C", synced, "verify", "--daemon"}, "engine-unreachable"},
		{"status-daemon-no-engine", []string{"-C", synced, "status", "--daemon"}, "engine-unreachable"},
		{"verify-incomplete", []string{"-C", incomplete, "verify"}, "verify-failed"},
		{"status-incomplete", []string{"-C", incomplete, "status"}, "incomplete"},
		{"sync-offline", []string{"-C", incomplete, "sync", "--offline"}, "offline"},
		{"no-config", []string{"-C", t.TempDir(), "sync"}, "no-config"},
		{"remove-unknown", []string{"-C", synced, "remove", "example.test/nope:1"}, "invalid-config"},
		{"outdated-unreachable", []string{"-C", synced, "--config", writeTemp(t, "images:\n  - ref: 127.0.0.1:1/x:1\n    digest: sha256:"+strings.Repeat("a", 64)+"\n    platforms: [linux/amd64]\n"), "outdated"}, "error"},
		{"usage", []string{"-C", synced, "sync", "--frob"}, "usage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, append(tc.args, "--json")...)
			if code == 0 {
				t.Fatalf("vendorimg %v --json: exit 0, want a failure\n%s", tc.args, out)
			}
			dec := json.NewDecoder(strings.NewReader(out))
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("vendorimg %v --json printed %q: %v (stderr %s)", tc.args, out, err, errOut)
			}
			if dec.More() {
				t.Errorf("vendorimg %v --json printed more than one document: %s", tc.args, out)
			}
			if doc["error"] == nil || doc["error"] == "" || doc["kind"] != tc.kind {
				t.Errorf("vendorimg %v --json = %s, want error and kind %q", tc.args, out, tc.kind)
			}
		})
	}
}

// writeTemp writes content to a vendorimg.yaml in a new folder and returns
// its path.
func writeTemp(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vendorimg.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

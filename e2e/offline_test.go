package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/testbin"
	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// offline runs a command in a new network namespace, which has no network
// at all (not even a loopback that is up); the docker socket, a unix
// socket, still works. It needs root (or user namespaces).
func offline(t *testing.T, dir string, env []string, name string, args ...string) result {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("these tests need unshare (util-linux): %v", err)
	}
	return command(t, dir, env, "unshare", append([]string{"--net", "--", name}, args...)...)
}

// TestOfflineNamespace proves that offline() has no network: the
// namespace's only interface is lo.
func TestOfflineNamespace(t *testing.T) {
	r := offline(t, "", nil, "cat", "/proc/net/dev")
	if r.code != 0 {
		t.Fatalf("unshare --net cat /proc/net/dev = %d: %s", r.code, r.stderr)
	}
	var ifaces []string
	for _, line := range strings.Split(r.stdout, "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok {
			ifaces = append(ifaces, strings.TrimSpace(name))
		}
	}
	if len(ifaces) != 1 || ifaces[0] != "lo" {
		t.Errorf("interfaces in the namespace = %q, want only lo", ifaces)
	}
}

// TestOfflineLoadAndVerify: vendorimg load streams the image from the
// layout into docker, and vendorimg verify --deep --daemon proves it, with
// no network (Promise 2).
func TestOfflineLoadAndVerify(t *testing.T) {
	e := newEnv(t)
	bin := testbin.Path(t)
	probe := vendorimgtest.Image(t, probeRef)
	e.restore(t)
	evict(t, probe) // so that load must stream it, not skip it

	r := offline(t, "", nil, bin, "-C", e.root(), "load", "--json")
	if r.code != 0 {
		t.Fatalf("vendorimg load offline = %d: %s", r.code, r.stderr)
	}
	var rep daemon.LoadReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("vendorimg load --json printed %q: %v", r.stdout, err)
	}
	if len(rep.Images) != 1 || rep.Images[0].Action != daemon.ActionLoaded || rep.Images[0].ImageID != probe.ID || rep.Images[0].Streamed != rep.Images[0].Bytes {
		t.Errorf("vendorimg load offline = %+v, want %s loaded as %s", rep.Images, probeRef, probe.ID)
	}

	r = offline(t, "", nil, bin, "-C", e.root(), "verify", "--deep", "--daemon")
	if r.code != 0 || !strings.Contains(r.stdout, "ok: 1 image in docker is the vendored one") {
		t.Errorf("vendorimg verify --deep --daemon offline = %d, %q, %q; want 0 and docker's image OK", r.code, r.stdout, r.stderr)
	}
}

// TestGoGenerateOffline: "go generate ./..." from the module root runs the
// directive in generate.go (vendorimg sync) with no network and no module
// proxy, and changes nothing in the layout or vendorimg.yaml.
func TestGoGenerateOffline(t *testing.T) {
	e := newEnv(t)
	root := e.root()
	paths := []string{config.FileName, filepath.ToSlash(mustRel(t, root, e.l.Root()))}
	before := hashFiles(t, root, paths)
	gitBefore := gitStatus(t, root, paths)

	r := offline(t, root, []string{"GOPROXY=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local"}, "go", "generate", "-x", "./...")
	if r.code != 0 {
		t.Fatalf("go generate ./... offline = %d: %s", r.code, r.stderr)
	}
	if want := "go run github.com/vendorimg/vendorimg/cmd/vendorimg sync -q"; !strings.Contains(r.stderr, want) {
		t.Errorf("go generate -x ./... printed %q, want it to run %q", r.stderr, want)
	}

	after := hashFiles(t, root, paths)
	for p, h := range before {
		if after[p] != h {
			t.Errorf("go generate changed %s: sha256 %s, was %s", p, after[p], h)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("go generate created %s", p)
		}
	}
	if g := gitStatus(t, root, paths); g != gitBefore {
		t.Errorf("git status --porcelain after go generate = %q, was %q", g, gitBefore)
	}
}

func mustRel(t *testing.T, base, target string) string {
	t.Helper()
	rel, err := filepath.Rel(base, target)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// hashFiles hashes every file under root's paths (files or folders), by
// path relative to root.
func hashFiles(t *testing.T, root string, paths []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range paths {
		err := filepath.WalkDir(filepath.Join(root, p), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			rel, _ := filepath.Rel(root, path)
			out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 2 {
		t.Fatalf("hashed %d files under %s %v, want the layout and vendorimg.yaml", len(out), root, paths)
	}
	return out
}

// gitStatus is git's view of paths, or "" where git or the repository is
// not available.
func gitStatus(t *testing.T, root string, paths []string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		return ""
	}
	r := command(t, root, nil, "git", append([]string{"status", "--porcelain", "--"}, paths...)...)
	if r.code != 0 {
		t.Logf("git status: %s", r.stderr)
		return ""
	}
	return r.stdout
}

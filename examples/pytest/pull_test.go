package pytest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/internal/testsupport/testbin"
	"github.com/vendorimg/vendorimg/internal/testsupport/testimage"
	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// pullRef is the Docker Hub image the pull suite's code under test pulls
// (testdata/pull): the probe, vendored under that name.
const pullRef = "docker.io/library/alpine:3.19.4"

// TestCodeUnderTestPulls runs the pull suite (testdata/pull), whose code
// under test runs "docker pull alpine:3.19.4" and then the image, on an
// engine whose docker.io registry mirror is on loopback (scripts/engines
// gives its engines one): with nothing listening there the pull must fail
// (the test fails, the session's checks stay green), and with vendorimg
// serve of a layout holding the probe as alpine:3.19.4 listening there
// (in the engine's network namespace, if it has one) the pull must succeed
// through the mirror with the vendored bytes: the container runs, the tag
// stays the vendored image, and the per-test check and the session are
// green. Not parallel: the probe's image is the same, and TestWithEngine
// removes and moves the probe's tag.
func TestCodeUnderTestPulls(t *testing.T) {
	needSetup(t)
	vendorimgtest.Image(t, probeRef) // skips without an engine; checks that the probe's tag is left alone
	addr, netns := engineMirror(t)
	if netns != "" && os.Geteuid() != 0 {
		t.Skipf("%s listens for its mirror in the network namespace %s: serving there needs root", enginetest.Describe(t), netns)
	}
	cfgPath := testimage.Checkout(t, env.cfg, pullRef)
	cfg, err := config.Load(context.Background(), cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(cfgPath)
	if err := copyTree(filepath.Join("testdata", "pull"), dir); err != nil {
		t.Fatal(err)
	}
	// The tag the sessions' load and pull make, also should a session end
	// early (the sessions unload it, and leave the probe as it was).
	t.Cleanup(func() { _, _ = enginetest.DockerErr("image", "rm", pullRef) })
	pin := []string{"VENDORIMG_PYTEST_PIN=" + cfg.Images[0].Digest.String()}

	// Nothing listens at the mirror: the pull fails (the mirror, then
	// docker.io, which is unreachable offline), and changes nothing.
	s := runPytest(t, dir, pin, "-v", "--vendorimg-unload")
	if s.code != 1 {
		t.Fatalf("pytest on the pull suite with nothing at the mirror %s exited %d, want 1 (the pull fails):\n%s", addr, s.code, s.out)
	}
	matchAll(t, s.out,
		`(?m)^E +RuntimeError: docker pull alpine:3\.19\.4 exited 1: \S`,
		`(?m)^FAILED test_pull\.py::test_code_that_pulls - RuntimeError: `,
		`(?m)^vendorimg: 1 test used vendored images; 1 checked after they ran$`,
		`(?m)^vendorimg verify --daemon: layout \S+: 7 blobs, \d+ bytes rehashed$`,
		`(?m)^=+ 1 failed in `,
	)
	if strings.Contains(s.out, "ERROR at teardown") {
		t.Errorf("a pull that failed was taken for a change of the image:\n%s", s.out)
	}

	// serve of the layout at the mirror: the same pull succeeds through it.
	srv := testbin.Serve(t, filepath.Join(env.dir, "vendorimg"), testbin.ServeOptions{Config: cfgPath, Addr: addr, Netns: netns})
	s = runPytest(t, dir, pin, "-v", "--vendorimg-unload")
	if s.code != 0 {
		t.Fatalf("pytest on the pull suite with vendorimg serve at the mirror %s exited %d, want 0:\n%s\nserve:\n%s", addr, s.code, s.out, srv.Log)
	}
	matchAll(t, s.out,
		`(?m)^test_pull\.py::test_code_that_pulls PASSED`,
		`(?m)^vendorimg: 1 test used vendored images; 1 checked after they ran$`,
		`(?m)^vendorimg verify --daemon: layout \S+: 7 blobs, \d+ bytes rehashed$`,
		`(?m)^  alpine:3\.19\.4: ok sha256:[0-9a-f]{12}$`,
		`(?m)^=+ 1 passed in `,
	)
	// The engine asked serve, as its docker.io mirror, for the tag
	// (containerd's resolver adds ?ns=docker.io, which logfmt quotes).
	if !regexp.MustCompile(`method=(GET|HEAD) path="?/v2/library/alpine/manifests/3\.19\.4(\?ns=docker\.io")? status=200 `).MatchString(srv.Log.String()) {
		t.Errorf("serve's log has no request for /v2/library/alpine/manifests/3.19.4 answered 200:\n%s", srv.Log)
	}
	t.Logf("pytest with vendorimg serve at %s:\n%s\nserve:\n%s", addr, s.out, srv.Log)
}

// engineMirror returns where the engine under test has its docker.io
// registry mirror (ADDR and NETNS, as scripts/engines mirror says: NETNS
// is the engine's network namespace, "" for the host's). It skips the test
// when the engine has none, naming the engine and the reason; it fails
// instead for an engine scripts/engines started (it gives each one a
// mirror) under VENDORIMG_REQUIRE_DOCKER=1.
func engineMirror(t *testing.T) (addr, netns string) {
	t.Helper()
	e := enginetest.Describe(t)
	script := filepath.Join(env.root, "scripts", "engines")
	list, err := exec.Command(script, "list").Output()
	if err != nil {
		t.Fatalf("scripts/engines list: %v", err)
	}
	name := ""
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if n, host, _ := strings.Cut(line, "\t"); host == os.Getenv("DOCKER_HOST") {
			name = n
		}
	}
	if name == "" {
		t.Skipf("%s is none of the engines scripts/engines knows with VENDORIMG_ENGINE_STATE=%q (%s), so where its registry mirror listens is unknown",
			e, os.Getenv("VENDORIMG_ENGINE_STATE"), strings.ReplaceAll(strings.TrimSpace(string(list)), "\n", "; "))
	}
	out, err := exec.Command(script, "mirror", name).CombinedOutput()
	if err != nil {
		why := strings.TrimPrefix(strings.TrimSpace(string(out)), "engines: error: ")
		if name != "docker" && enginetest.RunRequired() {
			t.Fatalf("%s lacks the docker.io registry mirror scripts/engines gives its engines (VENDORIMG_REQUIRE_DOCKER=1): %s", e, why)
		}
		t.Skipf("%s: code under test that pulls needs a docker.io registry mirror on the engine, and %s", e, why)
	}
	addr, netns, _ = strings.Cut(strings.TrimSpace(string(out)), "\t")
	return addr, netns
}

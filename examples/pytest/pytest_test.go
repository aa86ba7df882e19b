package pytest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// probeRef is the image the example's tests run.
const probeRef = "registry.vendorimg.test/probe:1"

// noEngine is a DOCKER_HOST where no engine answers.
const noEngine = "DOCKER_HOST=unix:///nonexistent.sock"

// TestPluginUnit runs pytest-vendorimg's own tests (python/pytest-vendorimg/tests):
// inner pytest sessions against a fake vendorimg, in today's JSON forms
// and in the error-document form.
func TestPluginUnit(t *testing.T) {
	t.Parallel()
	needSetup(t)
	s := runPytest(t, filepath.Join(env.root, "python", "pytest-vendorimg"), nil, "-q")
	if s.code != 0 {
		t.Fatalf("pytest python/pytest-vendorimg exited %d, want 0:\n%s", s.code, s.out)
	}
}

// TestWithEngine runs the example and the isolation suite, each as a user
// would, against the real engine, one after the other: they change the
// probe's tag, and put it back.
func TestWithEngine(t *testing.T) {
	t.Parallel()
	needSetup(t)
	vendorimgtest.Image(t, probeRef) // skips without an engine; fails if the tag is not the vendored image

	t.Run("example-xdist-loads-once", func(t *testing.T) {
		t.Cleanup(func() { restore(t) })
		// On an engine that cannot run a container here, the tests that
		// run one skip, naming the engine and the reason.
		summary := `(?m)^=+ 6 passed in `
		if err := enginetest.CanRun(t, probeRef, "exit", "0"); err != nil {
			if enginetest.RunRequired() {
				t.Fatalf("%s cannot run a container here (VENDORIMG_REQUIRE_DOCKER=1): %v", enginetest.Describe(t), err)
			}
			t.Logf("%s cannot run a container here (%v): the tests that run one must skip", enginetest.Describe(t), err)
			summary = `(?m)^SKIPPED \[\d+\] .*: engine .* cannot run a container here: .+$[\s\S]*^=+ 2 passed, 4 skipped in `
		}
		s := runPytest(t, env.root, nil, "-v", "-rs", "-n", "2", "--vendorimg-unload", "examples/pytest")
		if s.code != 0 {
			t.Fatalf("pytest -n 2 examples/pytest exited %d, want 0:\n%s", s.code, s.out)
		}
		// Load and the layout's check once for both workers, a vendorimg
		// watch per worker; then verify and unload, once, in the controller.
		if count(s.calls, "load") != 1 || count(s.calls, "verify --json") != 1 || count(s.calls, "watch") != 2 ||
			count(s.calls, "verify --daemon") != 1 || count(s.calls, "unload") != 1 || len(s.calls) != 6 {
			t.Errorf("pytest -n 2 ran vendorimg:\n%s\nwant load and verify once for both workers, watch once in each, then verify --daemon and unload once", strings.Join(s.calls, "\n"))
		}
		matchAll(t, s.out,
			`(?m)^\[gw0\] .*(PASSED|SKIPPED) examples/pytest/test_probe\.py::`,
			`(?m)^\[gw1\] .*(PASSED|SKIPPED) examples/pytest/test_probe\.py::`,
			summary,
			`(?m)^vendorimg load \(in gw[01], once for all workers\): docker \S+ \(\w+ image store\), platform linux/\w+$`,
			`(?m)^  `+regexp.QuoteMeta(probeRef)+`: (loaded|skipped|tagged) sha256:[0-9a-f]{12} `,
			`(?m)^vendorimg verify --daemon: layout `+regexp.QuoteMeta(filepath.Join(env.root, "testdata", "images"))+`: 7 blobs, \d+ bytes rehashed$`,
			`(?m)^  `+regexp.QuoteMeta(probeRef)+`: ok sha256:[0-9a-f]{12}$`,
			`(?m)^vendorimg unload:\n  `+regexp.QuoteMeta(probeRef)+`: removed sha256:[0-9a-f]{12}$`,
		)
		if out, err := exec.Command("docker", "image", "inspect", probeRef).CombinedOutput(); err == nil {
			t.Errorf("after --vendorimg-unload, docker still has %s:\n%s", probeRef, out)
		}
	})

	// The isolation suite (testdata/isolation): each test that changes the
	// image is named at its teardown, and every later test sees the
	// vendored image; alone, and under -n 2 with the exclusive marker.
	t.Run("isolation", func(t *testing.T) {
		t.Cleanup(func() { restore(t) })
		runIsolation(t, "-v")
	})
	t.Run("isolation-xdist-exclusive", func(t *testing.T) {
		t.Cleanup(func() { restore(t) })
		runIsolation(t, "-v", "-n", "2", "--dist", "loadfile")
	})
	t.Run("wrong-before-the-session", func(t *testing.T) {
		t.Cleanup(func() { restore(t) })
		runWrongBefore(t)
	})
}

// TestWithoutEngine runs the example where no engine answers: its tests
// skip, saying why, and fail under VENDORIMG_REQUIRE_DOCKER=1. Nothing
// reaches the real engine, so it runs beside TestWithEngine.
func TestWithoutEngine(t *testing.T) {
	t.Parallel()
	needSetup(t)
	for _, tc := range []struct {
		name string
		env  []string
		code int
		want []string
	}{
		{"skips", []string{noEngine}, 0, []string{
			`(?m)^SKIPPED \[\d+\] examples/pytest/test_probe\.py:\d+: vendorimg load: .*no docker engine.*unix:///nonexistent\.sock.* \(set VENDORIMG_REQUIRE_DOCKER=1 to make this an error\)$`,
			`(?m)^6 skipped in `,
			// No engine: the layout is still checked.
			`(?m)^vendorimg verify: layout \S+: 7 blobs, \d+ bytes rehashed$`,
		}},
		// Required: the session fails at its start (pytest's usage error),
		// before any test is collected.
		{"fails-when-required", []string{noEngine, "VENDORIMG_REQUIRE_DOCKER=1"}, 4, []string{
			`(?m)^ERROR: VENDORIMG_REQUIRE_DOCKER=1 requires a docker engine, and none answers: vendorimg load: .*no docker engine`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := runPytest(t, env.root, tc.env, "-q", "-rs", "examples/pytest")
			if s.code != tc.code {
				t.Fatalf("pytest examples/pytest with %s exited %d, want %d:\n%s", tc.env, s.code, tc.code, s.out)
			}
			matchAll(t, s.out, tc.want...)
			if tc.code == 4 && strings.Contains(s.out, "passed") {
				t.Errorf("tests ran although the session failed at its start:\n%s", s.out)
			}
			if n := count(s.calls, "load"); n != 1 {
				t.Errorf("vendorimg load ran %d times, want once:\n%s", n, strings.Join(s.calls, "\n"))
			}
		})
	}
}

// TestRequiredDockerBeforeTheProjectsOwnSkip runs, where no engine answers
// and VENDORIMG_REQUIRE_DOCKER=1, a suite whose module skips itself when
// "docker ps" fails (as many projects do): the session must fail, not go
// green with every test skipped.
func TestRequiredDockerBeforeTheProjectsOwnSkip(t *testing.T) {
	t.Parallel()
	needSetup(t)
	dir := t.TempDir()
	files := map[string]string{
		"pytest.ini": "[pytest]\nvendorimg_config = " + env.cfg + "\n",
		"test_e2e.py": `import subprocess, pytest

pytestmark = pytest.mark.skipif(
    subprocess.run(["docker", "ps"], capture_output=True).returncode != 0, reason="docker is not running")

def test_e2e(vendorimg_image):
    vendorimg_image("` + probeRef + `")
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := runPytest(t, dir, []string{noEngine}, "-q", "-rs")
	if s.code != 0 || !regexp.MustCompile(`(?m)^1 skipped in `).MatchString(s.out) {
		t.Fatalf("without VENDORIMG_REQUIRE_DOCKER the suite's own skip must win (exit 0, 1 skipped); exited %d:\n%s", s.code, s.out)
	}
	s = runPytest(t, dir, []string{noEngine, "VENDORIMG_REQUIRE_DOCKER=1"}, "-q", "-rs")
	if s.code != 4 {
		t.Fatalf("with VENDORIMG_REQUIRE_DOCKER=1 and no engine, pytest exited %d, want 4 (usage error):\n%s", s.code, s.out)
	}
	matchAll(t, s.out, `(?m)^ERROR: VENDORIMG_REQUIRE_DOCKER=1 requires a docker engine, and none answers: `)
	if strings.Contains(s.out, "skipped") {
		t.Errorf("the suite's skip ran first:\n%s", s.out)
	}
}

// isolationSuite makes a folder with testdata/isolation and a copy of the
// repository's vendorimg.yaml and layout, whose blobs the suite changes.
func isolationSuite(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{
		filepath.Join("testdata", "isolation"):        dir,
		filepath.Join(env.root, "testdata", "images"): filepath.Join(dir, "testdata", "images"),
		env.cfg: filepath.Join(dir, "vendorimg.yaml"),
	} {
		if err := copyPath(src, dst); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// otherImageEnv passes the isolation suite the image to re-tag as the
// probe.
const otherImageEnv = "VENDORIMG_PYTEST_OTHER_IMAGE"

// restore loads the vendored images again, which puts the probe's tag
// back, removes the image the tag pointed to meanwhile, and checks that
// docker holds the vendored images.
func restore(t *testing.T) {
	t.Helper()
	out, err := vendorimg("load", "--json", "--config", env.cfg)
	var rep daemon.LoadReport
	if err != nil || json.Unmarshal(out, &rep) != nil {
		t.Fatalf("restoring %s: vendorimg load: %v\n%s", probeRef, err, out)
	}
	for _, r := range rep.Images {
		if r.Replaced == "" || r.Replaced == r.ImageID {
			continue
		}
		t.Logf("restored %s (%s), removing the image it pointed to, %s", r.Tag, r.Action, r.Replaced)
		if out, err := exec.Command("docker", "image", "rm", r.Replaced).CombinedOutput(); err != nil {
			t.Errorf("docker image rm %s: %v\n%s", r.Replaced, err, out)
		}
	}
	if out, err := vendorimg("verify", "--daemon", "--config", env.cfg); err != nil {
		t.Errorf("after restoring: vendorimg verify --daemon: %v\n%s", err, out)
	}
}

// vendorimg runs the vendorimg script with args and returns its stdout;
// the error has its stderr.
func vendorimg(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(env.bin, "vendorimg"), args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, err
}

// matchAll fails the test for each pattern out does not match.
func matchAll(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("pytest output does not match %s:\n%s", p, out)
		}
	}
}

// copyPath copies a file or a folder.
func copyPath(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return copyTree(src, dst)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

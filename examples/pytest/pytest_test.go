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
	"github.com/vendorimg/vendorimg/internal/enginetest"
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

// TestWithEngine runs the example and a suite that changes the image, each
// as a user would, against the real engine, one after the other: both
// change the probe's tag, and put it back.
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
		// Once for both workers; then verify and unload, once, in the controller.
		if count(s.calls, "load") != 1 || count(s.calls, "verify --daemon") != 1 || count(s.calls, "unload") != 1 || len(s.calls) != 3 {
			t.Errorf("pytest -n 2 ran vendorimg:\n%s\nwant load once for both workers, then verify --daemon and unload once", strings.Join(s.calls, "\n"))
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

	t.Run("changes-fail-the-run", func(t *testing.T) {
		t.Cleanup(func() { restore(t) })
		dir := changesSuite(t)
		// The suite moves the tag onto an image the Go test commits through
		// the engine's API (podman's docker-compatible commit needs a
		// config the docker command does not send).
		s := runPytest(t, dir, []string{otherImageEnv + "=" + otherImage(t)}, "-q")
		if s.code != 1 {
			t.Fatalf("pytest with tests that change %s exited %d, want 1:\n%s", probeRef, s.code, s.out)
		}
		matchAll(t, s.out,
			`(?m)^2 passed in `,
			`(?m)^  `+regexp.QuoteMeta(probeRef)+`: CHANGED sha256:[0-9a-f]{12}$`,
			`(?m)^vendorimg verify --daemon FAILED: the vendored images changed during the test session \(2 problems\):$`,
			`(?m)^  `+regexp.QuoteMeta(probeRef)+`: tag-moved: points to image sha256:[0-9a-f]{12}, which is not the vendored image`,
			`(?m)^  blobs/sha256/[0-9a-f]{64}: digest: .* \(image `+regexp.QuoteMeta(probeRef)+`\)$`,
		)

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
		{"fails-when-required", []string{noEngine, "VENDORIMG_REQUIRE_DOCKER=1"}, 1, []string{
			`(?m)^VENDORIMG_REQUIRE_DOCKER=1 requires a docker engine, and none answers: vendorimg load: .*no docker engine`,
			`(?m)^6 errors in `,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := runPytest(t, env.root, tc.env, "-q", "-rs", "examples/pytest")
			if s.code != tc.code {
				t.Fatalf("pytest examples/pytest with %s exited %d, want %d:\n%s", tc.env, s.code, tc.code, s.out)
			}
			matchAll(t, s.out, tc.want...)
			if n := count(s.calls, "load"); n != 1 {
				t.Errorf("vendorimg load ran %d times, want once:\n%s", n, strings.Join(s.calls, "\n"))
			}
		})
	}
}

// changesSuite makes a folder with testdata/changes and a copy of the
// repository's vendorimg.yaml and layout, whose blobs the suite changes.
func changesSuite(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{
		filepath.Join("testdata", "changes"):          dir,
		filepath.Join(env.root, "testdata", "images"): filepath.Join(dir, "testdata", "images"),
		env.cfg: filepath.Join(dir, "vendorimg.yaml"),
	} {
		if err := copyPath(src, dst); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// otherImageEnv passes the changes suite the image to move the probe's
// tag to.
const otherImageEnv = "VENDORIMG_PYTEST_OTHER_IMAGE"

// otherImage commits a created (never started) container of the probe
// through the engine's API (enginetest.Commit) and returns the new image's
// ID; the image is removed when the test ends.
func otherImage(t *testing.T) string {
	t.Helper()
	return enginetest.Commit(t, probeRef, enginetest.CommitOptions{})
}

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

package pytest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/enginetest"
	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// probeRef is the image the example's tests run (TEST_IMAGE).
const probeRef = "registry.vendorimg.test/probe:1"

// runTimeout bounds a pytest session or a vendorimg command; a normal one
// takes seconds.
const runTimeout = 5 * time.Minute

func TestMain(m *testing.M) {
	// TestPytestSessionFailsWhenTagMoves moves the probe's tag on purpose,
	// and restores it: no other suite may use the engine meanwhile.
	os.Exit(vendorimgtest.Main(m, vendorimgtest.Options{Lock: vendorimgtest.LockExclusive}))
}

// TestPytestExample runs the example as a user would, from the repository
// root, with vendorimg on PATH. On an engine that cannot run a container
// here, the tests that run one skip, naming the engine and the reason, and
// the others pass.
func TestPytestExample(t *testing.T) {
	root, _ := repository(t)
	python := pythonWithPytest(t)
	bin := buildVendorimg(t, root)
	env := append(cleanEnv(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))

	out, code := runPytest(t, python, root, env, "examples/pytest")
	if code != 0 {
		t.Fatalf("python3 -m pytest examples/pytest exited %d, want 0:\n%s", code, out)
	}
	summary := regexp.MustCompile(`(?m)^\d+ passed in `)
	if err := enginetest.CanRun(t, probeRef, "exit", "0"); err != nil {
		t.Logf("%s cannot run a container here (%v): the tests that run one must skip", enginetest.Describe(t), err)
		summary = regexp.MustCompile(`(?m)^SKIPPED \[\d+\] .*: engine .* cannot run a container here: .+$[\s\S]*^\d+ passed, \d+ skipped in `)
	}
	for _, want := range []*regexp.Regexp{
		summary,
		regexp.MustCompile(`(?m)^vendorimg load: docker \S+ \(\w+ image store\), platform linux/\w+$`),
		regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(probeRef) + `: (loaded|skipped|tagged) sha256:[0-9a-f]{12} `),
		regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(probeRef) + `: ok sha256:[0-9a-f]{12}$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("pytest output does not match %s:\n%s", want, out)
		}
	}
}

// otherImageEnv passes the test module retagTest the image to move the
// probe's tag to.
const otherImageEnv = "VENDORIMG_PYTEST_OTHER_IMAGE"

// retagTest is a test module added to a copy of the example: it re-tags the
// probe's tag onto another image (a commit of a container of the probe that
// the Go test made), as a careless test might. The other image still runs
// like the probe, so that the other tests of the session pass and only the
// fixture's check fails.
const retagTest = `import os
import subprocess

from test_probe import TEST_IMAGE


def test_retag_onto_the_vendored_tag():
    other = os.environ["` + otherImageEnv + `"]
    subprocess.run(["docker", "tag", other, TEST_IMAGE], check=True, capture_output=True, timeout=120)
`

// TestPytestSessionFailsWhenTagMoves runs a copy of the example with a test
// that moves the probe's tag, and expects the session to fail naming it.
// The copy finds vendorimg through VENDORIMG and the repository's
// vendorimg.yaml through VENDORIMG_CONFIG. The tag is restored with
// vendorimg load afterwards, and the other image removed.
func TestPytestSessionFailsWhenTagMoves(t *testing.T) {
	root, cfgPath := repository(t)
	python := pythonWithPytest(t)
	bin := buildVendorimg(t, root)
	other := otherImage(t)

	dir := t.TempDir()
	for _, name := range []string{"conftest.py", "test_probe.py"} {
		data, err := os.ReadFile(filepath.Join(root, "examples", "pytest", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "test_zz_retag.py"), []byte(retagTest), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restore(t, bin, cfgPath) })

	env := append(cleanEnv(), "VENDORIMG="+bin, "VENDORIMG_CONFIG="+cfgPath, otherImageEnv+"="+other)
	out, code := runPytest(t, python, dir, env, dir)
	if code != 1 {
		t.Fatalf("pytest with a test that re-tags %s exited %d, want 1:\n%s", probeRef, code, out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^_+ ERROR at teardown of test_retag_onto_the_vendored_tag _+$`),
		regexp.MustCompile(`(?m)the vendored images changed during the test session \(vendorimg verify --daemon, config ` +
			regexp.QuoteMeta(cfgPath) + `, exited 1\):$`),
		regexp.MustCompile(`(?m)^\s*daemon tag-moved: ` + regexp.QuoteMeta(probeRef) + `: points to image [0-9a-f]{12}, which is not the vendored image`),
		regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(probeRef) + `: CHANGED sha256:[0-9a-f]{12}$`),
		regexp.MustCompile(`(?m)^\d+ passed(, \d+ skipped)?, 1 error in `),
	} {
		if !want.MatchString(out) {
			t.Errorf("pytest output does not match %s:\n%s", want, out)
		}
	}
}

// otherImage makes an image that is not the vendored probe: a commit of a
// created (never started) container of it, through the API with a config as
// the commit's body, which podman's docker-compatible API requires (the
// docker command sends none: "Decode(): EOF"). It is removed when the test
// ends, if restore has not removed it already. It returns its ID.
func otherImage(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	c, err := daemon.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctr, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Image: probeRef, Config: &container.Config{Cmd: []string{"echo", "other"}}})
	if err != nil {
		t.Fatalf("creating a container of %s on %s: %v", probeRef, enginetest.Describe(t), err)
	}
	defer func() {
		if _, err := c.ContainerRemove(context.Background(), ctr.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("removing the test's container %s: %v", ctr.ID, err)
		}
	}()
	res, err := c.ContainerCommit(ctx, ctr.ID, client.ContainerCommitOptions{
		Comment: "changed by a test",
		Config:  &container.Config{Entrypoint: []string{"/probe"}, Cmd: []string{"echo", "other"}},
	})
	if err != nil {
		t.Fatalf("committing a container of %s on %s: %v", probeRef, enginetest.Describe(t), err)
	}
	// podman answers with the bare hexadecimal digest, which it would
	// take for a name once the image is gone.
	if !strings.Contains(res.ID, ":") {
		res.ID = "sha256:" + res.ID
	}
	t.Cleanup(func() {
		_, err := c.ImageRemove(context.Background(), res.ID, client.ImageRemoveOptions{})
		if err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("removing the test's image %s: %v", res.ID, err)
		}
	})
	ins, err := c.ImageInspect(ctx, res.ID)
	if err != nil {
		t.Fatalf("inspecting the committed image %s: %v", res.ID, err)
	}
	return ins.ID
}

// restore loads the vendored images again, which moves the probe's tag
// back, removes the image the tag pointed to meanwhile, and checks that
// docker holds the vendored images.
func restore(t *testing.T, bin, cfgPath string) {
	t.Helper()
	out, err := vendorimg(bin, "load", "--json", "--config", cfgPath)
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
	if out, err := vendorimg(bin, "verify", "--daemon", "--config", cfgPath); err != nil {
		t.Errorf("after restoring: vendorimg verify --daemon: %v\n%s", err, out)
	}
}

// vendorimg runs bin with args and returns its stdout; the error has its
// stderr.
func vendorimg(bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, err
}

// repository returns the repository's root and its vendorimg.yaml.
func repository(t *testing.T) (root, cfgPath string) {
	t.Helper()
	cfgPath, err := config.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(cfgPath), cfgPath
}

// pythonWithPytest finds a python3 that can import pytest: $PYTHON, else
// the python3 commands on PATH in order, then /usr/bin/python3 (a version
// manager's python3 may come first on PATH without Debian's pytest).
func pythonWithPytest(t *testing.T) string {
	t.Helper()
	var candidates []string
	if p := os.Getenv("PYTHON"); p != "" {
		candidates = []string{p}
	} else {
		for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
			if dir != "" {
				candidates = append(candidates, filepath.Join(dir, "python3"))
			}
		}
		candidates = append(candidates, "/usr/bin/python3")
	}
	var tried []string
	for _, p := range candidates {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || slices.Contains(tried, p) {
			continue
		}
		tried = append(tried, p)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := exec.CommandContext(ctx, p, "-c", "import pytest").Run()
		cancel()
		if err == nil {
			return p
		}
	}
	t.Fatalf("python3 -m pytest is not available (tried %s): install Debian's python3-pytest "+
		"(apt-get install python3-pytest; .ci/run does), or set PYTHON to a python3 that has pytest", strings.Join(tried, ", "))
	return ""
}

// buildVendorimg builds ./cmd/vendorimg into a temporary folder.
func buildVendorimg(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vendorimg")
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/vendorimg")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/vendorimg: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv is the environment without the example's settings (a developer
// may have them set), and with no bytecode written into the repository.
func cleanEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "VENDORIMG=") || strings.HasPrefix(kv, "VENDORIMG_CONFIG=") || strings.HasPrefix(kv, "PYTEST_ADDOPTS=")
	})
	return append(env, "PYTHONDONTWRITEBYTECODE=1")
}

// runPytest runs python -m pytest on target from dir, without pytest's
// cache folder, and returns its output and exit code.
func runPytest(t *testing.T, python, dir string, env []string, target string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	// -rs: the reason of each skip, which names the engine.
	cmd := exec.CommandContext(ctx, python, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", target)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s -m pytest %s: %v\n%s", python, target, err, out)
	}
	return string(out), 0
}

package pytest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/testbin"
	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// logEnv names the file where the vendorimg script logs each call, one
// line of arguments per call ("load --json -C /src/examples/pytest").
const logEnv = "VENDORIMG_TEST_LOG"

// runTimeout bounds a pytest session, a vendorimg command or a step of the
// setup; a normal one takes seconds.
const runTimeout = 5 * time.Minute

// env is what every test of this binary reuses, set up once by TestMain
// before it takes the engine lock, and removed after the tests.
var env struct {
	// root is the repository's root, cfg its vendorimg.yaml.
	root, cfg string
	// dir holds the rest; TestMain removes it.
	dir string
	// bin is a folder holding "vendorimg": a script that runs the vendorimg
	// built from the checkout, logging each call to $VENDORIMG_TEST_LOG.
	bin string
	// python is the virtual environment's python, with pytest-vendorimg
	// installed from the checkout.
	python string
	// err is why the setup failed; every test fails with it.
	err error
}

func TestMain(m *testing.M) {
	env.err = setup()
	// TestWithEngine moves the probe's tag and removes it on purpose, and
	// restores it: no other suite may use the engine meanwhile.
	code := vendorimgtest.Main(m, vendorimgtest.Options{Lock: vendorimgtest.LockExclusive})
	if env.dir != "" {
		os.RemoveAll(env.dir)
	}
	os.Exit(code)
}

// setup fills env: vendorimg built from the checkout, and a virtual
// environment made with Debian's python3 (or $PYTHON) that sees its pytest
// and pytest-xdist (--system-site-packages) and has pytest-vendorimg
// installed from the checkout with no network.
func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	var err error
	if env.cfg, err = config.Find("."); err != nil {
		return err
	}
	env.root = filepath.Dir(env.cfg)
	if env.dir, err = os.MkdirTemp("", "vendorimg-pytest-test-"); err != nil {
		return err
	}
	env.bin = filepath.Join(env.dir, "bin")
	// The build (vendorimg and vendorimg-sigverify into env.dir) and the
	// virtual environment take seconds each: at once.
	exe := filepath.Join(env.dir, "vendorimg")
	built := make(chan error, 1)
	go func() {
		if err := testbin.Build(ctx, env.dir); err != nil {
			built <- err
		}
		close(built)
	}()
	if err := setupPython(ctx); err != nil {
		return err
	}
	if err := <-built; err != nil {
		return err
	}
	script := "#!/bin/sh\n" +
		`if [ -n "$` + logEnv + `" ]; then printf '%s\n' "$*" >> "$` + logEnv + `"; fi` + "\n" +
		"exec " + shellQuote(exe) + ` "$@"` + "\n"
	if err := os.MkdirAll(env.bin, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(env.bin, "vendorimg"), []byte(script), 0o755)
}

// setupPython makes the virtual environment and installs pytest-vendorimg.
func setupPython(ctx context.Context) error {
	base := os.Getenv("PYTHON")
	if base == "" {
		// Not python3 from PATH: a version manager's may come first, without
		// Debian's pytest.
		base = "/usr/bin/python3"
	}
	const findModules = `import importlib.util, sys
missing = [m for m in sys.argv[1:] if importlib.util.find_spec(m) is None]
print(" ".join(missing))
sys.exit(1 if missing else 0)`
	if out, err := exec.CommandContext(ctx, base, "-c", findModules, "pytest", "xdist", "pip", "setuptools", "wheel", "venv").CombinedOutput(); err != nil {
		return fmt.Errorf("%s lacks the modules %s (%v): install Debian's python3-pytest python3-pytest-xdist python3-pip "+
			"python3-setuptools python3-wheel python3-venv (.ci/run does), or set PYTHON to a python3 that has them", base, bytes.TrimSpace(out), err)
	}
	venv := filepath.Join(env.dir, "venv")
	// --without-pip: ensurepip takes seconds; the venv runs Debian's pip
	// from the system site-packages.
	if out, err := exec.CommandContext(ctx, base, "-m", "venv", "--system-site-packages", "--without-pip", venv).CombinedOutput(); err != nil {
		return fmt.Errorf("%s -m venv: %v\n%s", base, err, out)
	}
	env.python = filepath.Join(venv, "bin", "python")
	// pip builds in the source folder (build/, *.egg-info): install from a
	// copy, so that the checkout stays as it is.
	src := filepath.Join(env.dir, "pytest-vendorimg")
	if err := copyTree(filepath.Join(env.root, "python", "pytest-vendorimg"), src); err != nil {
		return err
	}
	install := exec.CommandContext(ctx, env.python, "-m", "pip", "install", "--quiet", "--no-index", "--no-build-isolation", "--disable-pip-version-check", src)
	install.Env = pythonEnv()
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("pip install --no-index --no-build-isolation ./python/pytest-vendorimg: %v\n%s", err, out)
	}
	return nil
}

// needSetup fails the test if the setup failed.
func needSetup(t *testing.T) {
	t.Helper()
	if env.err != nil {
		t.Fatalf("setting up vendorimg, python and pytest-vendorimg: %v", env.err)
	}
}

// pythonEnv is the environment for python, pip and pytest: without the
// settings a developer may have that change what pytest or the plugin do,
// with vendorimg on PATH, and with no bytecode written into the checkout.
func pythonEnv(extra ...string) []string {
	drop := []string{"VENDORIMG=", "VENDORIMG_REQUIRE_DOCKER=", "PYTEST_ADDOPTS=", "PYTEST_PLUGINS=", "PYTHONPATH=", "PIP_", logEnv + "="}
	out := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return slices.ContainsFunc(drop, func(p string) bool { return strings.HasPrefix(kv, p) }) || strings.HasPrefix(kv, "PATH=")
	})
	out = append(out, "PATH="+env.bin+string(os.PathListSeparator)+os.Getenv("PATH"), "PYTHONDONTWRITEBYTECODE=1")
	return append(out, extra...)
}

// session is one pytest run's result.
type session struct {
	out  string
	code int
	// calls are the vendorimg commands it ran, one line of arguments each.
	calls []string
}

// runPytest runs python -m pytest with args in dir, without pytest's cache
// folder and with a temporary folder of its own, which must be empty
// afterwards but for pytest's own (the plugin removes its shared folder).
func runPytest(t *testing.T, dir string, extraEnv []string, args ...string) session {
	t.Helper()
	tmp, log := t.TempDir(), filepath.Join(t.TempDir(), "calls")
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.python, append([]string{"-m", "pytest", "-p", "no:cacheprovider"}, args...)...)
	cmd.Dir = dir
	cmd.Env = pythonEnv(append([]string{"TMPDIR=" + tmp, logEnv + "=" + log}, extraEnv...)...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	s := session{out: buf.String()}
	if testing.Verbose() {
		t.Logf("python -m pytest %s in %s:\n%s", strings.Join(args, " "), dir, s.out)
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		s.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running python -m pytest %s: %v\n%s", strings.Join(args, " "), err, s.out)
	}
	if data, err := os.ReadFile(log); err == nil {
		s.calls = strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "pytest-vendorimg-*"))
	if len(left) > 0 {
		t.Errorf("pytest %s left %v behind in its temporary folder", strings.Join(args, " "), left)
	}
	return s
}

// count is how many of calls run the vendorimg command name.
func count(calls []string, name string) int {
	n := 0
	for _, c := range calls {
		if c == name || strings.HasPrefix(c, name+" ") {
			n++
		}
	}
	return n
}

// copyTree copies the files of src into dst, leaving out what a build or
// a run leaves in a source folder.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch name := d.Name(); {
		case d.IsDir() && (name == "build" || name == "__pycache__" || name == ".pytest_cache" || strings.HasSuffix(name, ".egg-info")):
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

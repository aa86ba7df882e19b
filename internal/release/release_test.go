package release_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"debug/macho"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vendorimg/vendorimg/internal/release"
	"github.com/vendorimg/vendorimg/vendorimgtest"
	"go.yaml.in/yaml/v3"
)

// releaseTestEnv gates the tests that build a whole release: they
// cross-compile vendorimg for four platforms twice (under a minute with a
// warm build cache, several minutes cold). .ci/run sets it.
const releaseTestEnv = "VENDORIMG_RELEASE_TEST"

// testVersion is the version the tests release: a pre-release, so that the
// binary's spelling (v1.2.3-rc.1) and the wheels' (1.2.3rc1) differ.
const testVersion = "1.2.3-rc.1"

var testV, _ = release.ParseVersion(testVersion)

// root is the repository's root.
var root, _ = filepath.Abs(filepath.Join("..", ".."))

// built is the release the tests share, made once by scripts/release.
var built struct {
	once     sync.Once
	dir, tmp string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.tmp != "" {
		os.RemoveAll(built.tmp)
	}
	os.Exit(code)
}

// needRelease skips t unless releaseTestEnv is set.
func needRelease(t *testing.T) {
	t.Helper()
	if os.Getenv(releaseTestEnv) != "1" {
		t.Skipf("set %s=1 to build a release (four platforms, twice: under a minute with a warm build cache); .ci/run sets it", releaseTestEnv)
	}
}

// releaseDir is the shared release's folder.
func releaseDir(t *testing.T) string {
	t.Helper()
	needRelease(t)
	built.once.Do(func() {
		if built.tmp, built.err = os.MkdirTemp("", "vendorimg-release-test-"); built.err != nil {
			return
		}
		built.dir = filepath.Join(built.tmp, "dist")
		built.err = runRelease(t, built.dir)
	})
	if built.err != nil {
		t.Fatalf("scripts/release %s: %v", testVersion, built.err)
	}
	return built.dir
}

// runRelease runs scripts/release testVersion dir.
func runRelease(t *testing.T, dir string) error {
	ctx, cancel := testContext(t)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "release"), testVersion, dir)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if _, err := os.Stat(filepath.Join(root, "LICENSE")); err != nil {
		// The repository has no licence yet: a build not to be published.
		cmd.Env = append(cmd.Env, "RELEASE_WITHOUT_LICENSE=1")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}

// testContext is bounded by the test's deadline.
func testContext(t *testing.T) (context.Context, context.CancelFunc) {
	if d, ok := t.Deadline(); ok {
		return context.WithDeadline(context.Background(), d)
	}
	return context.WithCancel(context.Background())
}

// archiveName and wheel names of each platform.
func archiveName(p release.Platform) string {
	return fmt.Sprintf("vendorimg_%s_%s_%s.tar.gz", testV.Plain, p.OS, p.Arch)
}

// wheelFor is the vendorimg wheel of p in dir.
func wheelFor(t *testing.T, dir string, p release.Platform) string {
	t.Helper()
	arch := map[string]string{"linux/amd64": "x86_64", "linux/arm64": "aarch64", "darwin/amd64": "x86_64", "darwin/arm64": "arm64"}[p.String()]
	pattern := fmt.Sprintf("vendorimg-%s-py3-none-*%s.whl", testV.Python, arch)
	if p.OS == "darwin" {
		pattern = fmt.Sprintf("vendorimg-%s-py3-none-macosx_*_%s.whl", testV.Python, arch)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, pattern))
	if p.OS == "linux" {
		matches = slices.DeleteFunc(matches, func(m string) bool { return strings.Contains(m, "macosx") })
	}
	if len(matches) != 1 {
		t.Fatalf("wheels of %s in %s (%s): %q, want one", p, dir, pattern, matches)
	}
	return matches[0]
}

// TestReleaseIsReproducible: two runs give identical files, and
// SHA256SUMS names every file in the folder with its right hash.
func TestReleaseIsReproducible(t *testing.T) {
	first := releaseDir(t)
	second := filepath.Join(t.TempDir(), "dist")
	if err := runRelease(t, second); err != nil {
		t.Fatalf("scripts/release %s (again): %v", testVersion, err)
	}
	a, b := listDir(t, first), listDir(t, second)
	if !slices.Equal(a, b) {
		t.Fatalf("the two runs wrote %q and %q, want the same files", a, b)
	}
	for _, name := range a {
		x, _ := os.ReadFile(filepath.Join(first, name))
		y, _ := os.ReadFile(filepath.Join(second, name))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs", name)
		}
	}
	sums, _ := os.ReadFile(filepath.Join(first, release.ChecksumsFile))
	t.Logf("SHA256SUMS of both runs:\n%s", sums)
	want := []string{release.ChecksumsFile, fmt.Sprintf("pytest_vendorimg-%s-py3-none-any.whl", testV.Python)}
	for _, p := range release.Platforms {
		want = append(want, archiveName(p), filepath.Base(wheelFor(t, first, p)))
	}
	slices.Sort(want)
	if !slices.Equal(a, want) {
		t.Errorf("release files = %q, want %q", a, want)
	}
	cmd := exec.Command("sha256sum", "--check", "--strict", release.ChecksumsFile)
	cmd.Dir = first
	if out, err := cmd.CombinedOutput(); err != nil || strings.Count(string(out), ": OK\n") != len(a)-1 {
		t.Errorf("sha256sum --check SHA256SUMS = %v\n%s, want every other file OK", err, out)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// untar returns the files of a .tar.gz by name, with their modes.
func untar(t *testing.T, path string) map[string]*tarFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(gz)
	files := map[string]*tarFile{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", path, h.Name, err)
		}
		files[h.Name] = &tarFile{mode: h.Mode, data: data}
	}
}

type tarFile struct {
	mode int64
	data []byte
}

// TestReleaseBinaries: each archive holds its platform's binaries,
// vendorimg and vendorimg-sigverify side by side (as file and go version -m
// see them), the README and the licence when there is one; the wheel of
// each platform carries the same binaries' bytes in one folder, with their
// execute bit and its platform's tags, at the same version.
func TestReleaseBinaries(t *testing.T) {
	dir := releaseDir(t)
	readme, _ := os.ReadFile(filepath.Join(root, "README.md"))
	licence, licenceErr := os.ReadFile(filepath.Join(root, "LICENSE"))
	fileWant := map[string]*regexp.Regexp{
		"linux/amd64":  regexp.MustCompile(`ELF 64-bit LSB executable, x86-64, .*statically linked`),
		"linux/arm64":  regexp.MustCompile(`ELF 64-bit LSB executable, ARM aarch64, .*statically linked`),
		"darwin/amd64": regexp.MustCompile(`Mach-O 64-bit x86_64 executable`),
		"darwin/arm64": regexp.MustCompile(`Mach-O 64-bit arm64 executable`),
	}
	for _, p := range release.Platforms {
		t.Run(p.OS+"_"+p.Arch, func(t *testing.T) {
			folder := fmt.Sprintf("vendorimg_%s_%s_%s", testV.Plain, p.OS, p.Arch)
			files := untar(t, filepath.Join(dir, archiveName(p)))
			if r := files[folder+"/README.md"]; r == nil || !bytes.Equal(r.data, readme) {
				t.Errorf("%s: README.md is not the repository's", archiveName(p))
			}
			if l := files[folder+"/LICENSE"]; (licenceErr == nil) != (l != nil) || l != nil && !bytes.Equal(l.data, licence) {
				t.Errorf("%s: LICENSE present %t, the repository's %t (%v)", archiveName(p), l != nil, licenceErr == nil, licenceErr)
			}
			binaries := map[string][]byte{}
			// vendorimg, and beside it the program it runs for verify:
			// policies, of the same version.
			for _, name := range []string{"vendorimg", release.Sigverify} {
				bin := files[folder+"/"+name]
				if bin == nil || bin.mode != 0o755 {
					t.Fatalf("%s: %s/%s = %+v, want the binary, mode 0755", archiveName(p), folder, name, bin)
				}
				binaries[name] = bin.data
				checkBinary(t, p, folder+"/"+name, bin.data, fileWant[p.String()])
			}
			whl := wheelFor(t, dir, p)
			checkWheel(t, whl, p, binaries)
		})
	}
}

// checkBinary checks one binary of p's archive, named name there, as file
// and go version -m see it.
func checkBinary(t *testing.T, p release.Platform, name string, data []byte, fileWant *regexp.Regexp) {
	t.Helper()
	path := filepath.Join(t.TempDir(), filepath.Base(name))
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("file", "-b", path).Output()
	if err != nil || !fileWant.Match(out) {
		t.Errorf("file %s = %q, %v, want /%s/", name, out, err, fileWant)
	}
	// GOFLAGS cleared: .ci/run's GOFLAGS=-json makes go version -m
	// print JSON.
	gv := exec.Command("go", "version", "-m", path)
	gv.Env = append(os.Environ(), "GOFLAGS=")
	out, err = gv.Output()
	mod := string(out)
	for _, want := range []string{"\tpath\tgithub.com/vendorimg/vendorimg/cmd/" + filepath.Base(name) + "\n", "\tbuild\tGOOS=" + p.OS + "\n",
		"\tbuild\tGOARCH=" + p.Arch + "\n", "\tbuild\tCGO_ENABLED=0\n", "\tbuild\t-trimpath=true\n"} {
		if err != nil || !strings.Contains(mod, want) {
			t.Errorf("go version -m %s lacks %q (%v):\n%s", name, want, err, mod)
		}
	}
	// -trimpath leaves -ldflags out of the build information: the
	// version the linker set is in the binary's data.
	if !bytes.Contains(data, []byte(testV.Go)) {
		t.Errorf("%s does not hold its version %s", name, testV.Go)
	}
	if strings.Contains(mod, "vcs.") {
		t.Errorf("go version -m %s has VCS stamps, which vary with the checkout:\n%s", name, mod)
	}

	if p.OS == "darwin" && p.Arch == "arm64" && !hasCodeSignature(t, data) {
		// macOS on arm64 kills a binary with no signature; Go's
		// linker signs ad hoc (there, not for amd64, which needs none).
		t.Errorf("%s has no LC_CODE_SIGNATURE load command", name)
	}
}

// hasCodeSignature reports whether a Mach-O binary has a code signature.
func hasCodeSignature(t *testing.T, b []byte) bool {
	f, err := macho.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("reading a Mach-O binary: %v", err)
	}
	defer f.Close()
	const lcCodeSignature = 0x1d
	for _, l := range f.Loads {
		if raw := l.Raw(); len(raw) >= 4 && f.ByteOrder.Uint32(raw) == lcCodeSignature {
			return true
		}
	}
	return false
}

// checkWheel checks a vendorimg wheel with unzip, as a user would look at
// it, and by reading it: it carries binaries (by name) as scripts, which
// pip and uv install into one folder.
func checkWheel(t *testing.T, whl string, p release.Platform, binaries map[string][]byte) {
	t.Helper()
	stem := "vendorimg-" + testV.Python
	scripts := map[string][]byte{}
	for name, data := range binaries {
		scripts[stem+".data/scripts/"+name] = data
	}
	out, err := exec.Command("unzip", "-Z", whl).Output() // zipinfo: modes, like ls -l
	for script := range scripts {
		if err != nil || !regexp.MustCompile(`(?m)^-rwxr-xr-x .* `+regexp.QuoteMeta(script)+`$`).Match(out) {
			t.Errorf("unzip -Z %s = %v\n%s\nwant %s with mode -rwxr-xr-x", filepath.Base(whl), err, out, script)
		}
	}
	wheel, err := exec.Command("unzip", "-p", whl, stem+".dist-info/WHEEL").Output()
	if err != nil {
		t.Fatalf("unzip -p %s WHEEL: %v", whl, err)
	}
	t.Logf("%s WHEEL:\n%s", filepath.Base(whl), wheel)
	var tags []string
	for _, l := range strings.Split(string(wheel), "\n") {
		if tag, ok := strings.CutPrefix(l, "Tag: "); ok {
			tags = append(tags, tag)
		}
	}
	// The file name's tags are the WHEEL file's, compressed (PEP 425).
	name := strings.TrimSuffix(filepath.Base(whl), ".whl")
	plats := strings.Split(strings.TrimPrefix(name, stem+"-py3-none-"), ".")
	var fromName []string
	for _, pl := range plats {
		fromName = append(fromName, "py3-none-"+pl)
	}
	if !slices.Equal(tags, fromName) {
		t.Errorf("WHEEL tags %q, file name's %q, want the same", tags, fromName)
	}
	var want *regexp.Regexp
	switch p.String() {
	case "linux/amd64":
		want = regexp.MustCompile(`^py3-none-(manylinux_2_17_x86_64|manylinux2014_x86_64|musllinux_1_1_x86_64)$`)
	case "linux/arm64":
		want = regexp.MustCompile(`^py3-none-(manylinux_2_17_aarch64|manylinux2014_aarch64|musllinux_1_1_aarch64)$`)
	case "darwin/amd64":
		want = regexp.MustCompile(`^py3-none-macosx_1[1-9]_0_x86_64$`)
	case "darwin/arm64":
		want = regexp.MustCompile(`^py3-none-macosx_1[1-9]_0_arm64$`)
	}
	hasManylinux, hasMusl := false, false
	for _, tag := range tags {
		if !want.MatchString(tag) {
			t.Errorf("%s: tag %s, want /%s/", filepath.Base(whl), tag, want)
		}
		hasManylinux = hasManylinux || strings.Contains(tag, "manylinux")
		hasMusl = hasMusl || strings.Contains(tag, "musllinux")
	}
	if p.OS == "linux" && (!hasManylinux || !hasMusl) || len(tags) == 0 {
		t.Errorf("%s: tags %q, want manylinux and musllinux ones", filepath.Base(whl), tags)
	}

	zr, err := zip.OpenReader(whl)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		want, isScript := scripts[f.Name]
		if !isScript && f.Name != stem+".dist-info/METADATA" {
			continue
		}
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		switch {
		case isScript && !bytes.Equal(data, want):
			t.Errorf("%s: %s is not the archive's binary", filepath.Base(whl), f.Name)
		case !isScript && !bytes.Contains(data, []byte("\nVersion: "+testV.Python+"\n")):
			t.Errorf("%s: METADATA has no Version: %s:\n%s", filepath.Base(whl), testV.Python, data)
		}
	}
}

// noGoPath is a PATH of the directories of this one that hold no go
// command, with first in front.
func noGoPath(first string) string {
	dirs := []string{first}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "go")); d != "" && err != nil {
			dirs = append(dirs, d)
		}
	}
	return strings.Join(dirs, string(os.PathListSeparator))
}

// cleanEnv is the environment for the commands of a user without Go: the
// engine's address and a home, a PATH without go, nothing of the
// developer's vendorimg, pytest or pip settings.
func cleanEnv(t *testing.T, path string, extra ...string) []string {
	env := []string{"PATH=" + path, "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir(), "PYTHONDONTWRITEBYTECODE=1", "PIP_DISABLE_PIP_VERSION_CHECK=1"}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		env = append(env, "DOCKER_HOST="+h)
	}
	return append(env, extra...)
}

// run runs name args with env in dir, and fails the test if it fails.
func run(t *testing.T, env []string, dir, name string, args ...string) string {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir = env, dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestArchiveRunsTheREADMEsMainJob: the linux/amd64 binary from its
// archive, with no Go on PATH, loads the repository's vendored image into
// the engine, proves it intact (verify --deep --daemon) and unloads it,
// the README's "On a fresh machine" job; and prints its version and the
// commit.
func TestArchiveRunsTheREADMEsMainJob(t *testing.T) {
	dir := releaseDir(t)
	p := release.Platform{OS: "linux", Arch: "amd64"}
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, nil, bin, "tar", "-xzf", filepath.Join(dir, archiveName(p)), "--strip-components=1")
	env := cleanEnv(t, noGoPath(bin))
	if out, err := commandIn(env, "sh", "-c", "command -v go"); err == nil {
		t.Fatalf("command -v go = %q with PATH=%s, want it to fail", out, env[0])
	}

	var doc struct{ Version, Commit string }
	if err := json.Unmarshal([]byte(run(t, env, root, filepath.Join(bin, "vendorimg"), "version", "--json")), &doc); err != nil {
		t.Fatal(err)
	}
	commit, _, err := release.GitState(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Version != testV.Go || doc.Commit != commit {
		t.Errorf("vendorimg version --json = %+v, want version %s, commit %s", doc, testV.Go, commit)
	}

	// vendorimg-sigverify is beside it, of its version.
	checkSigverify(t, env, filepath.Join(bin, "vendorimg"))

	// unload removes the vendored image's tag: no suite may use it meanwhile.
	vendorimgtest.LockEngine(t, vendorimgtest.LockExclusive)
	env = append(env, "VENDORIMG_REQUIRE_DOCKER=1")
	out := run(t, env, root, "sh", "-c", "vendorimg load && vendorimg verify --deep --daemon && vendorimg unload")
	t.Logf("vendorimg load && vendorimg verify --deep --daemon && vendorimg unload:\n%s", out)
}

// TestWheelInAVenvWithoutGo: the wheels installed with pip into a fresh
// virtual environment of Debian's python3 (seeing its pytest), from the
// release folder with no index and no Go on PATH, give the environment a
// working vendorimg, and the example pytest suite passes against the
// engine, its summary naming the environment's vendorimg.
func TestWheelInAVenvWithoutGo(t *testing.T) {
	dir := releaseDir(t)
	python := debianPython(t)
	venv := filepath.Join(t.TempDir(), "venv")
	// --without-pip: the environment runs Debian's pip from the system
	// site-packages, as it sees Debian's pytest.
	run(t, nil, "", python, "-m", "venv", "--system-site-packages", "--without-pip", venv)
	vbin := filepath.Join(venv, "bin")
	env := cleanEnv(t, noGoPath(vbin))
	if out, err := commandIn(env, "sh", "-c", "command -v go"); err == nil {
		t.Fatalf("command -v go = %q in the environment, want it to fail", out)
	}
	out := run(t, env, "", filepath.Join(vbin, "python"), "-m", "pip", "install", "--no-index", "--find-links", dir, "pytest-vendorimg")
	t.Logf("pip install --no-index --find-links DIR pytest-vendorimg:\n%s", out)
	if want := fmt.Sprintf("Successfully installed pytest-vendorimg-%s vendorimg-%s", testV.Python, testV.Python); !strings.Contains(out, want) {
		t.Errorf("pip install said %q, want %q", out, want)
	}
	if got := strings.TrimSpace(run(t, env, "", "sh", "-c", "command -v vendorimg")); got != filepath.Join(vbin, "vendorimg") {
		t.Errorf("command -v vendorimg = %s, want the environment's %s", got, filepath.Join(vbin, "vendorimg"))
	}
	if got := run(t, env, "", "sh", "-c", "vendorimg version"); !strings.HasPrefix(got, "vendorimg "+testV.Go+" ") {
		t.Errorf("vendorimg version = %q, want vendorimg %s", got, testV.Go)
	}
	if got := strings.TrimSpace(run(t, env, "", "sh", "-c", "command -v "+release.Sigverify)); got != filepath.Join(vbin, release.Sigverify) {
		t.Errorf("command -v %s = %s, want the environment's %s, beside vendorimg", release.Sigverify, got, filepath.Join(vbin, release.Sigverify))
	}

	vendorimgtest.LockEngine(t, vendorimgtest.LockShared)
	env = append(env, "VENDORIMG_REQUIRE_DOCKER=1")
	ctx, cancel := testContext(t)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(vbin, "python"), "-m", "pytest", "-p", "no:cacheprovider", "examples/pytest")
	cmd.Env, cmd.Dir = env, root
	res, err := cmd.CombinedOutput()
	t.Logf("python -m pytest examples/pytest:\n%s", res)
	if err != nil {
		t.Fatalf("python -m pytest examples/pytest: %v", err)
	}
	line := fmt.Sprintf("vendorimg: %s (this environment's, from the vendorimg %s wheel)", filepath.Join(vbin, "vendorimg"), testV.Python)
	if !strings.Contains(string(res), "\n"+line+"\n") {
		t.Errorf("the summary does not name the environment's vendorimg: want the line %q", line)
	}
}

// TestWheelAloneForTheCLI: the vendorimg wheel alone, as pipx installs a
// command line tool (a virtual environment of its own, its own pip): the
// command runs, finds vendorimg-sigverify beside it, and the plugin is not
// there.
func TestWheelAloneForTheCLI(t *testing.T) {
	dir := releaseDir(t)
	python := debianPython(t)
	venv := filepath.Join(t.TempDir(), "pipx-venv")
	run(t, nil, "", python, "-m", "venv", venv) // with its own pip, as pipx makes them
	vbin := filepath.Join(venv, "bin")
	env := cleanEnv(t, noGoPath(vbin))
	run(t, env, "", filepath.Join(vbin, "python"), "-m", "pip", "install", "--no-index", "--find-links", dir, "vendorimg")
	var doc struct{ Version string }
	if err := json.Unmarshal([]byte(run(t, env, "", filepath.Join(vbin, "vendorimg"), "version", "--json")), &doc); err != nil || doc.Version != testV.Go {
		t.Errorf("vendorimg version --json = %+v, %v, want version %s", doc, err, testV.Go)
	}
	if out, err := commandIn(env, filepath.Join(vbin, "python"), "-c", "import pytest_vendorimg"); err == nil {
		t.Errorf("import pytest_vendorimg worked (%s), want only the vendorimg distribution installed", out)
	}
	checkSigverify(t, env, filepath.Join(vbin, "vendorimg"))
}

// checkSigverify runs exe verify --json with env on a project whose image
// has a verify: policy (its key missing): the vendorimg-sigverify of the
// same release must be found beside exe, run, and answer with the
// policy's finding, rather than the kind no-sigverify.
func checkSigverify(t *testing.T, env []string, exe string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"vendorimg.yaml":    "layout: images\nverify: {key: cosign.pub}\nimages:\n  - ref: registry.vendorimg.test/signed:1\n    digest: sha256:e351f403b6dfee83d32166c7d66efb05595650fccb420c74041a4e77f41dd0cd\n    platforms: [linux/amd64]\n",
		"images/oci-layout": `{"imageLayoutVersion":"1.0.0"}`,
		"images/index.json": `{"schemaVersion":2,"manifests":[]}`,
	}
	for name, data := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := commandOut(env, exe, "-C", dir, "--json", "verify")
	var doc struct {
		Kind, Error string
		Layout      struct {
			Findings []struct{ Kind, Message string }
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%s verify --json: %v\n%s", exe, err, out)
	}
	signature := slices.ContainsFunc(doc.Layout.Findings, func(f struct{ Kind, Message string }) bool {
		return f.Kind == "signature" && strings.Contains(f.Message, "cannot load the verify: policy")
	})
	if doc.Kind != "verify-failed" || !signature {
		t.Errorf("%s verify --json with a verify: policy = kind %q (%s), findings %+v; want verify-failed with the policy's finding from vendorimg-sigverify", exe, doc.Kind, doc.Error, doc.Layout.Findings)
	}
}

// commandOut is name's stdout alone.
func commandOut(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	out, err := cmd.Output()
	return string(out), err
}

func commandIn(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// debianPython is Debian's python3 (or $PYTHON), which has pytest.
func debianPython(t *testing.T) string {
	t.Helper()
	python := os.Getenv("PYTHON")
	if python == "" {
		python = "/usr/bin/python3"
	}
	if out, err := exec.Command(python, "-c", "import pytest, venv, pip").CombinedOutput(); err != nil {
		t.Fatalf("%s lacks pytest, venv or pip (%v: %s): install Debian's python3-pytest python3-venv python3-pip (.ci/run does), or set PYTHON", python, err, out)
	}
	return python
}

// server serves dir on 127.0.0.1 and records the paths asked for.
type server struct {
	*httptest.Server
	mu    sync.Mutex
	asked []string
}

func serve(t *testing.T, dir string) *server {
	s := &server{}
	files := http.FileServer(http.Dir(dir))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.asked = append(s.asked, r.URL.Path)
		s.mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

// fakeUname is a folder with a uname that answers as machine (its -s and
// -m), to put first on PATH.
func fakeUname(t *testing.T, kernel, machine string) string {
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in -s) echo %s ;; -m) echo %s ;; *) exit 1 ;; esac\n", kernel, machine)
	if err := os.WriteFile(filepath.Join(dir, "uname"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// install runs scripts/install against url into bindir.
func install(t *testing.T, url, bindir string, pathFirst string) (string, error) {
	ctx, cancel := testContext(t)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "install"), testVersion, bindir)
	path := os.Getenv("PATH")
	if pathFirst != "" {
		path = pathFirst + string(os.PathListSeparator) + path
	}
	cmd.Env = append(cleanEnv(t, path), "VENDORIMG_RELEASE_URL="+url)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestInstallScript: the action's install logic against a release folder
// served on 127.0.0.1.
func TestInstallScript(t *testing.T) {
	dir := releaseDir(t)

	t.Run("installs", func(t *testing.T) {
		srv := serve(t, dir)
		bindir := filepath.Join(t.TempDir(), "bin")
		out, err := install(t, srv.URL, bindir, "")
		if err != nil {
			t.Fatalf("scripts/install %s: %v\n%s", testVersion, err, out)
		}
		got, err := exec.Command(filepath.Join(bindir, "vendorimg"), "version").Output()
		if err != nil || !strings.HasPrefix(string(got), "vendorimg "+testV.Go+" ") {
			t.Errorf("installed vendorimg version = %q, %v, want vendorimg %s", got, err, testV.Go)
		}
		checkSigverify(t, cleanEnv(t, "/usr/bin:/bin"), filepath.Join(bindir, "vendorimg"))
		want := []string{"/SHA256SUMS", "/" + archiveName(release.Platform{OS: "linux", Arch: "amd64"})}
		if asked := srv.paths(); !slices.Equal(asked, want) {
			t.Errorf("scripts/install asked for %q, want %q", asked, want)
		}
	})

	t.Run("picks the machine's archive", func(t *testing.T) {
		for _, tc := range []struct{ kernel, machine, want, file string }{
			{"Linux", "aarch64", "linux_arm64", "ARM aarch64"},
			{"Linux", "x86_64", "linux_amd64", "x86-64"},
			{"Darwin", "arm64", "darwin_arm64", "Mach-O 64-bit arm64"},
			{"Darwin", "x86_64", "darwin_amd64", "Mach-O 64-bit x86_64"},
		} {
			t.Run(tc.kernel+"_"+tc.machine, func(t *testing.T) {
				srv := serve(t, dir)
				bindir := filepath.Join(t.TempDir(), "bin")
				out, err := install(t, srv.URL, bindir, fakeUname(t, tc.kernel, tc.machine))
				if err != nil {
					t.Fatalf("scripts/install as %s %s: %v\n%s", tc.kernel, tc.machine, err, out)
				}
				archive := fmt.Sprintf("/vendorimg_%s_%s.tar.gz", testV.Plain, tc.want)
				if asked := srv.paths(); !slices.Contains(asked, archive) || len(asked) != 2 {
					t.Errorf("scripts/install as %s %s asked for %q, want SHA256SUMS and %s", tc.kernel, tc.machine, asked, archive)
				}
				if got, err := exec.Command("file", "-b", filepath.Join(bindir, "vendorimg")).Output(); err != nil || !strings.Contains(string(got), tc.file) {
					t.Errorf("file of the installed vendorimg = %q, %v, want %s", got, err, tc.file)
				}
			})
		}
	})

	t.Run("refuses other machines", func(t *testing.T) {
		for _, tc := range []struct{ kernel, machine, want string }{
			{"MINGW64_NT-10.0", "x86_64", "no vendorimg release for MINGW64_NT-10.0"},
			{"Linux", "riscv64", "no vendorimg release for linux on riscv64"},
		} {
			srv := serve(t, dir)
			bindir := filepath.Join(t.TempDir(), "bin")
			out, err := install(t, srv.URL, bindir, fakeUname(t, tc.kernel, tc.machine))
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("scripts/install as %s %s = %v %q, want an error with %q", tc.kernel, tc.machine, err, out, tc.want)
			}
			if asked := srv.paths(); len(asked) != 0 {
				t.Errorf("scripts/install as %s %s asked for %q, want nothing", tc.kernel, tc.machine, asked)
			}
		}
	})

	t.Run("refuses a wrong checksum", func(t *testing.T) {
		// The release folder with one byte of the linux/amd64 archive changed.
		bad := t.TempDir()
		for _, name := range listDir(t, dir) {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if name == archiveName(release.Platform{OS: "linux", Arch: "amd64"}) {
				data[len(data)/2] ^= 0x40
			}
			if err := os.WriteFile(filepath.Join(bad, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		srv := serve(t, bad)
		bindir := filepath.Join(t.TempDir(), "bin")
		out, err := install(t, srv.URL, bindir, fakeUname(t, "Linux", "x86_64"))
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "but SHA256SUMS says") || !strings.Contains(out, "not installed") {
			t.Errorf("scripts/install of a changed archive = %v %q, want exit 1 naming the checksum mismatch", err, out)
		}
		if _, err := os.Lstat(bindir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("scripts/install of a changed archive left %s (%v), want nothing installed", bindir, err)
		}
	})

	t.Run("refuses an archive SHA256SUMS does not list", func(t *testing.T) {
		bad := t.TempDir()
		for _, name := range listDir(t, dir) {
			data, _ := os.ReadFile(filepath.Join(dir, name))
			if name == release.ChecksumsFile {
				var kept []string
				for _, l := range strings.SplitAfter(string(data), "\n") {
					if !strings.Contains(l, "linux_amd64") {
						kept = append(kept, l)
					}
				}
				data = []byte(strings.Join(kept, ""))
			}
			if err := os.WriteFile(filepath.Join(bad, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		srv := serve(t, bad)
		bindir := filepath.Join(t.TempDir(), "bin")
		out, err := install(t, srv.URL, bindir, fakeUname(t, "Linux", "x86_64"))
		if err == nil || !strings.Contains(out, "has no entry for") {
			t.Errorf("scripts/install with no SHA256SUMS entry = %v %q, want an error", err, out)
		}
		if _, err := os.Lstat(bindir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("scripts/install with no SHA256SUMS entry left %s, want nothing installed", bindir)
		}
	})
}

// TestActionStep runs action.yml's step as a runner would: its run script
// under bash, with the inputs in the environment its env block maps them
// to, and the runner's files; vendorimg must then be on the PATH the
// runner gives later steps, and named in the step's output.
func TestActionStep(t *testing.T) {
	dir := releaseDir(t)
	data, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs map[string]struct {
			Required bool `yaml:"required"`
		} `yaml:"inputs"`
		Runs struct {
			Using string `yaml:"using"`
			Steps []struct {
				ID    string            `yaml:"id"`
				Shell string            `yaml:"shell"`
				Env   map[string]string `yaml:"env"`
				Run   string            `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(data, &action); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if action.Runs.Using != "composite" || len(action.Runs.Steps) != 1 || action.Runs.Steps[0].Shell != "bash" {
		t.Fatalf("action.yml runs = %+v, want one composite bash step", action.Runs)
	}
	if !action.Inputs["version"].Required {
		t.Errorf("action.yml: input version is not required")
	}
	step := action.Runs.Steps[0]
	inputs := map[string]string{"version": testVersion}
	srv := serve(t, dir)
	inputs["release-url"] = srv.URL
	runner := t.TempDir()
	githubPath, githubOutput := filepath.Join(runner, "path"), filepath.Join(runner, "output")
	env := cleanEnv(t, os.Getenv("PATH"),
		"RUNNER_TEMP="+runner, "GITHUB_PATH="+githubPath, "GITHUB_OUTPUT="+githubOutput, "GITHUB_ACTION_PATH="+root)
	exprRE := regexp.MustCompile(`^\$\{\{ inputs\.([a-z-]+) \}\}$`)
	for name, value := range step.Env {
		m := exprRE.FindStringSubmatch(value)
		if m == nil {
			t.Fatalf("action.yml: env %s = %q, want an input (the script reads inputs from its environment, never from an expression in its text)", name, value)
		}
		env = append(env, name+"="+inputs[m[1]])
	}
	if strings.Contains(step.Run, "${{") {
		t.Errorf("action.yml: the run script has an expression in its text:\n%s", step.Run)
	}
	out := run(t, env, t.TempDir(), "bash", "-e", "-c", step.Run)
	t.Logf("the action's step:\n%s", out)
	paths, _ := os.ReadFile(githubPath)
	outputs, _ := os.ReadFile(githubOutput)
	bindir := strings.TrimSpace(string(paths))
	exe := filepath.Join(bindir, "vendorimg")
	if string(outputs) != "path="+exe+"\n" {
		t.Errorf("GITHUB_OUTPUT = %q, want path=%s", outputs, exe)
	}
	got := run(t, cleanEnv(t, bindir+string(os.PathListSeparator)+"/usr/bin:/bin"), "", "sh", "-c", "vendorimg version")
	if !strings.HasPrefix(got, "vendorimg "+testV.Go+" ") || !strings.Contains(out, got) {
		t.Errorf("vendorimg version on the step's PATH = %q, want vendorimg %s, as the step printed", got, testV.Go)
	}
	// vendorimg-sigverify is on that PATH too, and found.
	pathEnv := cleanEnv(t, bindir+string(os.PathListSeparator)+"/usr/bin:/bin")
	if got := strings.TrimSpace(run(t, pathEnv, "", "sh", "-c", "command -v "+release.Sigverify)); got != filepath.Join(bindir, release.Sigverify) {
		t.Errorf("command -v %s on the step's PATH = %q, want %s", release.Sigverify, got, filepath.Join(bindir, release.Sigverify))
	}
	checkSigverify(t, pathEnv, exe)
}

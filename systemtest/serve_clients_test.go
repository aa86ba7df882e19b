package systemtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/internal/testsupport/testbin"
	"github.com/vendorimg/vendorimg/internal/testsupport/testimage"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// These tests pull from serve with real clients: skopeo, crane, podman and
// the docker engine, on the repository's own vendored image
// (registry.vendorimg.test/probe:1, linux/amd64 and linux/arm64).

// probe is what the committed layout holds of the probe image.
type probe struct {
	cfg   *config.Config
	pin   digest.Digest
	index []byte
	// amd64 is the linux/amd64 manifest, its config and its layer.
	amd64, amd64Config, amd64Layer digest.Digest
	docs                           []digest.Digest
}

func committedProbe(t *testing.T, cfgPath string) probe {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(ctx, cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	im := cfg.Images[0]
	l := layout.New(cfg.LayoutDir())
	inv, err := l.Inventory(ctx, layoutEntry(t, l, im.Name()), layout.WalkOptions{Platforms: im.Platforms})
	if err != nil {
		t.Fatal(err)
	}
	p := probe{cfg: cfg, pin: im.Digest}
	p.index, err = l.ReadBlob(ctx, im.Digest, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range inv.Present {
		if b.IsDocument() {
			p.docs = append(p.docs, b.Digest)
		}
	}
	for _, img := range inv.Images {
		if img.Platform.Architecture == "amd64" {
			p.amd64, p.amd64Config, p.amd64Layer = img.Manifest.Digest, img.Config.Digest, img.Layers[0].Digest
		}
	}
	return p
}

// hubCheckout makes a checkout that vendors the probe both under its own
// name and as a Docker Hub image, docker.io/library/probe:1 (the same
// bytes, a second index.json entry), for mirror tests. It returns the
// checkout's vendorimg.yaml.
func hubCheckout(t *testing.T) string {
	t.Helper()
	return testimage.Checkout(t, config.FileName, testimage.Ref, "docker.io/library/probe:1")
}

func serveLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func run(t *testing.T, env []string, name string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// TestServeManifestsToPeers: skopeo inspect --raw and crane manifest get
// the vendored bytes exactly, by tag and by digest, under both names.
func TestServeManifestsToPeers(t *testing.T) {
	p := committedProbe(t, config.FileName)
	addr := vendorimgtest.Serve(t, vendorimgtest.ServeOptions{Config: config.FileName})
	layoutDir := p.cfg.LayoutDir()
	for _, repo := range []string{"registry.vendorimg.test/probe", "probe"} {
		for _, ref := range append([]string{":1"}, prefixAll("@", p.docs)...) {
			name := addr + "/" + repo + ref
			want := p.index
			if ref != ":1" {
				var err error
				if want, err = os.ReadFile(filepath.Join(layoutDir, layout.RelBlobPath(digest.Digest(ref[1:])))); err != nil {
					t.Fatal(err)
				}
			}
			got, err := run(t, nil, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+name)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("skopeo inspect --raw %s: not the vendored bytes (%v)", name, err)
			}
			got, err = crane(t, "manifest", name)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("crane manifest %s: not the vendored bytes (%v)", name, err)
			}
		}
	}
	out, err := crane(t, "digest", addr+"/probe:1")
	if err != nil || strings.TrimSpace(string(out)) != p.pin.String() {
		t.Errorf("crane digest = %s %v, want %s", out, err, p.pin)
	}
	// A whole image through skopeo, verified by it on the way.
	dir := t.TempDir()
	if _, err := run(t, nil, "skopeo", "copy", "--src-tls-verify=false", "--override-arch", "amd64", "docker://"+addr+"/probe:1", "dir:"+dir); err != nil {
		t.Errorf("skopeo copy from serve: %v", err)
	}
}

func prefixAll(prefix string, ds []digest.Digest) []string {
	var out []string
	for _, d := range ds {
		out = append(out, prefix+d.String())
	}
	return out
}

// TestServeToPodman pulls with podman (its own storage in a temporary
// folder), by the serve address, and as docker.io/library/probe:1 through a
// registries.conf mirror.
func TestServeToPodman(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatal("podman not found: install it (apt-get install podman)")
	}
	cfgPath := hubCheckout(t)
	p := committedProbe(t, cfgPath)
	logs := &testbin.Log{}
	addr := vendorimgtest.Serve(t, vendorimgtest.ServeOptions{Config: cfgPath, Logger: serveLogger(logs)})
	store := t.TempDir()
	conf := filepath.Join(store, "registries.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = %q
insecure = true
`, addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(store, "containers.conf")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"CONTAINERS_REGISTRIES_CONF=" + conf, "CONTAINERS_CONF=" + empty}
	podman := func(args ...string) ([]byte, error) {
		return run(t, env, "podman", append([]string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"),
			"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", filepath.Join(store, "tmp")}, args...)...)
	}
	t.Cleanup(func() { _, _ = podman("system", "reset", "--force") })
	for _, ref := range []string{addr + "/registry.vendorimg.test/probe:1", "docker.io/library/probe:1"} {
		if out, err := podman("pull", "--tls-verify=false", "--arch", "amd64", ref); err != nil {
			t.Fatalf("podman pull %s: %v", ref, err)
		} else if strings.TrimSpace(string(out)) != p.amd64Config.Encoded() {
			t.Errorf("podman pull %s = image %s, want %s (the vendored config)", ref, out, p.amd64Config.Encoded())
		}
	}
	if !strings.Contains(logs.String(), "/v2/library/probe/manifests/1") {
		t.Errorf("podman's mirror pull did not reach serve as library/probe:\n%s", logs)
	}
}

// TestServeToDocker pulls from serve with the machine's docker engine
// (loopback registries are plain http there): the image it reports is the
// vendored one. It holds the engine's exclusive lock, and removes what it
// pulled before it lets go.
func TestServeToDocker(t *testing.T) {
	e := enginetest.Describe(t)
	// The pull tags the probe under serve's name too: suites that count the
	// probe's tags (e2e, the pytest example) must not run meanwhile.
	vendorimgtest.LockEngine(t, vendorimgtest.LockExclusive)
	p := committedProbe(t, config.FileName)
	addr := vendorimgtest.Serve(t, vendorimgtest.ServeOptions{Config: config.FileName})
	ref := addr + "/registry.vendorimg.test/probe:1"
	untag(t, ref)
	if _, err := run(t, nil, "docker", "pull", "--platform", "linux/amd64", ref); err != nil {
		t.Fatalf("docker pull from serve on %s: %v", e, err)
	}
	out, err := run(t, nil, "docker", "image", "inspect", "--format", "{{.Id}}", ref)
	if err != nil {
		t.Fatal(err)
	}
	want := p.amd64Config
	if e.Store == "containerd" {
		want = p.pin
	}
	if got := strings.TrimSpace(string(out)); got != want.String() {
		t.Errorf("docker pull from serve on %s gave image %s, want %s", e, got, want)
	}

	// An image the engine cannot have: every layer comes from serve.
	cfg, img := randomCheckout(t, "fresh/pull:1")
	addr = vendorimgtest.Serve(t, vendorimgtest.ServeOptions{Config: cfg.Path})
	ref = addr + "/fresh/pull:1"
	untag(t, ref)
	if _, err := run(t, nil, "docker", "pull", ref); err != nil {
		t.Fatalf("docker pull of a new image from serve on %s: %v", e, err)
	}
	out, err = run(t, nil, "docker", "image", "inspect", "--format", "{{.Id}}", ref)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	if e.Store == "containerd" {
		raw, _ := img.RawManifest()
		id.Hex = digest.FromBytes(raw).Encoded()
	}
	if got := strings.TrimSpace(string(out)); got != id.String() {
		t.Errorf("docker pull of a new image from serve on %s gave %s, want %s", e, got, id)
	}
}

// untag removes ref from the machine's docker engine when the test ends,
// and fails the test if it is still there.
func untag(t *testing.T, ref string) {
	t.Cleanup(func() {
		_, _ = run(t, nil, "docker", "rmi", "--force", ref)
		if out, err := run(t, nil, "docker", "image", "ls", "--quiet", ref); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("%s still in docker after docker rmi --force (%v): %s", ref, err, out)
		}
	})
}

// randomCheckout vendors a random linux/amd64 image (a 1 MiB layer) as
// HOST/name into a new checkout, from an in-process registry that is gone
// when it returns: no engine can have its layer from an earlier pull or
// load.
func randomCheckout(t *testing.T, name string) (*config.Config, v1.Image) {
	t.Helper()
	host, stop := registrytest.Serve()
	defer stop()
	img := registrytest.Image(t, "linux/amd64", 1, 1<<20, time.Now().UnixNano(), registrytest.Docker)
	pin := registrytest.Push(t, host+"/"+name, img)
	cfg := writeConfig(t, t.TempDir(), fmt.Sprintf("images:\n  - ref: %s/%s\n    digest: %s\n    platforms: [linux/amd64]\n", host, name, pin))
	if _, err := vendorimg.Sync(context.Background(), cfg, vendorimg.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	return cfg, img
}

// TestServeFlippedBlob flips a byte of a layer while serve runs: skopeo
// and crane both fail, and serve logs the wrong bytes. docker pull against
// the same fault is serve's TestCorruptBlobFailsDockerPull, which spends
// over a minute in docker's retries while this package runs.
func TestServeFlippedBlob(t *testing.T) {
	cfg, img := randomCheckout(t, "flip/me:1")
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	layer := digest.Digest(m.Layers[0].Digest.String())
	logs := &testbin.Log{}
	addr := vendorimgtest.Serve(t, vendorimgtest.ServeOptions{Config: cfg.Path, Logger: serveLogger(logs)})
	path := filepath.Join(cfg.LayoutDir(), layout.RelBlobPath(layer))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-10] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ref := addr + "/flip/me:1"
	if _, err := run(t, nil, "skopeo", "copy", "--src-tls-verify=false", "docker://"+ref, "dir:"+t.TempDir()); err == nil {
		t.Errorf("skopeo copy of a flipped blob succeeded")
	}
	if _, err := crane(t, "blob", addr+"/flip/me@"+layer.String()); err == nil {
		t.Errorf("crane blob of a flipped blob succeeded")
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), layer.String()) {
		t.Errorf("serve did not log the flipped blob:\n%s", logs)
	}
}

// detachedLine is strace's line for a system call it could not name when
// the tracee left it; strace pads the PID column to five characters
// ("8586  ???( <detached ...>", "29142 ???( <detached ...>").
var detachedLine = regexp.MustCompile(`^\d+ +\?\?\?\( <detached \.\.\.>$`)

// TestDetachedLine: strace's detached line, whatever the PID's width, is
// told from a connect call.
func TestDetachedLine(t *testing.T) {
	for line, want := range map[string]bool{
		"8586  ???( <detached ...>": true,
		"29142 ???( <detached ...>": true,
		"123   ???( <detached ...>": true,
		"8586  connect(3, {sa_family=AF_INET, sin_port=htons(443)}, 16) = 0": false,
		"???( <detached ...>": false,
	} {
		if got := detachedLine.MatchString(line); got != want {
			t.Errorf("detachedLine.MatchString(%q) = %v, want %v", line, got, want)
		}
	}
}

// TestServeOffline runs the serve command in a network namespace with
// only loopback up, under strace: skopeo pulls from it there, and serve
// makes no connect call at all (Promise 2).
func TestServeOffline(t *testing.T) {
	bin := vendorimgBinary(t)
	strace := lookPath(t, "strace", "strace")
	lookPath(t, "unshare", "util-linux")
	trace := filepath.Join(t.TempDir(), "strace.log")
	root, _ := os.Getwd()
	script := fmt.Sprintf(`set -e
ip link set lo up
%[1]s -f -qq -e trace=connect -e signal=none -o %[2]s %[3]s -C %[4]s serve --addr 127.0.0.1:5000 --json >%[2]s.out &
pid=$!
# However the script ends, serve (strace's child) ends with it.
trap 'kill -TERM "$(pgrep -P $pid)" 2>/dev/null || true' EXIT
for i in $(seq 100); do [ -s %[2]s.out ] && break; sleep 0.1; done
skopeo inspect --raw --tls-verify=false docker://127.0.0.1:5000/probe:1 | sha256sum
skopeo copy --src-tls-verify=false --override-arch amd64 docker://127.0.0.1:5000/probe:1 dir:%[5]s >/dev/null
# SIGTERM to serve itself (strace's child): it stops gracefully, strace
# then exits with it.
kill -TERM "$(pgrep -P $pid)"
wait $pid
`, strace, trace, bin, root, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--", "sh", "-c", script)
	// The whole process group goes if the script hangs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("serve and skopeo in a namespace with only loopback: %v\n%s", err, out)
	}
	p := committedProbe(t, config.FileName)
	if !strings.Contains(string(out), p.pin.Encoded()) {
		t.Errorf("skopeo did not get the index from serve offline:\n%s", out)
	}
	tr, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	// strace may end its log with detachedLine for a thread caught inside
	// a system call when serve exits, its name unknown (seen beside
	// stress-ng): that is no connect call; any other line is.
	var calls []string
	for _, line := range strings.Split(strings.TrimSpace(string(tr)), "\n") {
		if line != "" && !detachedLine.MatchString(line) {
			calls = append(calls, line)
		}
	}
	if len(calls) > 0 {
		t.Errorf("serve made connect calls:\n%s", strings.Join(calls, "\n"))
	}
	var info struct{ Addr string }
	if b, _ := os.ReadFile(trace + ".out"); json.Unmarshal(b, &info) != nil || info.Addr != "127.0.0.1:5000" {
		t.Errorf("serve --json printed %q", b)
	}
}

package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// probeRef is the repository's own vendored image.
const probeRef = "registry.vendorimg.test/probe:1"

// engineClient is the docker client daemon.NewClient returns, as these
// tests use it.
type engineClient interface {
	daemon.Client
	Close() error
}

// env is what the tests need to call vendorimg's library as Main does:
// the repository's configuration, its layout and the engine.
type env struct {
	cfg    *config.Config
	images []config.Image
	l      *layout.Layout
	c      engineClient
	// eng is what the engine says it is.
	eng enginetest.Engine
	// platform is the engine's platform, the one loaded.
	platform string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	path, err := config.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	images, err := cfg.Select([]string{probeRef})
	if err != nil {
		t.Fatal(err)
	}
	c, err := daemon.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	eng, err := daemon.Inspect(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return &env{cfg: cfg, images: images, l: layout.New(cfg.LayoutDir()), c: c, eng: enginetest.Describe(t), platform: eng.Platform}
}

// root is the repository's root folder, where vendorimg.yaml is.
func (e *env) root() string { return e.cfg.Dir() }

// vendored is the probe image of the engine's platform as the layout
// holds it: its manifest, config and layers.
func (e *env) vendored(t *testing.T, l *layout.Layout) layout.Image {
	t.Helper()
	ctx := context.Background()
	idx, err := l.ReadIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, ok := layout.Lookup(idx, e.images[0].Name(), "")
	top := m.Entry
	if !ok {
		t.Fatalf("%s has no entry %s", l.Root(), e.images[0].Name())
	}
	inv, err := l.Inventory(ctx, top, layout.WalkOptions{Platforms: e.images[0].Platforms})
	if err != nil {
		t.Fatal(err)
	}
	for _, ii := range inv.Images {
		if platform.FromOCI(ii.Platform).String() == e.platform {
			return ii
		}
	}
	t.Fatalf("%s is not vendored for the engine's platform %s", probeRef, e.platform)
	return layout.Image{}
}

// verify is daemon.Verify of the probe image.
func (e *env) verify(t *testing.T) *daemon.Report {
	t.Helper()
	rep, err := daemon.Verify(context.Background(), e.c, e.l, e.images, daemon.VerifyOptions{})
	if err != nil {
		t.Fatalf("daemon.Verify() = %v", err)
	}
	return rep
}

// id is the image ID the engine gives the probe it loads from l: the
// config digest with the classic store, the platform manifest's digest
// with the containerd store.
func (e *env) id(t *testing.T, l *layout.Layout) string {
	t.Helper()
	im := e.vendored(t, l)
	if e.eng.Store == daemon.StoreContainerd {
		return im.Manifest.Digest.String()
	}
	return im.Config.Digest.String()
}

// rule is the identity rule the engine's IDs satisfy.
func (e *env) rule() string {
	if e.eng.Store == daemon.StoreContainerd {
		return daemon.MatchManifest
	}
	return daemon.MatchConfig
}

// restore puts the vendored probe image back under its tag when the test
// ends, from the real layout, and checks that docker holds it again with
// the ID it had.
func (e *env) restore(t *testing.T) {
	id := e.id(t, e.l)
	t.Cleanup(func() {
		rep, err := daemon.Load(context.Background(), e.c, e.l, e.images, daemon.LoadOptions{})
		if err != nil {
			t.Errorf("restoring %s: daemon.Load() = %v", probeRef, err)
			return
		}
		if got := rep.Images[0].ImageID; got != id {
			t.Errorf("restoring %s: loaded as %s, want %s", probeRef, got, id)
		}
		if vr := e.verify(t); !vr.OK() {
			t.Errorf("after restoring %s: daemon.Verify() findings %v, want none", probeRef, vr.Findings)
		}
	})
}

// result is what a command did.
type result struct {
	code           int
	stdout, stderr string
}

// commandTimeout bounds a command, so that one that hangs fails its test
// rather than the whole binary. Some commands build vendorimg (go build, go
// get -tool, go generate of go tool vendorimg): without -race, so that on a
// first run they compile every dependency once more (the race build of the
// tests does not share it), which can take minutes on a loaded 2-core
// machine; the bound is far above that.
const commandTimeout = 15 * time.Minute

// command runs name with args (in dir, with env added, when set) and
// returns its exit code and output; it fails the test only if the command
// cannot run at all.
func command(t *testing.T, dir string, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return result{code: ee.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	case err != nil:
		t.Fatalf("running %s %s: %v", name, strings.Join(args, " "), err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String()}
}

// docker runs the docker command, fails the test unless it succeeds, and
// returns its trimmed stdout.
var docker = enginetest.Docker

// evict removes the vendored image from docker under every name it has
// (the probe may also be tagged by another test's pull from serve), so
// that a load must stream it rather than only tag it.
func evict(t *testing.T, probe vendorimgtest.Loaded) {
	t.Helper()
	docker(t, "rmi", "--force", probe.ID)
	if exists(t, probe.ID) {
		t.Fatalf("image %s still in docker after docker rmi --force", probe.ID)
	}
}

// exists reports whether docker has an image by that name or ID.
func exists(t *testing.T, ref string) bool {
	t.Helper()
	r := command(t, "", nil, "docker", "image", "inspect", "--format", "{{.Id}}", ref)
	switch {
	case r.code == 0:
		return true
	case strings.Contains(strings.ToLower(r.stderr), "no such image"):
		return false
	}
	t.Fatalf("docker image inspect %s: exit %d: %s", ref, r.code, r.stderr)
	return false
}

// commit makes an image that is not the vendored probe: a commit of a
// container of it, with another command, tagged ref unless ref is "". The
// container is started first (so that the image has a file it wrote) when
// the engine can run one; otherwise it is only created, which is enough
// for a commit. The commit goes through the API with a config as its body,
// as podman's docker-compatible API requires (the docker command sends
// none: "Decode(): EOF"). It removes the container at once and the image
// when the test ends, and returns the image's ID as inspect writes it.
func (e *env) commit(t *testing.T, ref string) string {
	t.Helper()
	return enginetest.Commit(t, probeRef, enginetest.CommitOptions{Tag: ref, Cmd: []string{"write", "/tmp/committed", "by a test"}, Start: true})
}

// runContainer is docker run --pull never of args (the image and its
// command, after any options) in a container with a name of its own,
// removed when the test ends. Not --rm: through podman 4's
// docker-compatible API the docker command then reports exit status 0
// whatever the container's (it waits for the container's removal, and
// podman no longer knows its status).
func runContainer(t *testing.T, args ...string) result {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "vendorimg-e2e-" + hex.EncodeToString(b[:])
	removeContainer(t, name)
	return command(t, "", nil, "docker", append([]string{"run", "--pull", "never", "--name", name}, args...)...)
}

// removeContainer removes a container when the test ends.
func removeContainer(t *testing.T, id string) {
	t.Cleanup(func() {
		if r := command(t, "", nil, "docker", "rm", "-f", id); r.code != 0 {
			t.Errorf("removing the test's container %s: %s", id, r.stderr)
		}
	})
}

// copyLayout copies the layout at src into a temporary folder.
func copyLayout(t *testing.T, src string) *layout.Layout {
	t.Helper()
	return layout.New(enginetest.CopyLayout(t, src))
}

// flipByte inverts one byte in the middle of blob d of l.
func flipByte(t *testing.T, l *layout.Layout, d digest.Digest) {
	t.Helper()
	path, err := l.BlobPath(d)
	if err != nil {
		t.Fatal(err)
	}
	enginetest.FlipByte(t, path)
}

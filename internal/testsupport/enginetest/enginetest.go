package enginetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// timeout bounds each docker command.
const timeout = 2 * time.Minute

// Engine is what the engine under test says it is.
type Engine struct {
	// Product is "docker" or "podman" (from its version's components).
	Product string
	// Version is the server's version ("20.10.24+dfsg1", "4.3.1").
	Version string
	// API is the server's API version ("1.41").
	API string
	// Store is "classic" or "containerd", as daemon.Engine.Store says it.
	Store string
	// Host is DOCKER_HOST, or "the local socket".
	Host string
}

// String names the engine for test messages: "podman 4.3.1 (classic image
// store, API 1.41) at unix:///tmp/podman.sock".
func (e Engine) String() string {
	return fmt.Sprintf("%s %s (%s image store, API %s) at %s", e.Product, e.Version, e.Store, e.API, e.Host)
}

var (
	describeOnce sync.Once
	described    Engine
	describeErr  error
)

// Describe asks the engine what it is; it fails the test if the engine does
// not answer.
func Describe(t testing.TB) Engine {
	t.Helper()
	describeOnce.Do(func() { described, describeErr = describe() })
	if describeErr != nil {
		t.Fatalf("asking the engine what it is: %v", describeErr)
	}
	return described
}

func describe() (Engine, error) {
	e := Engine{Product: "docker", Host: os.Getenv("DOCKER_HOST"), Store: "classic"}
	if e.Host == "" {
		e.Host = "the local socket"
	}
	out, err := docker("version", "--format", "{{.Server.Version}}|{{.Server.APIVersion}}|{{range .Server.Components}}{{.Name}};{{end}}")
	if err != nil {
		return e, err
	}
	parts := strings.SplitN(strings.TrimSpace(out), "|", 3)
	if len(parts) != 3 {
		return e, fmt.Errorf("docker version printed %q", out)
	}
	e.Version, e.API = parts[0], parts[1]
	if strings.Contains(strings.ToLower(parts[2]), "podman") {
		e.Product = "podman"
	}
	out, err = docker("info", "--format", "{{json .DriverStatus}}")
	if err != nil {
		return e, err
	}
	if strings.Contains(out, "io.containerd.snapshotter.v1") {
		e.Store = "containerd"
	}
	return e, nil
}

var (
	runMu  sync.Mutex
	canRun = map[string]error{}
)

// CanRun reports, as nil or the reason, whether the engine can run a
// container of image (which must be in the engine) with args: it creates a
// container with a unique name, starts it attached, and removes it, once
// per image and args and test binary. The reason has the engine's own words.
func CanRun(t testing.TB, image string, args ...string) error {
	t.Helper()
	key := image + "\x00" + strings.Join(args, "\x00")
	runMu.Lock()
	defer runMu.Unlock()
	if err, ok := canRun[key]; ok {
		return err
	}
	err := tryRun(image, args)
	canRun[key] = err
	return err
}

func tryRun(image string, args []string) error {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	name := "vendorimg-canrun-" + hex.EncodeToString(b[:])
	defer func() { _, _ = docker("rm", "--force", name) }()
	if _, err := docker(append([]string{"create", "--pull", "never", "--name", name, image}, args...)...); err != nil {
		return err
	}
	// Not attached: a start that fails then says why in the engine's words
	// (podman's attach says only "unable to upgrade to tcp, received 409").
	if _, err := docker("start", name); err != nil {
		return err
	}
	out, err := docker("wait", name)
	if err != nil {
		return err
	}
	if code := strings.TrimSpace(out); code != "0" {
		return fmt.Errorf("a container of %s %s exited %s, want 0", image, strings.Join(args, " "), code)
	}
	return nil
}

// RequireRun skips the test unless the engine can run a container of image
// with args (CanRun), with a message naming the engine and the reason; it
// fails the test instead when VENDORIMG_REQUIRE_DOCKER=1 (CI, where every
// engine of the matrix runs containers: scripts/engines).
func RequireRun(t testing.TB, image string, args ...string) {
	t.Helper()
	if err := CanRun(t, image, args...); err != nil {
		if RunRequired() {
			t.Fatalf("%s cannot run a container here (VENDORIMG_REQUIRE_DOCKER=1): %v", Describe(t), err)
		}
		t.Skipf("%s cannot run a container here: %v", Describe(t), err)
	}
}

// RunRequired reports whether VENDORIMG_REQUIRE_DOCKER=1, under which an
// engine that cannot run a container is an error rather than a skip.
func RunRequired() bool { return os.Getenv("VENDORIMG_REQUIRE_DOCKER") == "1" }

// docker runs the docker command and returns its stdout; the error has its
// stderr.
func docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(stderr.String()), "\n", " ; ")), " "))
	}
	return stdout.String(), nil
}

package tcimages_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/reference"
	"github.com/vendorimg/vendorimg/vendorimgtest"
	"github.com/vendorimg/vendorimg/vendorimgtest/tcimages"
)

// probeRef is this repository's vendored image (see its vendorimg.yaml).
const probeRef = "registry.vendorimg.test/probe:1"

// lateReaperEnv makes the test binary, run by TestDisableReaperTooLate,
// play a program that used testcontainers-go before DisableReaper.
const lateReaperEnv = "VENDORIMG_TCIMAGES_LATE_REAPER"

func TestMain(m *testing.M) {
	if os.Getenv(lateReaperEnv) != "" {
		os.Exit(lateReaper())
	}
	// The reaper's image cannot be pulled offline; each test terminates
	// its containers itself.
	if err := tcimages.DisableReaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Main holds the engine's shared lock for the run (a suite that moves
	// the probe's tag on purpose, examples/pytest, holds it exclusively),
	// and checks after the tests that the probe is still the vendored one.
	os.Exit(vendorimgtest.Main(m, vendorimgtest.Options{Images: []string{probeRef}}))
}

// lateReaper reads testcontainers-go's configuration with the reaper on,
// then calls DisableReaper, which must refuse.
func lateReaper() int {
	os.Setenv(tcimages.RyukDisabledEnv, "false")
	if testcontainers.ReadConfig().Config.RyukDisabled {
		fmt.Println("the reaper is off before DisableReaper")
		return 1
	}
	if err := tcimages.DisableReaper(); err != nil {
		fmt.Println(err)
		return 3
	}
	fmt.Println("DisableReaper() = nil")
	return 1
}

func TestDisableReaper(t *testing.T) {
	// TestMain called it before any test.
	if !testcontainers.ReadConfig().Config.RyukDisabled || os.Getenv(tcimages.RyukDisabledEnv) != "true" {
		t.Fatalf("after DisableReaper: RyukDisabled = %v, %s = %q; want true, \"true\"",
			testcontainers.ReadConfig().Config.RyukDisabled, tcimages.RyukDisabledEnv, os.Getenv(tcimages.RyukDisabledEnv))
	}
	if err := tcimages.DisableReaper(); err != nil {
		t.Errorf("DisableReaper() a second time = %v, want nil", err)
	}
}

func TestDisableReaperTooLate(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lateReaperEnv+"=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(out), "call DisableReaper from TestMain") {
		t.Errorf("DisableReaper after testcontainers-go read its configuration: %v, %s; want it to refuse, saying when to call it", err, out)
	}
}

// vendoredProbe loads the repository's vendored probe image into docker
// (Main loaded it already: this load is skipped in milliseconds) and
// returns the configuration, the engine and the load report.
func vendoredProbe(t *testing.T, ctx context.Context) (*config.Config, daemon.Client, *daemon.LoadReport) {
	t.Helper()
	path, err := config.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := daemon.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	l := layout.New(cfg.LayoutDir())
	images, err := cfg.Select([]string{probeRef})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := daemon.Load(ctx, c, l, images, daemon.LoadOptions{})
	if err != nil {
		t.Fatalf("daemon.Load(%s) = %v (the tests need a docker engine)", probeRef, err)
	}
	return cfg, c, rep
}

func TestGenericContainerRunsVendoredImageOffline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, c, rep := vendoredProbe(t, ctx)
	im := cfg.Images[cfg.Lookup(mustParse(t, probeRef))]
	pinned := im.Pinned().String() // registry.vendorimg.test/probe:1@sha256:...
	loadedID := rep.Images[0].ImageID

	// Why the substitutor is needed: docker does not know the pinned name
	// of a loaded image (it has no RepoDigests), and testcontainers-go
	// pulls an image docker does not know.
	if _, err := c.ImageInspect(ctx, pinned); !cerrdefs.IsNotFound(err) {
		t.Fatalf("docker image inspect %s = %v, want not found (a loaded image has no RepoDigests)", pinned, err)
	}

	sub, err := tcimages.NewSubstitutor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Created first, which every engine can do: the substitutor made
	// testcontainers-go use the loaded image, without a pull.
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:             pinned,
			Cmd:               []string{"echo", "ready"},
			ImageSubstitutors: []testcontainers.ImageSubstitutor{sub},
			WaitingFor:        wait.ForExit().WithExitTimeout(30 * time.Second),
		},
		Started: false,
		Logger:  tclog.TestLogger(t),
	})
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("GenericContainer(%s) = %v", pinned, err)
	}
	ins, err := ctr.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if normalID(ins.Image) != loadedID || ins.Config.Image != probeRef {
		t.Errorf("container of image %s named %q, want the loaded %s named %q", ins.Image, ins.Config.Image, loadedID, probeRef)
	}

	enginetest.RequireRun(t, probeRef, "exit", "0")
	if err := ctr.Start(ctx); err != nil {
		t.Fatalf("Start() = %v", err)
	}

	state, err := ctr.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if state.Running || state.ExitCode != 0 {
		t.Errorf("container state: running %v, exit code %d; want exited with 0", state.Running, state.ExitCode)
	}
	logs, err := ctr.Logs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(logs)
	logs.Close()
	if err != nil || string(out) != "ready\n" {
		t.Errorf("container logs = %q, %v; want %q", out, err, "ready\n")
	}

	// Without the reaper, Terminate is what removes the container.
	if err := ctr.Terminate(ctx); err != nil {
		t.Fatalf("Terminate() = %v", err)
	}
	if _, err := ctr.State(ctx); !cerrdefs.IsNotFound(err) {
		t.Errorf("container %s after Terminate: %v, want not found", ctr.GetContainerID(), err)
	}

	// Nothing was pulled: the tag still points to the vendored image.
	vr, err := daemon.Verify(ctx, c, layout.New(cfg.LayoutDir()), []config.Image{im}, daemon.VerifyOptions{})
	if err != nil || !vr.OK() {
		t.Errorf("daemon.Verify() after the container = %+v, %v; want no findings", vr, err)
	}
}

func TestGenericContainerRefusesImageNotVendored(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sub, err := tcimages.FindSubstitutor(".")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	const image = "registry.vendorimg.test/absent:1"
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:             image,
			Cmd:               []string{"echo", "ready"},
			ImageSubstitutors: []testcontainers.ImageSubstitutor{sub},
		},
		Started: true,
		Logger:  tclog.TestLogger(t),
	})
	testcontainers.CleanupContainer(t, ctr)
	if err == nil || !strings.Contains(err.Error(), image+" is not vendored in ") {
		t.Fatalf("GenericContainer(%s) = %v, want the substitutor's refusal", image, err)
	}
	// Refused before any pull: a pull would retry for minutes.
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("GenericContainer(%s) took %v to fail, want it refused at once", image, d)
	}
}

// normalID is an image ID as the image endpoints write it ("sha256:..."),
// where a container's inspect may leave the algorithm out.
func normalID(id string) string {
	if id != "" && !strings.Contains(id, ":") {
		return "sha256:" + id
	}
	return id
}

func mustParse(t *testing.T, s string) reference.Reference {
	t.Helper()
	ref, err := reference.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestGenericContainerPullsPinnedNameWithoutSubstitutor is the control:
// without the substitutor, testcontainers-go does not find the pinned name
// in docker and pulls it, which offline fails.
func TestGenericContainerPullsPinnedNameWithoutSubstitutor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, _, _ := vendoredProbe(t, ctx)
	pinned := cfg.Images[cfg.Lookup(mustParse(t, probeRef))].Pinned().String()
	pullCtx, cancelPull := context.WithTimeout(ctx, 20*time.Second)
	defer cancelPull()
	ctr, err := testcontainers.GenericContainer(pullCtx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{Image: pinned, Cmd: []string{"echo", "ready"}},
		Started:          true,
		Logger:           tclog.TestLogger(t),
	})
	testcontainers.CleanupContainer(t, ctr)
	// The pull's error names the registry it tried to reach.
	if err == nil || !strings.Contains(err.Error(), "registry.vendorimg.test") {
		t.Fatalf("GenericContainer(%s) without the substitutor = %v; want a failed pull from registry.vendorimg.test", pinned, err)
	}
	t.Logf("without the substitutor: %v", err)
}

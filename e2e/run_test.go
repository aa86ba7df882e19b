package e2e_test

import (
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// TestLoadedOnce: Main loaded (or found) the vendored image, under its tag
// and with the ID the layout gives it, before any test ran.
func TestLoadedOnce(t *testing.T) {
	e := newEnv(t)
	want := e.id(t, e.l)
	probe := vendorimgtest.Image(t, probeRef)
	if probe.Ref != probeRef || probe.ID != want || probe.Platform != e.platform {
		t.Errorf("vendorimgtest.Image(%q) = %+v, want %s (%s) with ID %s", probeRef, probe, probeRef, e.platform, want)
	}
	rep := vendorimgtest.LoadReport()
	if rep == nil || len(rep.Images) != 1 || rep.Images[0].ImageID != want {
		t.Fatalf("vendorimgtest.LoadReport() = %+v, want the probe image with ID %s", rep, want)
	}
	r := rep.Images[0]
	t.Logf("Main's load: %s %s in %v (%d of %d bytes streamed)", r.Tag, r.Action, r.Duration, r.Streamed, r.Bytes)
}

// TestRun runs containers from the vendored image as a user's suite does:
// docker run --pull never, so that a missing image fails instead of being
// pulled; on every engine (RequireRun fails under VENDORIMG_REQUIRE_DOCKER=1
// when the engine cannot run one).
func TestRun(t *testing.T) {
	probe := vendorimgtest.Image(t, probeRef)
	enginetest.RequireRun(t, probe.Ref, "exit", "0")
	tests := []struct {
		name       string
		args       []string // after docker run --pull never
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "default command", args: []string{probe.Ref}, wantStdout: "hello from probe\n"},
		{name: "echo", args: []string{probe.Ref, "echo", "hello"}, wantStdout: "hello\n"},
		{name: "by image ID", args: []string{probe.ID, "echo", "by", "id"}, wantStdout: "by id\n"},
		{name: "exit code", args: []string{probe.Ref, "exit", "3"}, wantCode: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runContainer(t, tt.args...)
			if r.code != tt.wantCode || r.stdout != tt.wantStdout || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("docker run %s = %d, %q, %q; want %d, %q, stderr with %q", strings.Join(tt.args, " "), r.code, r.stdout, r.stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

// TestRunNeverPulls: docker run --pull never of an image that is not
// loaded fails at once, on every engine, whether or not it can run
// containers.
func TestRunNeverPulls(t *testing.T) {
	const absent = "registry.vendorimg.test/absent:1"
	r := command(t, "", nil, "docker", "run", "--rm", "--pull", "never", absent)
	// docker says "No such image", podman "no such image".
	if r.code != 125 || r.stdout != "" || !strings.Contains(strings.ToLower(r.stderr), "no such image") {
		t.Errorf("docker run --pull never %s = %d, %q, %q; want 125 and no such image", absent, r.code, r.stdout, r.stderr)
	}
}

// TestContainerWritesStayInContainer: a file a container writes is in the
// container's own layer, never in the image: a fresh container does not
// see it, and the image is still the vendored one.
func TestContainerWritesStayInContainer(t *testing.T) {
	e := newEnv(t)
	probe := vendorimgtest.Image(t, probeRef)
	enginetest.RequireRun(t, probe.Ref, "exit", "0")
	ctr := docker(t, "create", "--pull", "never", probe.Ref, "write", "/tmp/written", "by a test")
	removeContainer(t, ctr)
	docker(t, "start", "--attach", ctr)
	if diff := docker(t, "diff", ctr); !strings.Contains(diff, "A /tmp/written") {
		t.Fatalf("docker diff after write /tmp/written = %q, want the file added in the container", diff)
	}
	r := runContainer(t, probe.Ref, "cat", "/tmp/written")
	if r.code == 0 || r.stdout != "" {
		t.Errorf("cat /tmp/written in a fresh container = %d, %q; want a failure: the file must not reach the image", r.code, r.stdout)
	}
	if rep := e.verify(t); !rep.OK() || rep.Images[0].ImageID != probe.ID || rep.Images[0].Match != e.rule() {
		t.Errorf("daemon.Verify() after a container wrote a file = %+v, want OK with ID %s by the %s rule", rep, probe.ID, e.rule())
	}
}

package vendorimgtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestNoEngine runs this test binary again, with TestHelperNeedsImage and
// TestHelperNoImage, against a docker socket that does not exist.
func TestNoEngine(t *testing.T) {
	const host = "unix:///nonexistent"
	tests := []struct {
		name     string
		require  string // VENDORIMG_REQUIRE_DOCKER, unset when ""
		wantCode int
		want     []string
		notWant  []string
	}{
		{
			name: "tests that need images skip",
			want: []string{
				"vendorimgtest: no docker engine at " + host + ": tests that need images will skip",
				"--- SKIP: TestHelperNeedsImage",
				"no docker engine at " + host + ": vendorimgtest skips tests that need images (set VENDORIMG_REQUIRE_DOCKER=1 to make this an error)",
				"--- PASS: TestHelperNoImage",
				"\nPASS\n",
			},
			notWant: []string{"image was returned"},
		},
		{
			name:    "VENDORIMG_REQUIRE_DOCKER=0 skips too",
			require: "0",
			want:    []string{"--- SKIP: TestHelperNeedsImage", "--- PASS: TestHelperNoImage"},
		},
		{
			name:     "VENDORIMG_REQUIRE_DOCKER=1 fails before the tests",
			require:  "1",
			wantCode: 1,
			want:     []string{"vendorimgtest: VENDORIMG_REQUIRE_DOCKER=1 requires a docker engine, and none answers at " + host + ": ", "no such file or directory"},
			notWant:  []string{"=== RUN"},
		},
		{
			name:     "a malformed VENDORIMG_REQUIRE_DOCKER fails",
			require:  "maybe",
			wantCode: 1,
			want:     []string{`vendorimgtest: VENDORIMG_REQUIRE_DOCKER="maybe": want 1 or 0`},
			notWant:  []string{"=== RUN"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := []string{"DOCKER_HOST=" + host, helperEnv + "=no-engine"}
			if tt.require != "" {
				env = append(env, RequireDockerEnv+"="+tt.require)
			}
			code, out := runHelper(t, "^TestHelper(NeedsImage|NoImage)$", env)
			if code != tt.wantCode {
				t.Errorf("test binary with DOCKER_HOST=%s %s=%q exited %d, want %d; output:\n%s", host, RequireDockerEnv, tt.require, code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not contain %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output contains %q:\n%s", w, out)
				}
			}
		})
	}
}

// runHelper runs this test binary with -test.run=pattern, the flags args
// and env added to the environment (replacing DOCKER_HOST and
// VENDORIMG_REQUIRE_DOCKER), and returns its exit code and its output
// (stdout and stderr).
func runHelper(t *testing.T, pattern string, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=" + pattern, "-test.v", "-test.count=1"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_HOST=") && !strings.HasPrefix(kv, RequireDockerEnv+"=") && !strings.HasPrefix(kv, helperEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	case err != nil:
		t.Fatalf("running %s: %v", os.Args[0], err)
	}
	return 0, out.String()
}

// TestHelperNeedsImage asks for the probe image. In a normal run it must
// get it, with an ID, from the engine Main loaded it into (and skips when
// there is none); in TestNoEngine's run against a missing engine, Image
// must skip it, which TestNoEngine checks.
func TestHelperNeedsImage(t *testing.T) {
	im := Image(t, probeRef)
	if os.Getenv(helperEnv) != "" {
		t.Errorf("image was returned: %+v", im)
	}
	if im.Ref != probeRef || im.ID == "" || im.Platform == "" {
		t.Errorf("Image(%q) = %+v, want the loaded probe with its ID and platform", probeRef, im)
	}
}

// TestHelperNoImage is a test that needs no image: it runs whether or not
// an engine answers, and LoadReport says whether Main loaded anything (nil
// without an engine, as in TestNoEngine's run).
func TestHelperNoImage(t *testing.T) {
	s := getCurrent()
	if s == nil {
		t.Fatal("no session: TestMain did not call Main")
	}
	rep := LoadReport()
	switch {
	case s.noEngine != nil && rep != nil:
		t.Errorf("LoadReport() = %+v without an engine, want nil", rep)
	case s.noEngine == nil && (rep == nil || len(rep.Images) == 0):
		t.Errorf("LoadReport() = %+v with an engine, want the probe's load", rep)
	}
	if os.Getenv(helperEnv) != "" {
		t.Log("ran without docker")
	}
}

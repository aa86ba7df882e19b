package sigexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/testbin"
	"github.com/vendorimg/vendorimg/layout"
)

const testPin = "sha256:e351f403b6dfee83d32166c7d66efb05595650fccb420c74041a4e77f41dd0cd"

// project writes a vendorimg.yaml whose one image has a key policy with a
// key path relative to it (keys/cosign.pub, which does not exist) and an
// empty layout, and returns the loaded configuration.
func project(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	yaml := "layout: images\nverify: {key: keys/cosign.pub}\nimages:\n  - ref: registry.vendorimg.test/signed:1\n    digest: " + testPin + "\n    platforms: [linux/amd64]\n"
	if err := os.WriteFile(filepath.Join(dir, "vendorimg.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(context.Background(), filepath.Join(dir, "vendorimg.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := layout.New(cfg.LayoutDir()).Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestFind finds the program where $VENDORIMG_SIGVERIFY says, else on
// PATH (the test binary has none beside it), and otherwise says how to
// get it.
func TestFind(t *testing.T) {
	helper := testbin.SigverifyPath(t)
	notExecutable := filepath.Join(t.TempDir(), Program)
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	tests := []struct {
		name      string
		env, path string
		want      string // the path found, or "" for ErrNoSigverify
		message   []string
	}{
		{"the environment variable", helper, empty, helper, nil},
		{"the environment variable wins over PATH", filepath.Join(empty, "missing"), filepath.Dir(helper), "", []string{EnvVar + "=" + filepath.Join(empty, "missing"), "no such file"}},
		{"not executable", notExecutable, empty, "", []string{EnvVar + "=" + notExecutable, "permission denied"}},
		{"PATH", "", filepath.Dir(helper), helper, nil},
		{"nowhere", "", empty, "", []string{"beside vendorimg (", "or on PATH", EnvVar + " is not set", "the release archive and the vendorimg wheel carry it beside vendorimg", "go install ./cmd/vendorimg-sigverify"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvVar, tt.env)
			t.Setenv("PATH", tt.path)
			got, err := Find()
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("Find() = %q, %v, want %q", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, errs.ErrNoSigverify) {
				t.Fatalf("Find() = %q, %v, want errs.ErrNoSigverify", got, err)
			}
			for _, m := range tt.message {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("Find() = %v, want it to say %q", err, m)
				}
			}
		})
	}
}

func TestHint(t *testing.T) {
	for v, want := range map[string]string{
		"v1.2.3":   "go install github.com/vendorimg/vendorimg/cmd/vendorimg-sigverify@v1.2.3",
		"(devel)":  "go build -o DIR/ ./cmd/vendorimg ./cmd/vendorimg-sigverify",
		"v0.0.0-x": "@v0.0.0-x;",
	} {
		if got := Hint(v); !strings.Contains(got, want) || !strings.Contains(got, EnvVar) {
			t.Errorf("Hint(%q) = %q, want it to say %q and %s", v, got, want, EnvVar)
		}
	}
}

// TestVerifier runs the real program: the policy's key path, relative in
// the YAML, reaches it resolved against the configuration's folder, and
// its finding comes back whole.
func TestVerifier(t *testing.T) {
	t.Setenv(EnvVar, testbin.SigverifyPath(t))
	cfg := project(t)
	findings, err := Verifier(cfg, nil)(context.Background(), layout.New(cfg.LayoutDir()), cfg.Images)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(cfg.Dir(), "keys", "cosign.pub")
	want := layout.Finding{Kind: layout.KindSignature, Path: layout.IndexFile, Image: "registry.vendorimg.test/signed:1",
		Expected: "signed with the key " + key, Message: "cannot load the verify: policy: open " + key + ": no such file or directory"}
	if len(findings) != 1 || findings[0] != want {
		t.Errorf("Verifier() = %+v, want [%+v]", findings, want)
	}

	// No image with a policy: the program is not run at all.
	t.Setenv(EnvVar, filepath.Join(t.TempDir(), "missing"))
	plain := cfg.Clone()
	for i := range plain.Images {
		plain.Images[i].Verify = nil
	}
	if findings, err := Verifier(plain, nil)(context.Background(), layout.New(cfg.LayoutDir()), plain.Images); err != nil || findings != nil {
		t.Errorf("Verifier() with no policy = %+v, %v, want nothing", findings, err)
	}
}

// TestVerifierRelativePaths: a configuration parsed from a relative path
// (a library user's config.Parse) reaches the program as it is, and its
// paths resolve against the working directory the program inherits.
func TestVerifierRelativePaths(t *testing.T) {
	t.Setenv(EnvVar, testbin.SigverifyPath(t))
	abs := project(t)
	data, err := abs.Encode()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(abs.Dir())
	cfg, err := config.Parse(config.FileName, data)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := Verifier(cfg, nil)(context.Background(), layout.New(cfg.LayoutDir()), cfg.Images)
	if err != nil {
		t.Fatal(err)
	}
	if want := "signed with the key " + filepath.Join("keys", "cosign.pub"); len(findings) != 1 || findings[0].Expected != want {
		t.Errorf("Verifier() of a relative configuration = %+v, want one finding expecting %q", findings, want)
	}
}

// TestVerifierRefusesImagesNotInTheYAML: images edited in memory but not
// in the document would be checked by the program as the YAML says, so
// they are refused before it runs.
func TestVerifierRefusesImagesNotInTheYAML(t *testing.T) {
	t.Setenv(EnvVar, filepath.Join(t.TempDir(), "missing"))
	cfg := project(t)
	cfg.Images[0].Verify = &config.Policy{Key: "/elsewhere/cosign.pub"}
	_, err := Verifier(cfg, nil)(context.Background(), layout.New(cfg.LayoutDir()), cfg.Images)
	if !errors.Is(err, errs.ErrConfig) || errors.Is(err, errs.ErrNoSigverify) {
		t.Errorf("Verifier() with an image edited in memory = %v, want errs.ErrConfig before looking for the program", err)
	}
}

// TestVersionMismatch: a vendorimg-sigverify of another version refuses
// to check, and vendorimg says so with errs.ErrNoSigverify.
func TestVersionMismatch(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := testbin.BuildSigverify(ctx, dir, "-ldflags=-X github.com/vendorimg/vendorimg/internal/version.version=v0.0.1-stale"); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvVar, filepath.Join(dir, Program))
	cfg := project(t)
	_, err := Verifier(cfg, nil)(ctx, layout.New(cfg.LayoutDir()), cfg.Images)
	// The program's commit follows its version when the build stamped one
	// (go build in a clean checkout does).
	if !errors.Is(err, errs.ErrNoSigverify) || !strings.Contains(err.Error(), "vendorimg-sigverify is version v0.0.1-stale") || !strings.Contains(err.Error(), ", but vendorimg is ") {
		t.Errorf("Verifier() with a stale program = %v, want errs.ErrNoSigverify naming both versions", err)
	}
}

func TestCompatible(t *testing.T) {
	tests := []struct {
		own, ownCommit, v, commit string
		want                      bool
	}{
		{"v1.2.3", "abc", "v1.2.3", "abc", true},
		{"v1.2.3", "", "v1.2.3", "abc", true}, // go install: no commit
		{"v1.2.3", "abc", "v1.2.3", "", true},
		{"v1.2.3", "abc", "v1.2.4", "abc", false},
		{"(devel)", "abc", "(devel)", "abd", false},
		{"(devel)", "abc", "(devel)", "abc-dirty", false},
		{"(devel)", "", "(devel)", "", true},
		// go test (no stamp) beside go build in a clean checkout.
		{"(devel)", "", "v0.0.0-20261208041522-876c857f5d40", "876c857f5d4060c79fc70dc99d3fa5cc6bc77727", true},
		{"v0.0.0-20261208041522-876c857f5d40", "876c857f5d4060c79fc70dc99d3fa5cc6bc77727", "(devel)", "", true},
		{"v1.2.4-0.20261208041522-876c857f5d40", "abc", "v0.0.0-20261208041522-876c857f5d40+dirty", "abc", true},
		// Two development builds of different commits.
		{"v0.0.0-20261208041522-876c857f5d40", "876c", "v0.0.0-20261208051522-976c857f5d40", "976c", false},
		// A release beside a development build.
		{"(devel)", "", "v0.0.1-stale", "abc", false},
		{"v1.2.3", "", "(devel)", "", false},
		{"v1.2.3", "", "v0.0.0-20261208041522-876c857f5d40", "", false},
	}
	for _, tt := range tests {
		if got := compatible(tt.own, tt.ownCommit, tt.v, tt.commit); got != tt.want {
			t.Errorf("compatible(%q, %q, %q, %q) = %t, want %t", tt.own, tt.ownCommit, tt.v, tt.commit, got, tt.want)
		}
	}
}

// TestProgramFails: an error of the program (index.json unreadable)
// comes back with what it wrote on stderr.
func TestProgramFails(t *testing.T) {
	t.Setenv(EnvVar, testbin.SigverifyPath(t))
	cfg := project(t)
	if err := os.WriteFile(filepath.Join(cfg.LayoutDir(), layout.IndexFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Verifier(cfg, nil)(context.Background(), layout.New(cfg.LayoutDir()), cfg.Images)
	if err == nil || !strings.Contains(err.Error(), "exit status 1: vendorimg-sigverify: reading index.json") || errors.Is(err, errs.ErrNoSigverify) {
		t.Errorf("Verifier() on a broken index.json = %v, want the program's exit status and its message", err)
	}
}

// startBlocked runs the real program with a stdin that gives nothing (a
// pipe whose other end the test holds open), so that it waits, and
// returns its PID, found in /proc by the layout folder in its arguments,
// and a channel with run's result.
func startBlocked(t *testing.T, ctx context.Context) (int, <-chan error) {
	t.Helper()
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skipf("no /proc to find the program's process in: %v", err)
	}
	helper := testbin.SigverifyPath(t)
	cfg := project(t)
	stdin, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); w.Close() })
	done := make(chan error, 1)
	go func() {
		_, err := run(ctx, helper, cfg.Path, cfg.LayoutDir(), stdin, nil)
		done <- err
	}()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if pid := findProcess("--layout=" + cfg.LayoutDir()); pid > 0 {
			return pid, done
		}
	}
	t.Fatalf("no process has --layout=%s in its arguments", cfg.LayoutDir())
	return 0, nil
}

func findProcess(arg string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(b), "\x00"+arg+"\x00") || strings.HasSuffix(string(b), "\x00"+arg) {
			return pid
		}
	}
	return 0
}

// gone reports whether the process pid has been reaped.
func gone(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return errors.Is(err, os.ErrNotExist)
}

// TestCancelKillsTheProgram: a cancelled context kills the program, and
// the error is the context's.
func TestCancelKillsTheProgram(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pid, done := startBlocked(t, ctx)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("run() after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(waitDelay + 5*time.Second):
		t.Fatal("run() did not return after cancel")
	}
	if !gone(pid) {
		t.Errorf("process %d still exists after run() returned", pid)
	}
}

// TestProgramKilled: a program killed by a signal is an error that says
// so, not ErrNoSigverify.
func TestProgramKilled(t *testing.T) {
	pid, done := startBlocked(t, context.Background())
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "signal: killed") || errors.Is(err, errs.ErrNoSigverify) {
			t.Errorf("run() of a killed program = %v, want an error saying it was killed", err)
		}
	case <-time.After(waitDelay + 5*time.Second):
		t.Fatal("run() did not return after the program was killed")
	}
}

func TestHeadWriter(t *testing.T) {
	w := &headWriter{max: 10}
	fmt.Fprint(w, "0123456")
	fmt.Fprint(w, "789abcdef")
	if got, want := w.message(), "0123456789 [6 more bytes]"; got != want {
		t.Errorf("message() = %q, want %q", got, want)
	}
	if got := (&headWriter{max: 10}).message(); got != "(nothing on stderr)" {
		t.Errorf("message() of nothing = %q", got)
	}
}

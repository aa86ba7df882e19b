package systemtest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// KillTestEnv gates TestLoadEngineKilled, which starts engines of its own
// and kills them; .ci/run sets it for the README's test run.
const killTestEnv = "VENDORIMG_ENGINE_KILL_TEST"

// killAfter is how many bytes vendorimg load has written to the engine's
// socket when the test kills the engine: a quarter of the image (small,
// so that the test costs its engines' starts more than the image).
const killAfter = 16 << 20

// TestLoadEngineKilled (promise 10): an engine that dies in the middle of
// a load. For each engine scripts/engines can start (the containerd-store
// dockerd, podman), the test starts one of its own, runs vendorimg load
// --json of a 4 x 16 MiB image, and kills the engine with SIGKILL once a
// quarter of the image went to its socket. load must exit 1 (still running
// 30 s after the kill is a hang; it takes a few seconds) with kind
// engine-unreachable and an error saying how far it got;
// once the engine is started again on the same data, the tag must be
// absent; and a second load must succeed and verify --daemon pass.
func TestLoadEngineKilled(t *testing.T) {
	t.Parallel() // long, and mostly waiting: it overlaps the package's other long tests
	if os.Getenv(killTestEnv) != "1" {
		t.Skipf("set %s=1 to start engines of the test's own (scripts/engines: containerd-store dockerd, podman) and kill them mid-load, about a minute; .ci/run sets it", killTestEnv)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("%s=1, but starting engines needs root (a network namespace)", killTestEnv)
	}
	cache := os.Getenv("VENDORIMG_ENGINE_CACHE")
	if cache == "" {
		cache = "/var/cache/vendorimg-engines"
	}
	if _, err := os.Stat(filepath.Join(cache, "bin", "dockerd")); err != nil {
		t.Fatalf("%s=1, but the containerd-store engine is not built (%s/bin/dockerd missing): scripts/engines build, about 11 minutes", killTestEnv, cache)
	}
	for _, tool := range []string{"ip", "nsenter", "docker", "podman", "curl"} {
		lookPath(t, tool, "iproute2, util-linux, docker.io, podman and curl")
	}
	bin := vendorimgBinary(t)
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/kill/big:1"
	pin := registrytest.Push(t, ref, registrytest.Image(t, "linux/amd64", 4, 16<<20, 91, registrytest.OCI))
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s\n    digest: %s\n    platforms: [linux/amd64]\n", ref, pin))
	if out, err := run(t, nil, bin, "--config", cfg.Path, "sync", "-q"); err != nil {
		t.Fatalf("vendorimg sync: %v\n%s", err, out)
	}
	for _, engine := range []string{"containerd", "podman"} {
		t.Run(engine, func(t *testing.T) {
			start := time.Now()
			killMidLoad(t, bin, cfg.Path, engine, ref, cache)
			t.Logf("%s: %s in all", engine, time.Since(start).Round(100*time.Millisecond))
		})
	}
}

// loadOutput is what the test reads of vendorimg load --json.
type loadOutput struct {
	Images []struct {
		Action   string
		Streamed int64
		Bytes    int64
		Error    string
	}
	Error string
	Kind  string
}

func killMidLoad(t *testing.T, bin, cfgPath, engine, ref, cache string) {
	root, _ := os.Getwd()
	// Short: the engine's socket path must fit in a sockaddr_un.
	state, err := os.MkdirTemp("", "vi-kill-")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"VENDORIMG_ENGINE_STATE=" + state, "VENDORIMG_ENGINE_CACHE=" + cache}
	engines := func(args ...string) string {
		t.Helper()
		out, err := run(t, env, filepath.Join(root, "scripts", "engines"), args...)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	t.Cleanup(func() {
		if out, err := run(t, env, filepath.Join(root, "scripts", "engines"), "clean"); err != nil {
			t.Errorf("scripts/engines clean: %v\n%s", err, out)
		}
	})
	engines("start", engine)
	host := strings.TrimPrefix(engines("env", engine), "export DOCKER_HOST=")
	hostEnv := []string{"DOCKER_HOST=" + host}
	pidFile := map[string]string{"containerd": filepath.Join(state, "containerd", "engine.pid"), "podman": filepath.Join(state, "podman", "podman.pid")}[engine]
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s holds %q, not a PID", pidFile, b)
	}
	desc := engines("describe", engine)

	// The load, and the kill once killAfter bytes went to the socket.
	var stdout, stderr bytes.Buffer
	load := exec.Command(bin, "--config", cfgPath, "load", "--json")
	load.Env = append(os.Environ(), hostEnv...)
	load.Stdout, load.Stderr = &stdout, &stderr
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- load.Wait() }()
	var written int64
	deadline := time.Now().Add(2 * time.Minute)
	for written < killAfter {
		select {
		case err := <-exited:
			t.Fatalf("vendorimg load ended (%v) after writing %d bytes, before the engine was killed:\n%s\n%s", err, written, stdout.String(), stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = load.Process.Kill()
			t.Fatalf("vendorimg load wrote only %d bytes in 2 minutes", written)
		}
		written = bytesWritten(t, load.Process.Pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing %s (pid %d): %v", desc, pid, err)
	}
	killed := time.Now()
	var waitErr error
	select {
	case waitErr = <-exited:
	case <-time.After(30 * time.Second):
		_ = load.Process.Kill()
		t.Fatalf("vendorimg load still runs 30 s after %s was killed: it hangs\n%s", desc, stderr.String())
	}
	took := time.Since(killed)
	t.Logf("killed %s after vendorimg load had written %d bytes; load failed %s later", desc, written, took.Round(time.Millisecond))
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) || ee.ExitCode() != 1 {
		t.Errorf("vendorimg load after the kill: %v, want exit 1", waitErr)
	}
	var out loadOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("vendorimg load --json printed %q: %v", stdout.String(), err)
	}
	if out.Kind != "engine-unreachable" || !strings.Contains(out.Error, "the engine stopped answering after ") {
		t.Errorf("vendorimg load --json = kind %q, error %q; want kind engine-unreachable and an error saying the engine stopped answering after how many bytes", out.Kind, out.Error)
	}
	if len(out.Images) != 1 || out.Images[0].Action != "" || out.Images[0].Error == "" {
		t.Errorf("vendorimg load --json images = %+v, want the one image failed", out.Images)
	}
	if !strings.Contains(stderr.String(), out.Error) {
		t.Errorf("vendorimg load's stderr does not say %q:\n%s", out.Error, stderr.String())
	}

	// The same engine again, on the same data root: nothing tagged.
	engines("stop", engine)
	engines("start", engine)
	if out, err := run(t, hostEnv, "docker", "image", "inspect", "--format", "{{.Id}}", ref); err == nil {
		t.Errorf("after the kill and a restart, %s is tagged in %s as %s; want nothing tagged", ref, desc, out)
	}
	all, err := run(t, hostEnv, "docker", "image", "ls", "--all", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s holds after the restart: %q", desc, strings.TrimSpace(string(all)))
	if engine == "containerd" {
		// Blobs the engine had received whole stay in containerd's content
		// store, untagged and unreferenced, until its garbage collection.
		sock := filepath.Join(state, "containerd", "exec", "containerd", "containerd.sock")
		if out, err := run(t, nil, "ctr", "--address", sock, "--namespace", "moby", "content", "ls", "-q"); err == nil {
			t.Logf("containerd's content store (namespace moby) holds %d blobs after the restart", len(strings.Fields(string(out))))
		} else {
			t.Logf("ctr content ls: %v", err)
		}
	}
	if strings.Contains(string(all), strings.TrimSuffix(ref, ":1")) {
		t.Errorf("after the kill and a restart, %s lists %s:\n%s", desc, ref, all)
	}

	// A rerun loads it, and it is the vendored image.
	rerun, err := run(t, hostEnv, bin, "--config", cfgPath, "load", "--json")
	if err != nil {
		t.Fatalf("vendorimg load after the restart: %v\n%s", err, rerun)
	}
	var again loadOutput
	if err := json.Unmarshal(rerun, &again); err != nil || len(again.Images) != 1 || again.Images[0].Action != "loaded" {
		t.Errorf("vendorimg load after the restart = %s (%v), want the image loaded", rerun, err)
	}
	if out, err := run(t, hostEnv, bin, "--config", cfgPath, "verify", "--daemon"); err != nil {
		t.Errorf("vendorimg verify --daemon after the rerun: %v\n%s", err, out)
	}
}

// bytesWritten is what process pid has written so far (write calls of
// any file, its socket to the engine above all), from /proc/PID/io.
func bytesWritten(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0 // it may have just exited; the caller sees that
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatalf("/proc/%d/io has no wchar line:\n%s", pid, b)
	return 0
}

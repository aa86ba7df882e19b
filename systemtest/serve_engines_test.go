package systemtest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/internal/testsupport/testbin"
)

// TestServeToContainerdEngine starts a containerd-store Docker Engine of
// its own (scripts/engines, whose "registry-mirrors" point at 127.0.0.1:5000
// of its network namespace), runs vendorimg serve there, and
// pulls: by serve's address, as docker.io/library/probe:1 through the
// engine's registry mirror, and with containerd's own client (ctr) through
// a hosts.toml mirror, whose requests carry ns=docker.io. Each pull gives
// the vendored index.
func TestServeToContainerdEngine(t *testing.T) {
	t.Parallel() // long, and mostly waiting: it overlaps the package's other long tests
	cache := os.Getenv("VENDORIMG_ENGINE_CACHE")
	if cache == "" {
		cache = "/var/cache/vendorimg-engines"
	}
	if _, err := os.Stat(filepath.Join(cache, "bin", "dockerd")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no dockerd in %s: .ci/run builds it (scripts/engines build)", cache)
		}
		t.Skipf("the containerd-store engine is not built (%s/bin/dockerd missing): scripts/engines build, about 11 minutes", cache)
	}
	if os.Geteuid() != 0 {
		t.Skip("the containerd-store engine needs root (a network namespace)")
	}
	for _, tool := range []string{"ip", "nsenter", "ctr", "docker"} {
		lookPath(t, tool, "iproute2, util-linux, containerd and docker.io")
	}
	bin := vendorimgBinary(t)
	root, _ := os.Getwd()
	state, err := os.MkdirTemp("", "vi-serve-engine-")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"VENDORIMG_ENGINE_STATE=" + state,
		"VENDORIMG_ENGINE_CACHE=" + cache,
	}
	engines := func(args ...string) (string, error) {
		out, err := run(t, env, filepath.Join(root, "scripts", "engines"), args...)
		return strings.TrimSpace(string(out)), err
	}
	t.Cleanup(func() {
		if _, err := engines("clean"); err != nil {
			t.Errorf("scripts/engines clean: %v", err)
		}
	})
	if _, err := engines("start", "containerd"); err != nil {
		t.Fatal(err)
	}
	// Its docker.io mirror, as the engine reports it, and its namespace:
	// "127.0.0.1:5000<TAB>/run/netns/NAME".
	mirror, err := engines("mirror", "containerd")
	if err != nil {
		t.Fatal(err)
	}
	addr, netns, _ := strings.Cut(mirror, "\t")
	if addr != "127.0.0.1:5000" || netns == "" {
		t.Fatalf("scripts/engines mirror containerd = %q, want 127.0.0.1:5000 and the engine's network namespace", mirror)
	}

	// serve, inside the engine's namespace, on its loopback.
	cfgPath := hubCheckout(t)
	p := committedProbe(t, cfgPath)
	logs := testbin.Serve(t, bin, testbin.ServeOptions{Config: cfgPath, Addr: addr, Netns: netns}).Log

	host := []string{"DOCKER_HOST=unix://" + filepath.Join(state, "containerd", "docker.sock")}
	for _, ref := range []string{"127.0.0.1:5000/registry.vendorimg.test/probe:1", "probe:1"} {
		if _, err := run(t, host, "docker", "pull", ref); err != nil {
			t.Fatalf("docker pull %s on the containerd-store engine: %v\nserve:\n%s", ref, err, logs)
		}
		out, err := run(t, host, "docker", "image", "inspect", "--format", "{{.Id}}", ref)
		if got := strings.TrimSpace(string(out)); err != nil || got != p.pin.String() {
			t.Errorf("docker pull %s on the containerd-store engine gave %s %v, want %s", ref, got, err, p.pin)
		}
	}
	if !strings.Contains(logs.String(), "/v2/library/probe/manifests/1") {
		t.Errorf("the registry-mirrors pull of probe:1 did not reach serve as library/probe:\n%s", logs)
	}

	// containerd's client with a hosts.toml mirror for docker.io.
	hosts := filepath.Join(t.TempDir(), "certs.d")
	if err := os.MkdirAll(filepath.Join(hosts, "docker.io"), 0o755); err != nil {
		t.Fatal(err)
	}
	toml := `server = "https://registry-1.docker.io"

[host."http://127.0.0.1:5000"]
  capabilities = ["pull", "resolve"]
`
	if err := os.WriteFile(filepath.Join(hosts, "docker.io", "hosts.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(state, "containerd", "exec", "containerd", "containerd.sock")
	ctr := func(args ...string) ([]byte, error) {
		return run(t, nil, "nsenter", append([]string{"--net=" + netns, "ctr", "--address", sock, "--namespace", "vendorimg-serve-test"}, args...)...)
	}
	start := time.Now()
	if _, err := ctr("images", "pull", "--hosts-dir", hosts, "--platform", "linux/amd64", "docker.io/library/probe:1"); err != nil {
		t.Fatalf("ctr images pull through a hosts.toml mirror: %v\nserve:\n%s", err, logs)
	}
	out, err := ctr("images", "ls")
	if err != nil || !strings.Contains(string(out), p.pin.String()) {
		t.Errorf("ctr images ls after the pull: %s %v; want docker.io/library/probe:1 at %s", out, err, p.pin)
	}
	if !strings.Contains(logs.String(), "ns=docker.io") {
		t.Errorf("containerd's mirror requests did not carry ns=docker.io:\n%s", logs)
	}
	t.Logf("ctr pulled through the hosts.toml mirror in %s", time.Since(start).Round(time.Millisecond))
}

package serve_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/registry"
)

// TestCorruptBlobFailsDockerPull flips a byte of the layer of a random
// image (no engine can have the layer from an earlier pull or load) while
// the handler serves it: the engine does not take the layer (its pull
// fails, or it asks for the layer again), docker holds no image
// afterwards, and the handler logs the blob each time. docker 20.10 asks
// five times, with a longer pause before each attempt (over a minute in
// all): its second request for the layer already shows that it refused
// the first answer, so the test cancels the pull there rather than wait
// for the fifth.
func TestCorruptBlobFailsDockerPull(t *testing.T) {
	e := enginetest.Describe(t)
	host, stop := registrytest.Serve()
	defer stop()
	img := registrytest.Image(t, "linux/amd64", 1, 1<<20, time.Now().UnixNano(), registrytest.Docker)
	pin := registrytest.Push(t, host+"/flip/me:1", img)
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, config.FileName), []byte(fmt.Sprintf("images:\n  - ref: %s/flip/me:1\n    digest: %s\n    platforms: [linux/amd64]\n", host, pin)))
	if err != nil {
		t.Fatal(err)
	}
	client := registry.NewClient(registry.WithKeychain(authn.NewMultiKeychain()))
	if _, err := vendorimg.Sync(context.Background(), cfg, vendorimg.SyncOptions{Client: client}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{layout: layout.New(cfg.LayoutDir()), pin: pin, host: host}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	f.layer = digest.Digest(m.Layers[0].Digest.String())
	srv, logs := f.server(t)
	b := f.blob(t, f.layer)
	b[len(b)-10] ^= 0x01
	if err := os.WriteFile(filepath.Join(f.layout.Root(), layout.RelBlobPath(f.layer)), b, 0o644); err != nil {
		t.Fatal(err)
	}

	ref := strings.TrimPrefix(srv.URL, "http://") + "/flip/me:1"
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "--force", ref).Run() })
	// served is how many times the handler has served the flipped layer and
	// logged it.
	served := func() int {
		n := 0
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "level=ERROR") && strings.Contains(line, f.layer.String()) {
				n++
			}
		}
		return n
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pull := exec.CommandContext(ctx, "docker", "pull", ref)
	var out strings.Builder
	pull.Stdout, pull.Stderr = &out, &out
	start := time.Now()
	if err := pull.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- pull.Wait() }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case err := <-exited:
			if err == nil {
				t.Errorf("docker pull of a flipped blob on %s succeeded:\n%s", e, out.String())
			} else {
				t.Logf("docker pull on %s failed after %s, as it must: %s", e, time.Since(start).Round(time.Millisecond), lastLine(out.String()))
			}
			break wait
		case <-tick.C:
			if served() >= 2 {
				t.Logf("docker on %s asked for the flipped layer again after %s (it refused the first answer); cancelling the pull", e, time.Since(start).Round(time.Millisecond))
				cancel()
				<-exited
				break wait
			}
		}
	}
	if out, err := exec.Command("docker", "image", "inspect", ref).CombinedOutput(); err == nil {
		t.Errorf("docker holds %s after a pull of wrong bytes:\n%s", ref, out)
	}
	if served() == 0 {
		t.Errorf("serve did not log the flipped blob:\n%s", logs)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

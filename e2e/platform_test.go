package e2e_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/internal/testsupport/testimage"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// TestRunHostPlatformOfTwo: the repository's layout holds the probe for
// two platforms, whose programs differ; the engine loaded and runs the
// host's. The container hashes the program at /probe and its own running
// executable (/proc/self/exe): both must be the host platform's program as
// the layout holds it, and neither the other platform's.
func TestRunHostPlatformOfTwo(t *testing.T) {
	e := newEnv(t)
	probe := vendorimgtest.Image(t, probeRef)
	host := runtime.GOOS + "/" + runtime.GOARCH
	if e.platform != host || probe.Platform != host {
		t.Fatalf("the engine's platform is %s and the probe was loaded for %s; want the host's, %s", e.platform, probe.Platform, host)
	}

	// The program of each vendored platform, by its hash.
	idx, err := e.l.ReadIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, ok := layout.Lookup(idx, e.images[0].Name(), "")
	if !ok {
		t.Fatalf("%s has no entry %s", e.l.Root(), e.images[0].Name())
	}
	inv, err := e.l.Inventory(context.Background(), m.Entry, layout.WalkOptions{Platforms: e.images[0].Platforms})
	if err != nil {
		t.Fatal(err)
	}
	programs := map[string]string{} // platform -> sha256 hex of /probe
	for _, im := range inv.Images {
		p := platform.FromOCI(im.Platform).String()
		if len(im.Layers) != 1 {
			t.Fatalf("%s %s has %d layers, want 1", probeRef, p, len(im.Layers))
		}
		sum, err := fileSum(e.l, im.Layers[0].Digest, testimage.Binary)
		if err != nil {
			t.Fatalf("%s %s: %v", probeRef, p, err)
		}
		programs[p] = sum
	}
	want, ok := programs[host]
	if len(programs) < 2 || !ok {
		t.Fatalf("the layout holds %s for %v; want two platforms or more, the host's (%s) among them", probeRef, programs, host)
	}
	for p, sum := range programs {
		if p != host && sum == want {
			t.Fatalf("the programs of %s and %s are the same (%s): the test could not tell them apart", host, p, sum)
		}
	}

	if got := docker(t, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", probe.Ref); got != host {
		t.Errorf("docker image inspect %s: platform %s, want %s", probe.Ref, got, host)
	}
	enginetest.RequireRun(t, probe.Ref, "exit", "0")
	r := runContainer(t, probe.Ref, "sha256", testimage.Binary, "/proc/self/exe")
	wantOut := fmt.Sprintf("%s  %s\n%s  /proc/self/exe\n", want, testimage.Binary, want)
	if r.code != 0 || r.stdout != wantOut {
		t.Errorf("docker run %s sha256 %s /proc/self/exe = %d, %q (stderr %q); want 0 and the %s program's hash %s for both (programs by platform: %v)",
			probe.Ref, testimage.Binary, r.code, r.stdout, r.stderr, host, want, programs)
	}
}

// fileSum is the sha256 (hex) of the file at path (absolute, as in the
// container) in the gzipped layer d of l.
func fileSum(l *layout.Layout, d digest.Digest, path string) (string, error) {
	f, err := l.OpenBlob(d)
	if err != nil {
		return "", err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", fmt.Errorf("layer %s: %w", d, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("layer %s has no %s", d, path)
		}
		if err != nil {
			return "", fmt.Errorf("layer %s: %w", d, err)
		}
		if strings.TrimPrefix(h.Name, "./") != strings.TrimPrefix(path, "/") {
			continue
		}
		s := sha256.New()
		if _, err := io.Copy(s, tr); err != nil {
			return "", fmt.Errorf("layer %s, %s: %w", d, path, err)
		}
		return hex.EncodeToString(s.Sum(nil)), nil
	}
}

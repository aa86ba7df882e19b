package systemtest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/registry"
)

// flakyImage pushes a two-platform index to f as fault/app:1 and writes a
// vendorimg.yaml pinning it for linux/amd64 only. It returns the config,
// the index digest and the amd64 layers.
func flakyImage(t *testing.T, f *registrytest.Fault) (*config.Config, digest.Digest, []v1.Descriptor) {
	t.Helper()
	idx := registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 2, 8192, 42, registrytest.OCI)
	top := registrytest.Push(t, f.Host+"/fault/app:1", idx)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var layers []v1.Descriptor
	for _, d := range im.Manifests {
		if d.Platform.Architecture != "amd64" {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		layers = m.Layers
	}
	if len(layers) != 2 {
		t.Fatalf("the amd64 image has %d layers, want 2", len(layers))
	}
	dir := t.TempDir()
	path := filepath.Join(dir, config.FileName)
	yaml := fmt.Sprintf("layout: images\nimages:\n  - ref: %s/fault/app:1\n    digest: %s\n    platforms: [linux/amd64]\n", f.Host, top)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	f.Reset()
	return cfg, top, layers
}

// flakyClient retries within milliseconds and reads no docker config.
func flakyClient() *registry.Client {
	return registry.NewClient(registry.WithKeychain(authn.NewMultiKeychain()),
		registry.WithRetry(registry.RetryPolicy{Attempts: 5, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}))
}

func blobURL(d v1.Descriptor) string { return "/v2/fault/app/blobs/" + d.Digest.String() }

// checkNothingUnverified walks the layout: no temporary file is left, and
// every blob hashes to its name (Promise 1).
func checkNothingUnverified(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(d.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", path)
		}
		if d.IsDir() || filepath.Dir(path) != filepath.Join(root, "blobs", "sha256") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != d.Name() {
			t.Errorf("blob %s hashes to sha256:%x", path, sum)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkVerifies(t *testing.T, cfg *config.Config) {
	t.Helper()
	rep, err := vendorimg.Verify(context.Background(), cfg, vendorimg.VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if !rep.OK() {
		t.Errorf("Verify found %+v", rep.Findings)
	}
}

func TestSyncFaultTruncatedBlobIsRetried(t *testing.T) {
	f := registrytest.NewFault(t)
	cfg, _, layers := flakyImage(t, f)
	// The first download of the first layer is cut mid-body.
	f.On(registrytest.Request(http.MethodGet, blobURL(layers[0])), 1, registrytest.Truncate())

	res, err := vendorimg.Sync(context.Background(), cfg, vendorimg.SyncOptions{Client: flakyClient()})
	if err != nil {
		t.Fatalf("Sync = %v", err)
	}
	if n := f.Count(http.MethodGet, blobURL(layers[0])); n != 2 {
		t.Errorf("the cut layer was fetched %d times, want 2", n)
	}
	// Index, manifest, config and two layers.
	if res.Fetched != 5 {
		t.Errorf("Sync fetched %d blobs, want 5", res.Fetched)
	}
	checkNothingUnverified(t, cfg.LayoutDir())
	checkVerifies(t, cfg)
}

func TestSyncFaultWrongBytesLeaveNothing(t *testing.T) {
	f := registrytest.NewFault(t)
	cfg, _, layers := flakyImage(t, f)
	bad := layers[1]
	f.On(registrytest.Request("", blobURL(bad)), -1, registrytest.Rewrite(func(_ http.Header, body []byte) []byte {
		b := bytes.Clone(body)
		b[len(b)/2] ^= 0xff // same length, other bytes
		return b
	}))

	res, err := vendorimg.Sync(context.Background(), cfg, vendorimg.SyncOptions{Client: flakyClient()})
	if !errors.Is(err, errs.ErrDigestMismatch) {
		t.Fatalf("Sync = %v, want %v", err, errs.ErrDigestMismatch)
	}
	if !strings.Contains(err.Error(), bad.Digest.String()) {
		t.Errorf("Sync error %q does not name %s", err, bad.Digest)
	}
	if res == nil || len(res.Images) != 1 || res.Images[0].Err() == nil {
		t.Errorf("Sync result %+v does not report the image's failure", res)
	}
	if n := f.Count(http.MethodGet, blobURL(bad)); n != 1 {
		t.Errorf("the bad layer was fetched %d times, want 1: a wrong digest is final", n)
	}
	l := layout.New(cfg.LayoutDir())
	path, err := l.BlobPath(digest.Digest(bad.Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the bad layer is stored (%v)", err)
	}
	// Nothing at all: the blobs that verified were only staged.
	if _, err := os.Lstat(cfg.LayoutDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a failed first sync, %s: %v, want it absent", cfg.LayoutDir(), err)
	}
}

func TestSyncFault429StormThenSuccess(t *testing.T) {
	f := registrytest.NewFault(t)
	cfg, _, _ := flakyImage(t, f)
	var mu sync.Mutex
	seen := map[string]int{}
	var sent atomic.Int64
	// The first two requests for each path are refused.
	firstTwo := func(r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		seen[r.URL.Path]++
		if seen[r.URL.Path] > 2 {
			return false
		}
		sent.Add(1)
		return true
	}
	f.On(firstTwo, -1, registrytest.Respond(http.StatusTooManyRequests, "Retry-After", "0"))

	res, err := vendorimg.Sync(context.Background(), cfg, vendorimg.SyncOptions{Client: flakyClient()})
	if err != nil {
		t.Fatalf("Sync = %v", err)
	}
	// The ping, the index, the manifest, the config and two layers, each
	// refused twice.
	if n := sent.Load(); n != 12 {
		t.Errorf("%d answers were 429, want 12 (%q)", n, f.Requests())
	}
	if res.Fetched != 5 {
		t.Errorf("Sync fetched %d blobs, want 5", res.Fetched)
	}
	checkVerifies(t, cfg)
}

func TestSyncFaultOffline(t *testing.T) {
	ctx := context.Background()
	t.Run("empty layout", func(t *testing.T) {
		f := registrytest.NewFault(t)
		cfg, top, _ := flakyImage(t, f)
		_, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Offline: true, Client: flakyClient()})
		if !errors.Is(err, errs.ErrOffline) {
			t.Fatalf("Sync(offline) = %v, want %v", err, errs.ErrOffline)
		}
		if !strings.Contains(err.Error(), top.String()) {
			t.Errorf("Sync(offline) error %q does not list %s", err, top)
		}
		if n := f.Conns(); n != 0 {
			t.Errorf("Sync(offline) opened %d connections (%q)", n, f.Requests())
		}
	})
	t.Run("missing layers", func(t *testing.T) {
		f := registrytest.NewFault(t)
		cfg, _, layers := flakyImage(t, f)
		if _, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Client: flakyClient()}); err != nil {
			t.Fatalf("Sync = %v", err)
		}
		l := layout.New(cfg.LayoutDir())
		for _, d := range layers {
			path, err := l.BlobPath(digest.Digest(d.Digest.String()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}
		f.Reset()

		_, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Offline: true, Client: flakyClient()})
		if !errors.Is(err, errs.ErrOffline) {
			t.Fatalf("Sync(offline) = %v, want %v", err, errs.ErrOffline)
		}
		for _, d := range layers {
			if !strings.Contains(err.Error(), d.Digest.String()) {
				t.Errorf("Sync(offline) error %q does not list %s", err, d.Digest)
			}
		}
		if n := f.Conns(); n != 0 {
			t.Errorf("Sync(offline) opened %d connections (%q)", n, f.Requests())
		}
	})
}

func TestSyncFaultCompleteLayoutIsOffline(t *testing.T) {
	f := registrytest.NewFault(t)
	cfg, _, _ := flakyImage(t, f)
	ctx := context.Background()
	if _, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Client: flakyClient()}); err != nil {
		t.Fatalf("Sync = %v", err)
	}
	indexPath := filepath.Join(cfg.LayoutDir(), "index.json")
	before, err := os.ReadFile(indexPath)
	if err != nil {
		t.Fatal(err)
	}
	f.Reset()

	for _, offline := range []bool{false, true} {
		res, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Offline: offline, Client: flakyClient()})
		if err != nil {
			t.Fatalf("Sync(offline=%v) = %v", offline, err)
		}
		if !res.UpToDate || res.Fetched != 0 || res.IndexChanged {
			t.Errorf("Sync(offline=%v) = %+v, want up to date with nothing fetched", offline, res)
		}
	}
	if n := f.Conns(); n != 0 {
		t.Errorf("Sync on a complete layout opened %d connections (%q)", n, f.Requests())
	}
	after, err := os.ReadFile(indexPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("index.json changed:\n%s\nwas\n%s", after, before)
	}
}

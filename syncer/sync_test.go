package syncer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/reference"
	"github.com/vendorimg/vendorimg/registry"
	"github.com/vendorimg/vendorimg/syncer"
)

// fakeRegistry serves one image from memory and counts what it is asked
// for; cut is how many times each blob's stream is cut short before it is
// served whole.
type fakeRegistry struct {
	manifest  []byte
	mediaType string
	blobs     map[digest.Digest][]byte
	cut       int

	mu    sync.Mutex
	asked map[digest.Digest]int
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRegistry{blobs: map[digest.Digest][]byte{}, asked: map[digest.Digest]int{}}
	if f.manifest, err = img.RawManifest(); err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()
	f.mediaType = string(mt)
	raw, _ := img.RawConfigFile()
	f.blobs[digest.FromBytes(raw)] = raw
	layers, _ := img.Layers()
	for _, l := range layers {
		rc, _ := l.Compressed()
		b, _ := io.ReadAll(rc)
		f.blobs[digest.FromBytes(b)] = b
	}
	return f
}

func (f *fakeRegistry) pin() digest.Digest { return digest.FromBytes(f.manifest) }

func (f *fakeRegistry) Resolve(context.Context, reference.Reference) (ocispec.Descriptor, error) {
	return ocispec.Descriptor{MediaType: f.mediaType, Digest: f.pin(), Size: int64(len(f.manifest))}, nil
}

func (f *fakeRegistry) Manifest(_ context.Context, _ reference.Reference, d digest.Digest) ([]byte, string, error) {
	f.count(d)
	if d != f.pin() {
		return nil, "", fmt.Errorf("manifest %s: %w", d, errs.ErrNotFound)
	}
	return f.manifest, f.mediaType, nil
}

func (f *fakeRegistry) Blob(_ context.Context, _ reference.Reference, desc ocispec.Descriptor) (io.ReadCloser, error) {
	n := f.count(desc.Digest)
	b, ok := f.blobs[desc.Digest]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, errs.ErrNotFound)
	}
	if n <= f.cut {
		return io.NopCloser(io.MultiReader(bytes.NewReader(b[:len(b)/2]), errReader{io.ErrUnexpectedEOF})), nil
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (f *fakeRegistry) count(d digest.Digest) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked[d]++
	return f.asked[d]
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func newConfig(t *testing.T, f *fakeRegistry) *config.Config {
	t.Helper()
	cfg, err := config.New(filepath.Join(t.TempDir(), "vendorimg.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reference.Parse("registry.example/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Set(config.Image{Ref: ref, Digest: f.pin(), Platforms: platform.Selection{All: true}}); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestSyncFetchesEachBlobOnceThenNothing: a first sync fetches the
// manifest and every blob exactly once, a second fetches nothing.
func TestSyncFetchesEachBlobOnceThenNothing(t *testing.T) {
	f := newFakeRegistry(t)
	cfg := newConfig(t, f)
	ctx := context.Background()
	res, err := syncer.Sync(ctx, cfg, syncer.Options{Client: f})
	if err != nil {
		t.Fatalf("Sync() = %v", err)
	}
	if want := len(f.blobs) + 1; res.Fetched != want || res.UpToDate {
		t.Errorf("Sync() fetched %d blobs (up to date %v), want %d", res.Fetched, res.UpToDate, want)
	}
	for d, n := range f.asked {
		if n != 1 {
			t.Errorf("Sync() asked for %s %d times, want once", d, n)
		}
	}
	rep, err := layout.New(cfg.LayoutDir()).Verify(ctx, layout.VerifyOptions{Images: layout.Expectations(cfg.Images)})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify() after Sync = %v, %v", rep.Findings, err)
	}
	again, err := syncer.Sync(ctx, cfg, syncer.Options{Client: f})
	if err != nil || !again.UpToDate || again.Fetched != 0 {
		t.Errorf("second Sync() = fetched %d, up to date %v, %v; want nothing fetched", again.Fetched, again.UpToDate, err)
	}
}

// TestSyncRestartsACutStream: a layer whose stream is cut once is fetched
// again, with a progress.Retry event, through the registry's restarts.
func TestSyncRestartsACutStream(t *testing.T) {
	f := newFakeRegistry(t)
	f.cut = 1
	cfg := newConfig(t, f)
	var mu sync.Mutex
	retries := 0
	res, err := syncer.Sync(context.Background(), cfg, syncer.Options{Client: f, Restarts: registry.Restarts{Backoff: time.Nanosecond}, Progress: func(e progress.Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Kind == progress.Retry {
			retries++
		}
	}})
	if err != nil {
		t.Fatalf("Sync() with streams cut once = %v", err)
	}
	// The config and the two layers stream (the manifest is read whole).
	if retries != len(f.blobs) || res.Fetched != len(f.blobs)+1 {
		t.Errorf("Sync() retried %d streams and fetched %d blobs, want %d and %d", retries, res.Fetched, len(f.blobs), len(f.blobs)+1)
	}
}

// TestSyncRejectsBadOptions: a negative count is an error before any
// request, and the layout is not created.
func TestSyncRejectsBadOptions(t *testing.T) {
	for name, opts := range map[string]syncer.Options{
		"jobs":     {Jobs: -1},
		"restarts": {Restarts: registry.Restarts{Attempts: -1}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeRegistry(t)
			cfg := newConfig(t, f)
			opts.Client = f
			_, err := syncer.Sync(context.Background(), cfg, opts)
			if !errors.Is(err, errs.ErrInvalidOption) {
				t.Errorf("Sync(%+v) = %v, want errs.ErrInvalidOption", opts, err)
			}
			if len(f.asked) != 0 || layout.New(cfg.LayoutDir()).Exists() {
				t.Errorf("Sync(%+v) asked the registry %d times or created the layout", opts, len(f.asked))
			}
		})
	}
}

// TestSyncOfflineListsWhatIsMissing: offline, nothing is asked of the
// registry and the error says what is missing.
func TestSyncOfflineListsWhatIsMissing(t *testing.T) {
	f := newFakeRegistry(t)
	cfg := newConfig(t, f)
	_, err := syncer.Sync(context.Background(), cfg, syncer.Options{Client: f, Offline: true})
	if !errors.Is(err, errs.ErrOffline) || len(f.asked) != 0 {
		t.Errorf("Sync(offline) = %v after %d requests, want errs.ErrOffline after none", err, len(f.asked))
	}
}

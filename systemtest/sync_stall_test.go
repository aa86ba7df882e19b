package systemtest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/registry"
)

// stallTimeouts are small so that the stall tests take a second, not the
// defaults' minutes: the real registry on loopback answers in
// milliseconds.
var stallTimeouts = registry.Timeouts{ResponseHeader: 500 * time.Millisecond, Stall: 500 * time.Millisecond, MinSpeed: 4096}

// stallOptions are sync's options for the stall tests: the default client
// (so that notices reach Progress), small timeouts, quick retries, no
// docker config.
func stallOptions(events *eventLog) vendorimg.SyncOptions {
	return vendorimg.SyncOptions{
		ClientOptions: []registry.Option{
			registry.WithKeychain(authn.NewMultiKeychain()),
			registry.WithTimeouts(stallTimeouts),
			registry.WithRetry(registry.RetryPolicy{Attempts: 2, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}),
		},
		Progress: events.add,
	}
}

// eventLog collects progress events.
type eventLog struct {
	mu     sync.Mutex
	events []progress.Event
}

func (l *eventLog) add(e progress.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) of(k progress.Kind) []progress.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []progress.Event
	for _, e := range l.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// proxiedImage pushes a one-platform image with one layer of 256 KiB to
// the real distribution registry and writes a vendorimg.yaml that pins it
// through a fault proxy. It returns the config, the proxy and the layer.
func proxiedImage(t *testing.T) (*config.Config, *registrytest.Proxy, digest.Digest) {
	t.Helper()
	reg := registrytest.Start(t, registrytest.Options{})
	img := registrytest.Image(t, "linux/amd64", 1, 256<<10, 51, registrytest.OCI)
	top := registrytest.Push(t, reg.Host+"/stall/app:1", img)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	proxy := registrytest.NewProxy(t, reg.Host)
	path := filepath.Join(t.TempDir(), config.FileName)
	yaml := fmt.Sprintf("layout: images\nimages:\n  - ref: %s/stall/app:1\n    digest: %s\n    platforms: [linux/amd64]\n", proxy.Host, top)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, proxy, digest.Digest(m.Layers[0].Digest.String())
}

// TestSyncStalledRegistry is promise 10 against the real registry behind
// a fault proxy: a layer download that stalls, trickles at 10 bytes a
// second, or is reset mid-body is started again and the sync succeeds; a
// registry that never sends the layer's headers fails the sync within
// the stated bound (Attempts x ResponseHeader, plus backoff), with
// errs.ErrTimeout and no change to the layout.
func TestSyncStalledRegistry(t *testing.T) {
	t.Parallel() // long, and mostly waiting: it overlaps the package's other long tests
	for _, tc := range []struct {
		name  string
		mode  registrytest.Mode
		times int // how many layer downloads meet the fault
		fails bool
		words string
	}{
		{"stall mid-body once", registrytest.StallAfter(64 << 10), 1, false, "stalled: no byte for 500ms"},
		{"10 bytes a second once", registrytest.Slow(10), 1, false, "too slow"},
		{"reset mid-body once", registrytest.ResetAfter(64 << 10), 1, false, "connection reset"},
		{"cut mid-body once", registrytest.CutAfter(64 << 10), 1, false, "unexpected EOF"},
		{"stall mid-body always", registrytest.StallAfter(64 << 10), -1, true, "stalled: no byte for 500ms"},
		{"no headers ever", registrytest.Stall(), -1, true, "no response headers within 500ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, proxy, layer := proxiedImage(t)
			proxy.On(registrytest.Request(http.MethodGet, "/blobs/"+layer.String()), tc.times, tc.mode)
			var events eventLog
			start := time.Now()
			res, err := vendorimg.Sync(context.Background(), cfg, stallOptions(&events))
			elapsed := time.Since(start)
			retries := events.of(progress.Retry)
			t.Logf("%s: sync returned after %v (%d restarts): %v", tc.name, elapsed, len(retries), err)
			if tc.fails {
				if !errors.Is(err, errs.ErrTimeout) {
					t.Fatalf("Sync = %v, want %v", err, errs.ErrTimeout)
				}
				if !strings.Contains(err.Error(), tc.words) {
					t.Errorf("Sync error %q does not say %q", err, tc.words)
				}
				if _, serr := os.Stat(cfg.LayoutDir()); !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("a failed first sync left %s behind (%v)", cfg.LayoutDir(), serr)
				}
				// The bound: blob restarts (4) x stall, or the client's tries
				// (2) x header timeout; both well under 5s. Only a hang (the
				// proxy stalls until the test ends) fails this: the bound is
				// an order of magnitude above, for a loaded machine.
				if elapsed > time.Minute {
					t.Errorf("Sync took %v to give up, want a few seconds", elapsed)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sync = %v, want success after a restart", err)
			}
			if res.Fetched == 0 {
				t.Errorf("Sync fetched nothing")
			}
			if len(retries) != 1 || retries[0].Digest != layer || !strings.Contains(retries[0].Err.Error(), tc.words) {
				t.Errorf("restarts = %+v, want one of %s saying %q", retries, layer, tc.words)
			}
			checkNothingUnverified(t, cfg.LayoutDir())
			checkVerifies(t, cfg)
		})
	}
}

// TestSyncLongRetryAfterNotices: a registry that asks to wait a day makes
// sync announce each (capped) wait as a progress.Notice and fail once the
// budget is spent, saying the registry asked to wait.
func TestSyncLongRetryAfterNotices(t *testing.T) {
	f := registrytest.NewFault(t)
	cfg, _, layers := flakyImage(t, f)
	f.On(registrytest.Request(http.MethodGet, blobURL(layers[0])), -1, registrytest.Respond(http.StatusServiceUnavailable, "Retry-After", "86400"))
	var events eventLog
	opts := stallOptions(&events)
	opts.ClientOptions = append(opts.ClientOptions, registry.WithRetry(registry.RetryPolicy{
		MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxRetryAfter: 50 * time.Millisecond, MaxWait: 300 * time.Millisecond}))

	_, err := vendorimg.Sync(context.Background(), cfg, opts)
	if err == nil || !strings.Contains(err.Error(), "asked to wait 24h0m0s") {
		t.Fatalf("Sync = %v, want an error saying the registry asked to wait 24h0m0s", err)
	}
	notices := events.of(progress.Notice)
	if len(notices) != 6 {
		t.Errorf("%d notices, want one per 50ms wait of the 300ms budget (6): %+v", len(notices), notices)
	}
	for _, n := range notices {
		if !strings.Contains(n.Message, "asked to wait 24h0m0s") || !strings.Contains(n.Message, "waiting 50ms") {
			t.Errorf("notice %q does not say what was asked and what vendorimg does", n.Message)
		}
	}
	if n := f.Count(http.MethodGet, blobURL(layers[0])); n != len(notices)+1 {
		t.Errorf("the layer was asked for %d times, want %d: a request after each wait, no restart on top", n, len(notices)+1)
	}
}

package registry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// testTimeouts keep the fault tests fast: a real registry on loopback
// answers in milliseconds, so 400ms is a stall.
var testTimeouts = Timeouts{ResponseHeader: 400 * time.Millisecond, Stall: 400 * time.Millisecond, MinSpeed: 1024}

// proxied pushes a one-layer image of layerSize bytes to the real
// registry and returns a client, the reference through a fault proxy, and
// the layer's descriptor.
func proxied(t *testing.T, layerSize int64, attempts int) (*Client, *registrytest.Proxy, ocispec.Descriptor, string) {
	t.Helper()
	reg := registrytest.Start(t, registrytest.Options{})
	img := registrytest.Image(t, "linux/amd64", 1, layerSize, 41, registrytest.OCI)
	registrytest.Push(t, reg.Host+"/app/web:1", img)
	proxy := registrytest.NewProxy(t, reg.Host)
	c := NewClient(anonymous, WithTimeouts(testTimeouts),
		WithRetry(RetryPolicy{Attempts: attempts, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}))
	return c, proxy, blobOf(t, img), proxy.Host + "/app/web:1"
}

// TestTimeouts drives the client through a TCP proxy in front of the real
// distribution registry: each way a response can hang ends in a transient
// errs.ErrTimeout within the bound, and a cut or reset body in a transient
// error.
func TestTimeouts(t *testing.T) {
	_, proxy, layer, refName := proxied(t, 256<<10, 2)
	ref := mustRef(t, refName)
	ctx := context.Background()
	blobPath := "/blobs/" + layer.Digest.String()
	// Each case's client is strict only about the bound the case tests:
	// on a loaded machine the real registry can take longer than 400ms to
	// answer on loopback, and a bound that is not under test must not end
	// the request first.
	const lenient = time.Minute
	headersOnly := Timeouts{ResponseHeader: testTimeouts.ResponseHeader, Stall: lenient, MinSpeed: testTimeouts.MinSpeed}
	bodyOnly := Timeouts{ResponseHeader: lenient, Stall: testTimeouts.Stall, MinSpeed: testTimeouts.MinSpeed}
	neither := Timeouts{ResponseHeader: lenient, Stall: lenient, MinSpeed: testTimeouts.MinSpeed}
	clients := map[Timeouts]*Client{}
	with := func(to Timeouts) *Client {
		if clients[to] == nil {
			clients[to] = NewClient(anonymous, WithTimeouts(to),
				WithRetry(RetryPolicy{Attempts: 2, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}))
		}
		return clients[to]
	}
	c := with(neither)
	// Connect first, so that the cases time the blob request alone.
	if _, err := c.Resolve(ctx, ref); err != nil {
		t.Fatalf("Resolve = %v", err)
	}

	t.Run("no headers", func(t *testing.T) {
		c := with(headersOnly)
		proxy.On(registrytest.Request(http.MethodGet, blobPath), 2, registrytest.Stall())
		start := time.Now()
		rc, err := c.Blob(ctx, ref, layer)
		elapsed := time.Since(start)
		if err == nil {
			rc.Close()
			t.Fatal("Blob succeeded although the registry sent no headers")
		}
		if !errors.Is(err, errs.ErrTimeout) || !Transient(err) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Blob = %v, want a transient %v that is not a deadline", err, errs.ErrTimeout)
		}
		if !strings.Contains(err.Error(), "no response headers within 400ms") {
			t.Errorf("Blob error %q does not say what timed out", err)
		}
		// Two tries of 400ms each and a backoff of about 10ms: a timer never
		// fires early, so the lower bound holds on any machine. The upper
		// bound only tells a wait the timeouts ended from a hang (the
		// stall lasts until the test ends); it is far above 0.8s so that a
		// loaded machine, slow to run timers, does not fail it.
		if elapsed < 800*time.Millisecond || elapsed > time.Minute {
			t.Errorf("Blob gave up after %v, want about 2 x 400ms", elapsed)
		}
		t.Logf("no headers: failed after %v: %v", elapsed, err)
	})

	for _, tc := range []struct {
		name    string
		mode    registrytest.Mode
		timeout bool
		words   string
	}{
		{"stall mid-body", registrytest.StallAfter(64 << 10), true, "stalled: no byte for 400ms while sending /v2/app/web/blobs/"},
		{"10 bytes a second", registrytest.Slow(10), true, "too slow"},
		{"reset mid-body", registrytest.ResetAfter(64 << 10), false, ""},
		{"cut mid-body", registrytest.CutAfter(64 << 10), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := with(neither)
			if tc.timeout {
				c = with(bodyOnly)
			}
			proxy.On(registrytest.Request(http.MethodGet, blobPath), 1, tc.mode)
			start := time.Now()
			rc, err := c.Blob(ctx, ref, layer)
			if err != nil {
				t.Fatalf("Blob = %v", err)
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			elapsed := time.Since(start)
			if err == nil {
				t.Fatalf("reading the body = %d bytes and no error", n)
			}
			if !Transient(err) {
				t.Errorf("reading the body = %v, want a transient error", err)
			}
			if tc.timeout != errors.Is(err, errs.ErrTimeout) {
				t.Errorf("reading the body = %v; matches %v: %v, want %v", err, errs.ErrTimeout, !tc.timeout, tc.timeout)
			}
			if tc.name == "reset mid-body" && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("reading the body = %v, want %v", err, syscall.ECONNRESET)
			}
			if tc.name == "cut mid-body" && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("reading the body = %v, want %v", err, io.ErrUnexpectedEOF)
			}
			if !strings.Contains(err.Error(), tc.words) {
				t.Errorf("reading the body = %q, want it to say %q", err, tc.words)
			}
			// As above: at least the stall bound, and far less than a hang.
			if tc.timeout && (elapsed < 400*time.Millisecond || elapsed > time.Minute) {
				t.Errorf("the body failed after %v, want about 400ms", elapsed)
			}
			t.Logf("%s: failed after %v, %d bytes read: %v", tc.name, elapsed, n, err)
		})
	}

	t.Run("passes again", func(t *testing.T) {
		rc, err := c.Blob(ctx, ref, layer)
		if err != nil {
			t.Fatalf("Blob = %v", err)
		}
		defer rc.Close()
		if n, err := io.Copy(io.Discard, rc); err != nil || n != layer.Size {
			t.Errorf("reading the body = %d bytes, %v, want %d bytes", n, err, layer.Size)
		}
	})
}

// TestSlowButSteadyIsNotAStall: a body slower than the registry on
// loopback but above MinSpeed arrives whole.
func TestSlowButSteadyIsNotAStall(t *testing.T) {
	c, proxy, layer, refName := proxied(t, 16<<10, 1)
	ref := mustRef(t, refName)
	c.timeouts = Timeouts{ResponseHeader: 2 * time.Second, Stall: 300 * time.Millisecond, MinSpeed: 1024}
	proxy.On(registrytest.Request(http.MethodGet, "/blobs/"+layer.Digest.String()), 1, registrytest.Slow(20<<10))
	rc, err := c.Blob(context.Background(), ref, layer)
	if err != nil {
		t.Fatalf("Blob = %v", err)
	}
	defer rc.Close()
	if n, err := io.Copy(io.Discard, rc); err != nil || n != layer.Size {
		t.Errorf("reading a 20 KiB/s body = %d bytes, %v, want %d bytes", n, err, layer.Size)
	}
}

// TestWatchedBodyIgnoresTheReadersOwnPauses: time the reader spends away
// from Read (hashing, writing) is not the registry's stall.
func TestWatchedBodyIgnoresTheReadersOwnPauses(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		for range 3 {
			_, _ = pw.Write([]byte("x"))
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodGet, "http://registry.test/v2/x/blobs/y", nil)
	b := newWatchedBody(pr, func() {}, Timeouts{Stall: 50 * time.Millisecond, MinSpeed: 1 << 20}, req)
	buf := make([]byte, 1)
	for {
		_, err := b.Read(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Read = %v after a pause of the reader's own", err)
		}
		// The reader is busy elsewhere for twice the stall bound.
		<-time.After(100 * time.Millisecond)
	}
}

func TestTimeoutsDefaults(t *testing.T) {
	if got := (Timeouts{}).withDefaults(); got != DefaultTimeouts {
		t.Errorf("Timeouts{}.withDefaults() = %+v, want %+v", got, DefaultTimeouts)
	}
	if DefaultTimeouts != (Timeouts{ResponseHeader: 30 * time.Second, Stall: 30 * time.Second, MinSpeed: 1024}) {
		t.Errorf("DefaultTimeouts = %+v, want what the doc comments and the README say", DefaultTimeouts)
	}
	off := Timeouts{ResponseHeader: -1, Stall: -1, MinSpeed: -1}.withDefaults()
	inner := &scriptedTransport{steps: steps(status(200))}
	req, _ := http.NewRequest(http.MethodGet, "http://registry.test/v2/", nil)
	resp, err := (&timeoutTransport{inner: inner, timeouts: off}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, watched := resp.Body.(*watchedBody); watched {
		t.Errorf("negative timeouts still watch the body")
	}
}

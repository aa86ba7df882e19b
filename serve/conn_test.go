package serve_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/registry"
	"github.com/vendorimg/vendorimg/serve"
)

// signalHandler is a slog handler that sends each message it hears to a
// channel, so that a test waits for what serve did rather than for time.
type signalHandler struct{ msgs chan string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.msgs <- r.Message:
	default:
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// oneLayer syncs a one-platform image with one layer of size bytes and
// returns its config and the path of the layer's blob, and its size.
func oneLayer(t *testing.T, size int64) (*config.Config, string, int64) {
	t.Helper()
	host, stop := registrytest.Serve()
	t.Cleanup(stop)
	img := registrytest.Image(t, "linux/amd64", 1, size, 41, registrytest.OCI)
	pin := registrytest.Push(t, host+"/slow/app:1", img)
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, config.FileName), fmt.Appendf(nil, "images:\n  - ref: %s/slow/app:1\n    digest: %s\n    platforms: [linux/amd64]\n", host, pin))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vendorimg.Sync(context.Background(), cfg, vendorimg.SyncOptions{Client: registry.NewClient(registry.WithKeychain(authn.NewMultiKeychain()))}); err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return cfg, "/v2/slow/app/blobs/" + m.Layers[0].Digest.String(), m.Layers[0].Size
}

// runServe runs serve.Run on a free loopback port until the test ends and
// returns its address and the messages it logs.
func runServe(t *testing.T, cfg *config.Config, opts serve.RunOptions) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan string, 1024)
	opts.Listener, opts.Logger = ln, slog.New(signalHandler{msgs})
	ready := make(chan struct{})
	opts.Ready = func(serve.Info) { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve.Run(ctx, cfg, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve.Run = %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve.Run = %v before it listened", err)
	}
	return ln.Addr().String(), msgs
}

// openFDs lists this process's open file descriptors and what they are:
// serve's listener and connections, and the test's own.
func openFDs(t *testing.T) map[string]string {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("counting file descriptors needs /proc: %v", err)
	}
	fds := map[string]string{}
	for _, e := range es {
		fds[e.Name()], _ = os.Readlink("/proc/self/fd/" + e.Name())
	}
	return fds
}

// checkFDs fails the test for each descriptor open now that was not in
// before, a count of sockets serve still holds.
func checkFDs(t *testing.T, before map[string]string, when string) {
	t.Helper()
	var extra []string
	for fd, what := range openFDs(t) {
		if w, ok := before[fd]; (!ok || w != what) && what != "" {
			extra = append(extra, fd+" "+what)
		}
	}
	if len(extra) > 0 {
		t.Errorf("%d file descriptors open %s that were not before: %v", len(extra), when, extra)
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// get sends a GET of path on c and reads the whole response.
func get(t *testing.T, c net.Conn, path string) {
	t.Helper()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: serve.test\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %s", path, resp.Status)
	}
}

// TestServeCutsSlowReaders: clients that ask for a layer and stop reading
// have their connections cut once a write makes no progress within
// WriteTimeout; serve's file descriptors and memory come back to where
// they were.
func TestServeCutsSlowReaders(t *testing.T) {
	// More than a loopback connection's buffers hold.
	cfg, blob, size := oneLayer(t, 24<<20)
	addr, msgs := runServe(t, cfg, serve.RunOptions{WriteTimeout: 200 * time.Millisecond, MaxConns: -1, IdleTimeout: -1})
	fds, heap := openFDs(t), heapInUse()

	const n = 20
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: serve.test\r\n\r\n", blob); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for cut := 0; cut < n; {
		if msg := <-msgs; strings.HasPrefix(msg, "blob not sent in full") {
			cut++
		}
	}
	for i, c := range conns {
		got, _ := io.Copy(io.Discard, c)
		if got >= size {
			t.Errorf("slow client %d received %d bytes, the whole %d-byte layer", i, got, size)
		}
		c.Close()
	}
	checkFDs(t, fds, "after the slow clients were cut")
	if got := heapInUse(); got > heap+4<<20 {
		t.Errorf("heap in use %d MiB after the slow clients were cut, %d MiB before them", got>>20, heap>>20)
	}
}

// TestServeClosesIdleConnections: keep-alive connections that send no
// next request are closed after IdleTimeout.
func TestServeClosesIdleConnections(t *testing.T) {
	cfg, _, _ := oneLayer(t, 1024)
	addr, _ := runServe(t, cfg, serve.RunOptions{IdleTimeout: 100 * time.Millisecond, MaxConns: -1})
	fds := openFDs(t)
	const n = 20
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		get(t, c, "/v2/")
		// Blocks until serve closes the idle connection.
		if b, err := io.ReadAll(c); err != nil || len(b) > 0 {
			t.Errorf("idle client %d read %q, %v; want the connection closed", i, b, err)
		}
		c.Close()
	}
	checkFDs(t, fds, "after the idle clients were closed")
}

// TestServeCapsConnections: with MaxConns held, a new connection closes
// the one idle longest, so serve never holds more than MaxConns and the
// new client is answered.
func TestServeCapsConnections(t *testing.T) {
	cfg, _, _ := oneLayer(t, 1024)
	const limit, n = 4, 10
	addr, _ := runServe(t, cfg, serve.RunOptions{MaxConns: limit, IdleTimeout: -1})
	fds := openFDs(t)
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		get(t, c, "/v2/")
		conns[i] = c
	}
	sockets := 0
	for fd, what := range openFDs(t) {
		if _, ok := fds[fd]; !ok && strings.HasPrefix(what, "socket:") {
			sockets++
		}
	}
	if sockets > n+limit {
		t.Errorf("%d sockets open for %d clients: serve holds %d connections, want at most %d", sockets, n, sockets-n, limit)
	}
	// Six were closed to make room, each the one idle longest when a new
	// client came: which six depends on when the server marked each idle
	// (after its answer was written, while the client already read it), so
	// the test asks each client whether serve still answers it. The
	// newest was answered last and cannot have been closed. (A deadline
	// only so that a connection serve neither answers nor closes fails the
	// test instead of hanging it: a minute is far beyond any machine's
	// speed.)
	var open []int
	for i, c := range conns {
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		if _, err := fmt.Fprintf(c, "GET /v2/ HTTP/1.1\r\nHost: serve.test\r\n\r\n"); err != nil {
			continue
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("client %d: serve neither answered nor closed its connection: %v", i, err)
			}
			continue // closed by serve: EOF or reset
		}
		resp.Body.Close()
		open = append(open, i)
	}
	if len(open) != limit || open[len(open)-1] != n-1 {
		t.Errorf("clients %v still answered, want %d of them, the newest (%d) among them", open, limit, n-1)
	}
	for _, c := range conns {
		c.Close()
	}
}

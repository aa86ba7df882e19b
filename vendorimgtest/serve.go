package vendorimgtest

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/serve"
)

// ServeOptions configure Serve.
type ServeOptions struct {
	// Config is the vendorimg.yaml whose images are served. Default: the
	// one in the current folder or its nearest parent, as Main finds it.
	Config string
	// Logger receives serve's log: a line per request, and every blob
	// whose stored bytes are wrong. Default: discard.
	Logger *slog.Logger
}

// Serve serves the vendored images as a read-only registry on a free
// port of 127.0.0.1 (vendorimg serve), until the test ends, and returns
// its address, "127.0.0.1:PORT": pull HOST/REPOSITORY:TAG from it (plain
// http; docker, podman and containerd take loopback registries as
// insecure). It holds the layout's shared lock while it serves. A layout
// that is incomplete, or a configuration that cannot be read, fails the
// test.
func Serve(t testing.TB, opts ServeOptions) string {
	t.Helper()
	path := opts.Config
	if path == "" {
		var err error
		if path, err = config.Find("."); err != nil {
			t.Fatalf("vendorimgtest.Serve: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg, err := config.Load(ctx, path)
	if err != nil {
		cancel()
		t.Fatalf("vendorimgtest.Serve: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatalf("vendorimgtest.Serve: %v", err)
	}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve.Run(ctx, cfg, serve.RunOptions{
			Listener:        ln,
			Logger:          opts.Logger,
			ShutdownTimeout: 5 * time.Second,
			Ready:           func(info serve.Info) { ready <- info.Addr },
		})
	}()
	select {
	case addr := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("vendorimgtest.Serve: stopping: %v", err)
			}
		})
		return addr
	case err := <-done:
		cancel()
		ln.Close()
		t.Fatalf("vendorimgtest.Serve: %v", err)
		return ""
	}
}

package vendorimg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/serve"
)

// DefaultServeAddr is where Serve listens unless told: loopback only.
const DefaultServeAddr = "127.0.0.1:5000"

// ServeOptions configure Serve.
type ServeOptions struct {
	// Addr is the address to listen on. Default DefaultServeAddr; port 0
	// picks a free port (ServeInfo.Addr says which).
	Addr string
	// Listener, when not nil, is used instead of listening on Addr; Serve
	// closes it.
	Listener net.Listener
	// Logger receives a line per request (info level) and every blob whose
	// stored bytes are wrong (error level). Default: discard.
	Logger *slog.Logger
	// Progress, if not nil, hears a progress.Waiting event when another
	// vendorimg (a sync) holds the layout's lock.
	Progress progress.Func
	// Ready, if not nil, is called once Serve listens, before it answers
	// the first request.
	Ready func(ServeInfo)
	// ShutdownTimeout bounds how long requests in flight may take to
	// finish once ctx is done. Default 10s.
	ShutdownTimeout time.Duration
}

// ServeInfo is what Serve serves, and where.
type ServeInfo struct {
	// Addr is the address it listens on, "127.0.0.1:5000".
	Addr string `json:"addr"`
	// Layout is the layout's folder.
	Layout string `json:"layout"`
	// Images are the served images with their repository paths.
	Images []serve.Image `json:"images"`
}

// Serve serves the configured images from the layout, in place, as a
// read-only registry (see package serve) until ctx is done, then shuts
// down gracefully. It holds the layout's shared lock throughout, so that a
// sync waits until it stops; it writes nothing and opens no outbound
// connection. Every configured image must be synced (its pin in
// index.json, its platforms stored).
func Serve(ctx context.Context, cfg *config.Config, opts ServeOptions) error {
	if opts.Addr == "" {
		opts.Addr = DefaultServeAddr
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// A given listener is closed by the server once it serves; on an
	// error before that, here.
	unused := opts.Listener
	defer func() {
		if unused != nil {
			unused.Close()
		}
	}()
	l := layout.New(cfg.LayoutDir())
	if !l.Exists() {
		return fmt.Errorf("serving %s: %w: no OCI layout there (run vendorimg sync)", l.Root(), errs.ErrInvalidLayout)
	}
	lock, err := l.Lock(ctx, false, opts.Progress)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	names := make([]string, 0, len(cfg.Images))
	for _, im := range cfg.Images {
		names = append(names, im.Name())
	}
	if err := checkPins(ctx, l, cfg); err != nil {
		return err
	}
	h, err := serve.New(ctx, l, serve.Options{Names: names, Logger: logger})
	if err != nil {
		return err
	}
	ln := opts.Listener
	if ln == nil {
		if ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", opts.Addr); err != nil {
			return fmt.Errorf("serving %s: %w", l.Root(), err)
		}
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	info := ServeInfo{Addr: ln.Addr().String(), Layout: l.Root(), Images: h.Images()}
	logger.Info("serving", "addr", info.Addr, "layout", info.Layout, "images", len(info.Images))
	done := make(chan error, 1)
	unused = nil
	go func() { done <- srv.Serve(ln) }()
	if opts.Ready != nil {
		opts.Ready(info)
	}
	select {
	case err := <-done:
		return fmt.Errorf("serving %s: %w", l.Root(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		_ = srv.Close()
		return fmt.Errorf("serving %s: requests still running %s after the stop were cut", l.Root(), opts.ShutdownTimeout)
	}
	if serr := <-done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serving %s: %w", l.Root(), serr)
	}
	return err
}

// checkPins fails unless index.json names every configured image with its
// pin: serving another digest under a configured name would break the
// promise that the pin is the truth.
func checkPins(ctx context.Context, l *layout.Layout, cfg *config.Config) error {
	idx, err := l.ReadIndex(ctx)
	if err != nil {
		return err
	}
	for _, im := range cfg.Images {
		d, ok := layout.Lookup(idx, im.Name())
		switch {
		case !ok:
			return fmt.Errorf("serving %s: %w: %s is not in index.json (run vendorimg sync)", l.Root(), errs.ErrInvalidLayout, im.Name())
		case d.Digest != im.Digest:
			return fmt.Errorf("serving %s: %w: index.json has %s for %s, vendorimg.yaml pins %s (run vendorimg sync)", l.Root(), errs.ErrInvalidLayout, d.Digest, im.Name(), im.Digest)
		}
		inv, err := l.Inventory(ctx, d, layout.WalkOptions{Platforms: im.Platforms})
		if err != nil {
			return fmt.Errorf("serving %s: %w", im.Name(), err)
		}
		if !inv.Complete() {
			return fmt.Errorf("serving %s: %w: %d blobs of %s are missing (run vendorimg sync)", l.Root(), errs.ErrInvalidLayout, len(inv.Missing), im.Name())
		}
	}
	return nil
}

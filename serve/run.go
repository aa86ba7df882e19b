package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/progress"
)

// DefaultAddr is where Run listens unless told: loopback only.
const DefaultAddr = "127.0.0.1:5000"

// RunOptions configure Run.
type RunOptions struct {
	// Addr is the address to listen on. Default DefaultAddr; port 0
	// picks a free port (Info.Addr says which).
	Addr string
	// Listener, when not nil, is used instead of listening on Addr; Run
	// closes it.
	Listener net.Listener
	// Logger receives a line per request (info level) and every blob whose
	// stored bytes are wrong (error level). Default: discard.
	Logger *slog.Logger
	// Progress, if not nil, hears a progress.Waiting event when another
	// vendorimg (a sync) holds the layout's lock.
	Progress progress.Func
	// Ready, if not nil, is called once Run listens, before it answers
	// the first request.
	Ready func(Info)
	// ShutdownTimeout bounds how long requests in flight may take to
	// finish once ctx is done. Default 10s.
	ShutdownTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request before it is closed. Default DefaultIdleTimeout;
	// negative: no bound.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write of a response: a client that does
	// not take it within that time (a slow or stopped reader) has its
	// connection cut. Default DefaultWriteTimeout; negative: no bound.
	WriteTimeout time.Duration
	// MaxConns is how many connections are held at once; past it, the
	// connection idle longest is closed, or a new one waits for one to
	// end. Default DefaultMaxConns; negative: no limit.
	MaxConns int
}

// Info is what Run serves, and where.
type Info struct {
	// Addr is the address it listens on, "127.0.0.1:5000".
	Addr string `json:"addr"`
	// Layout is the layout's folder.
	Layout string `json:"layout"`
	// Images are the served images with their repository paths.
	Images []Image `json:"images"`
}

// Run serves the configured images from the layout, in place, as a
// read-only registry (New's Handler) until ctx is done, then shuts
// down gracefully. It holds the layout's shared lock throughout, so that a
// sync waits until it stops; it writes nothing and opens no outbound
// connection. Every configured image must be synced (its pin in
// index.json, its platforms stored).
func Run(ctx context.Context, cfg *config.Config, opts RunOptions) error {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.MaxConns == 0 {
		opts.MaxConns = DefaultMaxConns
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
	pins := map[string]digest.Digest{}
	for _, im := range cfg.Images {
		names = append(names, im.Name())
		pins[im.Name()] = im.Digest
	}
	if err := l.CheckSynced(ctx, cfg.Images); err != nil {
		return fmt.Errorf("serving %w", err)
	}
	h, err := New(ctx, l, Options{Names: names, Pins: pins, Logger: logger, WriteTimeout: opts.WriteTimeout})
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
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       max(opts.IdleTimeout, 0), // 0: no bound, as ReadTimeout is 0
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if opts.MaxConns > 0 {
		lim := newConnLimit(ln, opts.MaxConns)
		ln, srv.ConnState = lim, lim.connState
	}
	info := Info{Addr: ln.Addr().String(), Layout: l.Root(), Images: h.Images()}
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

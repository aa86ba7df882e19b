package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/vendorimg/vendorimg/errs"
)

// Timeouts bound how long a registry may keep vendorimg waiting within one
// request, so that a registry that never answers, or answers a few bytes a
// second, fails the request instead of hanging it. Each bound's failure
// matches errs.ErrTimeout and is transient (see Transient): the request
// is tried again (RetryPolicy), and sync starts a stalled download again.
// They do not bound a whole operation: a context deadline does (the
// CLI's --timeout).
type Timeouts struct {
	// ResponseHeader bounds the wait for a response's status line and
	// headers once the request is sent. Default 30s; negative: no bound.
	ResponseHeader time.Duration
	// Stall bounds the wait for the next byte of a response body: a body
	// that delivers nothing for this long is abandoned. It is also the
	// window over which MinSpeed is measured. Default 30s; negative: no
	// bound (and no MinSpeed).
	Stall time.Duration
	// MinSpeed is the slowest a body may arrive, in bytes per second,
	// measured over each Stall window of time spent waiting for it (time
	// the reader spends elsewhere, hashing or writing, does not count): a
	// registry that trickles 10 bytes a second is as stuck as one that
	// sends nothing. Default 1024 (1 KiB/s, 30 KiB per 30s window);
	// negative: no minimum.
	MinSpeed int64
}

// DefaultTimeouts are the Timeouts NewClient uses unless told otherwise:
// generous enough for a slow link or a registry that takes seconds to find
// a blob, short enough that a stuck one is noticed within a minute.
var DefaultTimeouts = Timeouts{ResponseHeader: 30 * time.Second, Stall: 30 * time.Second, MinSpeed: 1024}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts
	if t.ResponseHeader != 0 {
		d.ResponseHeader = t.ResponseHeader
	}
	if t.Stall != 0 {
		d.Stall = t.Stall
	}
	if t.MinSpeed != 0 {
		d.MinSpeed = t.MinSpeed
	}
	return d
}

// timeoutError is a bound of Timeouts that was passed. It matches
// errs.ErrTimeout, and not context.DeadlineExceeded: a deadline of the
// caller's is final, a stalled response is worth another try.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string        { return e.msg }
func (e *timeoutError) Is(target error) bool { return target == errs.ErrTimeout }

// Timeout makes the error a net.Error timeout for code that asks that way.
func (e *timeoutError) Timeout() bool { return true }

// timeoutTransport enforces Timeouts on each request it sends: a timer
// for the headers, then a watchdog on the body. Either cancels the
// request's context, which makes the transport below give up at once,
// whatever kind it is.
type timeoutTransport struct {
	inner    http.RoundTripper
	timeouts Timeouts
}

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	header, stall := t.timeouts.ResponseHeader, t.timeouts.Stall
	if header <= 0 && stall <= 0 {
		return t.inner.RoundTrip(req)
	}
	ctx, cancel := context.WithCancel(req.Context())
	var fired sync.Once
	var headerErr error
	var timer *time.Timer
	if header > 0 {
		timer = time.AfterFunc(header, func() {
			fired.Do(func() {
				headerErr = &timeoutError{fmt.Sprintf("%s sent no response headers within %s for %s %s", req.URL.Host, header, req.Method, req.URL.Path)}
			})
			cancel()
		})
	}
	resp, err := t.inner.RoundTrip(req.WithContext(ctx))
	if timer != nil && !timer.Stop() {
		// The timer fired (or is firing): wait for it to say so.
		fired.Do(func() {})
		if headerErr != nil && req.Context().Err() == nil {
			if resp != nil {
				resp.Body.Close()
			}
			cancel()
			return nil, headerErr
		}
	}
	if err != nil {
		cancel()
		return nil, err
	}
	if stall <= 0 {
		resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
		return resp, nil
	}
	resp.Body = newWatchedBody(resp.Body, cancel, t.timeouts, req)
	return resp, nil
}

// cancelBody releases the request's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// watchedBody fails a body that stalls (nothing for Timeouts.Stall while a
// Read waits) or trickles (less than MinSpeed over a Stall window of
// waiting), by cancelling its request's context; the pending Read then
// returns the timeoutError.
type watchedBody struct {
	rc     io.ReadCloser
	cancel context.CancelFunc
	stall  time.Duration
	// minBytes is the least a window of stall may deliver (0: no minimum).
	minBytes int64
	minSpeed int64
	host     string
	path     string

	mu        sync.Mutex
	timer     *time.Timer
	reading   bool      // a Read is waiting
	readStart time.Time // when it began
	waited    time.Duration
	got       int64 // bytes in the current window
	err       error // set once the body is judged stuck
}

func newWatchedBody(rc io.ReadCloser, cancel context.CancelFunc, t Timeouts, req *http.Request) *watchedBody {
	b := &watchedBody{rc: rc, cancel: cancel, stall: t.Stall, minSpeed: t.MinSpeed, host: req.URL.Host, path: req.URL.Path}
	if t.MinSpeed > 0 {
		b.minBytes = max(int64(float64(t.MinSpeed)*t.Stall.Seconds()), 1)
	}
	b.timer = time.AfterFunc(time.Hour, b.check)
	b.timer.Stop()
	return b
}

// check runs when a Read may have waited too long.
func (b *watchedBody) check() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.reading || b.err != nil || time.Since(b.readStart) < b.stall {
		return // a Read returned meanwhile
	}
	b.err = &timeoutError{fmt.Sprintf("%s stalled: no byte for %s while sending %s", b.host, b.stall, b.path)}
	b.cancel()
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.err != nil {
		defer b.mu.Unlock()
		return 0, b.err
	}
	b.reading, b.readStart = true, time.Now()
	b.timer.Reset(b.stall)
	b.mu.Unlock()

	n, err := b.rc.Read(p)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.timer.Stop()
	b.reading = false
	if b.err != nil {
		// The watchdog cancelled the request: say why, not "context
		// canceled".
		return n, b.err
	}
	b.waited += time.Since(b.readStart)
	b.got += int64(n)
	if b.waited >= b.stall {
		if b.minBytes > 0 && b.got < b.minBytes && err == nil {
			b.err = &timeoutError{fmt.Sprintf("%s is too slow: %d bytes in %s while sending %s (at least %d B/s wanted)",
				b.host, b.got, b.waited.Round(time.Millisecond), b.path, b.minSpeed)}
			b.cancel()
			return n, b.err
		}
		b.waited, b.got = 0, 0
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.mu.Lock()
	b.timer.Stop()
	if b.err == nil {
		b.err = errBodyClosed
	}
	b.mu.Unlock()
	err := b.rc.Close()
	b.cancel()
	return err
}

var errBodyClosed = fmt.Errorf("read on a closed response body")

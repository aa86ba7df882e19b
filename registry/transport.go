package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vendorimg/vendorimg/errs"
)

// RetryPolicy says how requests that fail for a passing reason (429, 5xx,
// a reset connection, a timeout of Timeouts) are tried again.
type RetryPolicy struct {
	// Attempts is the total number of tries of a request that failed
	// without saying when to come back, at least 1. Default 5.
	Attempts int
	// MinBackoff is the first wait; it doubles on each retry, with up to
	// 25% jitter. Default 500ms.
	MinBackoff time.Duration
	// MaxBackoff caps the doubling. Default 10s.
	MaxBackoff time.Duration
	// MaxRetryAfter caps each wait a Retry-After header asks for; a longer
	// one is waited for this long, then the request is tried again.
	// Default 60s.
	MaxRetryAfter time.Duration
	// MaxWait is how long one request may spend waiting between its tries,
	// in all. A registry that keeps answering with Retry-After is asked
	// again for as long as this budget lasts (Attempts does not limit
	// it); the try that would go beyond it fails with an error saying
	// how long the registry asked to wait. Each such wait is announced
	// through WithNotice. Default 5m.
	MaxWait time.Duration
}

// DefaultRetryPolicy is the policy NewClient uses unless told otherwise.
var DefaultRetryPolicy = RetryPolicy{Attempts: 5, MinBackoff: 500 * time.Millisecond, MaxBackoff: 10 * time.Second,
	MaxRetryAfter: time.Minute, MaxWait: 5 * time.Minute}

// Validate says what is wrong with p: a negative field. Zero fields take
// DefaultRetryPolicy's.
func (p RetryPolicy) Validate() error {
	if p.Attempts < 0 || p.MinBackoff < 0 || p.MaxBackoff < 0 || p.MaxRetryAfter < 0 || p.MaxWait < 0 {
		return fmt.Errorf("%w: retry policy %+v: no field may be negative", errs.ErrInvalidOption, p)
	}
	return nil
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy
	if p.Attempts > 0 {
		d.Attempts = p.Attempts
	}
	if p.MinBackoff > 0 {
		d.MinBackoff = p.MinBackoff
	}
	if p.MaxBackoff > 0 {
		d.MaxBackoff = p.MaxBackoff
	}
	if p.MaxRetryAfter > 0 {
		d.MaxRetryAfter = p.MaxRetryAfter
	}
	if p.MaxWait > 0 {
		d.MaxWait = p.MaxWait
	}
	return d
}

// backoff is the wait before retry number n (1 for the first retry).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.MinBackoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	return d + time.Duration(rand.Int64N(int64(d)/4+1))
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Transient reports whether err is a network failure that another attempt
// may not meet: a reset or closed connection, a timeout (of the network or
// of Timeouts), a body cut short.
// A refused connection is not transient: nothing listens there, and saying
// so at once matters more (air-gapped runs, mirror fallback).
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	if errors.Is(err, errs.ErrTimeout) {
		return true
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryTransport retries requests without a body (GET and HEAD, all that
// vendorimg sends) on 429, 5xx and transient network errors, honouring
// Retry-After within the policy's caps.
type retryTransport struct {
	inner  http.RoundTripper
	policy RetryPolicy
	logger *slog.Logger
	// notice, if not nil, is told of each wait a registry asked for.
	notice func(string)
	sleep  func(context.Context, time.Duration) error
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		return t.inner.RoundTrip(req)
	}
	var waited time.Duration
	for tries, guesses := 1, 1; ; tries++ {
		resp, err := t.inner.RoundTrip(req)
		retry := false
		switch {
		case err != nil:
			retry = Transient(err)
		default:
			retry = retryableStatus(resp.StatusCode)
		}
		if !retry {
			return resp, err
		}
		asked, hasRetryAfter := time.Duration(0), false
		if err == nil {
			asked, hasRetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		if !hasRetryAfter {
			if guesses >= t.policy.Attempts {
				return resp, err
			}
			guesses++
		}
		wait := t.policy.backoff(tries)
		reason := ""
		if err != nil {
			reason = err.Error()
		} else {
			reason = resp.Status
			if hasRetryAfter {
				// The registry said when; never sooner than the backoff, so
				// that "Retry-After: 0" cannot make a storm of requests.
				wait = max(min(asked, t.policy.MaxRetryAfter), wait)
			}
			// Drain a little so the connection can be reused, then let go.
			_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
			resp.Body.Close()
		}
		if waited+wait > t.policy.MaxWait {
			if hasRetryAfter {
				return nil, fmt.Errorf("%w: %s asked to wait %s (%s, Retry-After) before %s %s is tried again; waiting longer would pass the %s vendorimg waits per request (%s so far): try again later",
					errs.ErrTimeout, req.URL.Host, asked, reason, req.Method, req.URL.Path, t.policy.MaxWait, waited.Round(time.Millisecond))
			}
			return nil, fmt.Errorf("%w: %s answered %s to %s %s; waiting longer would pass the %s vendorimg waits per request (%s so far)",
				errs.ErrTimeout, req.URL.Host, reason, req.Method, req.URL.Path, t.policy.MaxWait, waited.Round(time.Millisecond))
		}
		t.logger.Debug("retrying request", "method", req.Method, "url", redactURL(req), "reason", reason, "try", tries+1, "wait", wait)
		if hasRetryAfter && t.notice != nil {
			t.notice(fmt.Sprintf("%s asked to wait %s (%s): waiting %s, then trying %s %s again (%s of the %s vendorimg waits per request used)",
				req.URL.Host, asked, reason, wait, req.Method, req.URL.Path, (waited + wait).Round(time.Millisecond), t.policy.MaxWait))
		}
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		waited += wait
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// redactURL is the request URL without its query, which for token
// requests may carry more than we want in a log.
func redactURL(req *http.Request) string {
	u := *req.URL
	u.RawQuery = ""
	u.User = nil
	return u.String()
}

// policyTransport refuses plain http to any host that is not on a loopback
// address and not declared insecure, including token realms and redirect
// targets: credentials and the pinned bytes never cross a network in clear
// unless the user said so.
type policyTransport struct {
	inner    http.RoundTripper
	insecure map[string]bool
}

func (t *policyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !t.insecure[req.URL.Host] && !IsLoopback(req.URL.Host) {
		return nil, fmt.Errorf("%w to %s: use https, or declare it under insecure: in vendorimg.yaml (or --insecure-registry)", errs.ErrInsecure, req.URL.Host)
	}
	return t.inner.RoundTrip(req)
}

// IsLoopback reports whether host (with an optional port) is localhost or
// a loopback address, where plain http is allowed without asking.
func IsLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

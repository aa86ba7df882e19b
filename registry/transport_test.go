package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/errs"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		header string
		want   time.Duration
		ok     bool
	}{
		{"seconds", "1", time.Second, true},
		{"zero", "0", 0, true},
		{"spaces", " 120 ", 2 * time.Minute, true},
		{"RFC 1123 date", "Fri, 01 Mar 2024 12:00:30 GMT", 30 * time.Second, true},
		{"RFC 850 date", "Friday, 01-Mar-24 12:01:00 GMT", time.Minute, true},
		{"ANSI C date", "Fri Mar  1 12:00:05 2024", 5 * time.Second, true},
		{"past date", "Fri, 01 Mar 2024 11:00:00 GMT", 0, true},
		{"empty", "", 0, false},
		{"negative", "-1", 0, false},
		{"fraction", "1.5", 0, false},
		{"garbage", "soon", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := retryAfter(tc.header, now)
			if got != tc.want || ok != tc.ok {
				t.Errorf("retryAfter(%q) = %v, %v, want %v, %v", tc.header, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestRetryPolicyDefaultsAndBackoff(t *testing.T) {
	p := RetryPolicy{Attempts: 2, MinBackoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond}.withDefaults()
	if p.Attempts != 2 || p.MaxRetryAfter != DefaultRetryPolicy.MaxRetryAfter {
		t.Errorf("withDefaults = %+v, want Attempts 2 and the default MaxRetryAfter", p)
	}
	if d := (RetryPolicy{}).withDefaults(); d != DefaultRetryPolicy {
		t.Errorf("RetryPolicy{}.withDefaults() = %+v, want %+v", d, DefaultRetryPolicy)
	}
	for n, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 300 * time.Millisecond, 10: 300 * time.Millisecond} {
		for range 20 {
			if got := p.backoff(n); got < base || got > base+base/4 {
				t.Errorf("backoff(%d) = %v, want %v plus up to 25%%", n, got, base)
			}
		}
	}
}

func TestTransient(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"refused", fmt.Errorf("get: %w", refused), false},
		{"reset", fmt.Errorf("get: %w", reset), true},
		{"broken pipe", syscall.EPIPE, true},
		{"short body", fmt.Errorf("writing blob: %w", io.ErrUnexpectedEOF), true},
		{"timeout", &net.OpError{Op: "read", Err: netTimeout{}}, true},
		{"canceled", fmt.Errorf("get: %w", context.Canceled), false},
		{"deadline", context.DeadlineExceeded, false},
		{"digest mismatch", errs.ErrDigestMismatch, false},
		{"other", errors.New("tls: bad certificate"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Transient(tc.err); got != tc.want {
				t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

type netTimeout struct{}

func (netTimeout) Error() string   { return "i/o timeout" }
func (netTimeout) Timeout() bool   { return true }
func (netTimeout) Temporary() bool { return true }

// scriptedTransport answers requests from a script, one step per request,
// and records them.
type scriptedTransport struct {
	steps []func(*http.Request) (*http.Response, error)
	calls []*http.Request
}

func (s *scriptedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.calls = append(s.calls, r)
	i := min(len(s.calls), len(s.steps)) - 1
	return s.steps[i](r)
}

func status(code int, header ...string) func(*http.Request) (*http.Response, error) {
	return func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		return &http.Response{StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)), Header: h,
			Body: io.NopCloser(strings.NewReader("body")), Request: r}, nil
	}
}

func fail(err error) func(*http.Request) (*http.Response, error) {
	return func(*http.Request) (*http.Response, error) { return nil, err }
}

func TestRetryTransport(t *testing.T) {
	policy := RetryPolicy{Attempts: 4, MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, MaxRetryAfter: 30 * time.Second, MaxWait: time.Hour}
	inAnHour := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name   string
		steps  []func(*http.Request) (*http.Response, error)
		method string
		calls  int
		code   int // 0: an error
		waits  []time.Duration
	}{
		{"200 at once", steps(status(200)), "GET", 1, 200, nil},
		{"404 is final", steps(status(404)), "GET", 1, 404, nil},
		{"401 is final", steps(status(401)), "GET", 1, 401, nil},
		{"Retry-After seconds", steps(status(429, "Retry-After", "7"), status(200)), "GET", 2, 200, []time.Duration{7 * time.Second}},
		{"Retry-After capped", steps(status(503, "Retry-After", inAnHour), status(200)), "HEAD", 2, 200, []time.Duration{30 * time.Second}},
		{"backoff without Retry-After", steps(status(502), status(500), status(200)), "GET", 3, 200, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}},
		{"gives up after Attempts", steps(status(503)), "GET", 4, 503, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}},
		{"reset retried", steps(fail(syscall.ECONNRESET), status(200)), "GET", 2, 200, []time.Duration{10 * time.Millisecond}},
		{"refused not retried", steps(fail(refused)), "GET", 1, 0, nil},
		{"request with a body not retried", steps(status(503)), "POST", 1, 503, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := &scriptedTransport{steps: tc.steps}
			var waits []time.Duration
			var logs bytes.Buffer
			rt := &retryTransport{inner: inner, policy: policy, logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			var body io.Reader
			if tc.method == "POST" {
				body = strings.NewReader("x")
			}
			req, err := http.NewRequest(tc.method, "https://registry.test/v2/x/manifests/1?token=secret", body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := rt.RoundTrip(req)
			switch {
			case tc.code == 0 && err == nil:
				t.Fatalf("RoundTrip = %d, want an error", resp.StatusCode)
			case tc.code != 0 && err != nil:
				t.Fatalf("RoundTrip = %v, want %d", err, tc.code)
			case tc.code != 0 && resp.StatusCode != tc.code:
				t.Errorf("RoundTrip = %d, want %d", resp.StatusCode, tc.code)
			}
			if len(inner.calls) != tc.calls {
				t.Errorf("%d requests sent, want %d", len(inner.calls), tc.calls)
			}
			if strings.Contains(logs.String(), "secret") {
				t.Errorf("the query string was logged:\n%s", logs.String())
			}
			if len(waits) != len(tc.waits) {
				t.Fatalf("waited %v, want %v", waits, tc.waits)
			}
			for i, w := range waits {
				// Backoff adds up to 25% jitter; Retry-After is exact.
				if w < tc.waits[i] || w > tc.waits[i]+tc.waits[i]/4 {
					t.Errorf("wait %d = %v, want %v", i+1, w, tc.waits[i])
				}
			}
		})
	}
}

func steps(s ...func(*http.Request) (*http.Response, error)) []func(*http.Request) (*http.Response, error) {
	return s
}

func TestRetryTransportStopsWhenCancelled(t *testing.T) {
	inner := &scriptedTransport{steps: steps(status(503, "Retry-After", "30"))}
	rt := &retryTransport{inner: inner, policy: DefaultRetryPolicy, logger: slog.New(slog.DiscardHandler), sleep: sleepCtx}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://registry.test/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = rt.RoundTrip(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RoundTrip = %v, want %v", err, context.DeadlineExceeded)
	}
	// The Retry-After asks for 30s: stopping well before it is stopping at
	// the 20ms deadline, however slow the machine.
	if time.Since(start) > 15*time.Second || len(inner.calls) != 1 {
		t.Errorf("RoundTrip sent %d requests in %v, want 1 and to stop at the deadline", len(inner.calls), time.Since(start))
	}
}

func TestPolicyTransport(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure []string
		allowed  bool
	}{
		{"https://registry.example.com/v2/", nil, true},
		{"https://10.0.0.1:5000/v2/", nil, true},
		{"http://registry.example.com/v2/", nil, false},
		{"http://10.0.0.1:5000/v2/", nil, false},
		{"http://192.168.1.20/v2/", nil, false},
		{"http://registry.local:5000/v2/", nil, false},
		{"http://auth.example.com/token?scope=x", []string{"registry.example.com"}, false},
		{"http://10.0.0.1:5000/v2/", []string{"10.0.0.1"}, false}, // the port is part of the name
		{"http://10.0.0.1:5000/v2/", []string{"10.0.0.1:5000"}, true},
		{"http://registry.example.com/v2/", []string{"registry.example.com"}, true},
		{"http://127.0.0.1:5000/v2/", nil, true},
		{"http://localhost:5000/v2/", nil, true},
		{"http://[::1]:5000/v2/", nil, true},
	} {
		t.Run(tc.url, func(t *testing.T) {
			inner := &scriptedTransport{steps: steps(status(200))}
			insecure := map[string]bool{}
			for _, h := range tc.insecure {
				insecure[h] = true
			}
			rt := &policyTransport{inner: inner, insecure: insecure}
			req, err := http.NewRequest(http.MethodGet, tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := rt.RoundTrip(req)
			if tc.allowed {
				if err != nil || resp.StatusCode != 200 || len(inner.calls) != 1 {
					t.Errorf("RoundTrip(%s) = %v, want it passed on", tc.url, err)
				}
				return
			}
			if !errors.Is(err, errs.ErrInsecure) {
				t.Errorf("RoundTrip(%s) = %v, want %v", tc.url, err, errs.ErrInsecure)
			}
			if len(inner.calls) != 0 {
				t.Errorf("RoundTrip(%s) reached the network", tc.url)
			}
			if err != nil && !strings.Contains(err.Error(), req.URL.Host) {
				t.Errorf("RoundTrip(%s) error %q does not name the host", tc.url, err)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost":            true,
		"localhost:5000":       true,
		"127.0.0.1":            true,
		"127.0.0.1:5000":       true,
		"127.1.2.3:80":         true,
		"::1":                  true,
		"[::1]":                true,
		"[::1]:5000":           true,
		"10.0.0.1":             false,
		"10.0.0.1:5000":        false,
		"192.168.0.1":          false,
		"0.0.0.0:5000":         false,
		"example.com":          false,
		"registry.example.com": false,
		"localhost.example":    false,
		"127.0.0.1.example":    false,
		"docker.io":            false,
		"":                     false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestReplacedDefaultTransport: a program that replaced
// http.DefaultTransport with another type (tracing libraries do) still gets
// a working client, not a panic.
func TestReplacedDefaultTransport(t *testing.T) {
	old := http.DefaultTransport
	t.Cleanup(func() { http.DefaultTransport = old })
	http.DefaultTransport = roundTripperFunc(func(r *http.Request) (*http.Response, error) { return old.RoundTrip(r) })
	c := NewClient()
	if _, ok := c.base.(*http.Transport); !ok {
		t.Fatalf("NewClient() with a replaced http.DefaultTransport has base %T, want *http.Transport", c.base)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRetryAfterBudget: a registry that asks to wait a day is asked again
// after each capped wait, each wait announced, until the budget per
// request is spent; then the error says what the registry asked for.
// Attempts does not limit these tries, and "Retry-After: 0" does not make a
// storm: the backoff is the least wait.
func TestRetryAfterBudget(t *testing.T) {
	policy := DefaultRetryPolicy
	policy.Attempts = 2
	for _, tc := range []struct {
		name       string
		retryAfter string
		waits      int
		each       time.Duration
	}{
		{"a day", "86400", 5, time.Minute},
		{"zero", "0", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := &scriptedTransport{steps: steps(status(429, "Retry-After", tc.retryAfter))}
			var waits []time.Duration
			var notices []string
			rt := &retryTransport{inner: inner, policy: policy, logger: slog.New(slog.DiscardHandler),
				notice: func(s string) { notices = append(notices, s) },
				sleep:  func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			req, err := http.NewRequest(http.MethodGet, "https://registry.test/v2/x/manifests/1", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := rt.RoundTrip(req)
			if err == nil {
				t.Fatalf("RoundTrip = %d, want an error once the budget is spent", resp.StatusCode)
			}
			var total time.Duration
			for _, w := range waits {
				total += w
			}
			if total > policy.MaxWait {
				t.Errorf("waited %v in all, more than MaxWait %v", total, policy.MaxWait)
			}
			if len(notices) != len(waits) || len(inner.calls) != len(waits)+1 {
				t.Errorf("%d notices, %d waits, %d requests; want a notice per wait and a request after each", len(notices), len(waits), len(inner.calls))
			}
			if tc.waits > 0 {
				if len(waits) != tc.waits {
					t.Errorf("waited %v, want %d waits of %v", waits, tc.waits, tc.each)
				}
				for _, w := range waits {
					if w != tc.each {
						t.Errorf("wait = %v, want the cap %v", w, tc.each)
					}
				}
				for _, s := range []string{"registry.test asked to wait 24h0m0s", "429 Too Many Requests", "GET /v2/x/manifests/1", "5m0s"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("RoundTrip error %q does not say %q", err, s)
					}
				}
				if len(notices) > 0 && !strings.Contains(notices[0], "asked to wait 24h0m0s") {
					t.Errorf("notice %q does not say what the registry asked for", notices[0])
				}
			} else {
				for i, w := range waits {
					if base := min(policy.MinBackoff<<min(i, 10), policy.MaxBackoff); w < base {
						t.Errorf("wait %d = %v, want at least the backoff %v", i+1, w, base)
					}
				}
				if len(waits) < 20 || len(waits) > 40 {
					t.Errorf("%d tries in %v for Retry-After: 0, want the backoff to space them", len(waits), total)
				}
			}
		})
	}
}

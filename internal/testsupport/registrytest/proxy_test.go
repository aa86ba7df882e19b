package registrytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProxyModes checks each mode against a plain HTTP server: what the
// client reads, and what error it meets.
func TestProxyModes(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10_000) // 100 kB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	p := NewProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	get := func(t *testing.T, timeout time.Duration) (int, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.Host+"/x", nil)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return len(b), err
	}

	t.Run("pass", func(t *testing.T) {
		if n, err := get(t, 5*time.Second); err != nil || n != len(body) {
			t.Errorf("GET = %d bytes, %v, want %d", n, err, len(body))
		}
	})
	t.Run("cut after", func(t *testing.T) {
		p.On(Request(http.MethodGet, "/x"), 1, CutAfter(1000))
		if n, err := get(t, 5*time.Second); !errors.Is(err, io.ErrUnexpectedEOF) || n != 1000 {
			t.Errorf("GET = %d bytes, %v, want 1000 and %v", n, err, io.ErrUnexpectedEOF)
		}
	})
	t.Run("reset after", func(t *testing.T) {
		p.On(Request(http.MethodGet, "/x"), 1, ResetAfter(1000))
		if _, err := get(t, 5*time.Second); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("GET = %v, want %v", err, syscall.ECONNRESET)
		}
	})
	t.Run("stall after", func(t *testing.T) {
		p.On(Request(http.MethodGet, "/x"), 1, StallAfter(1000))
		done := make(chan error, 1)
		go func() { _, err := get(t, 500*time.Millisecond); done <- err }()
		// The cut and the reset above acted first.
		for _, want := range []string{"cut GET /x", "reset GET /x", "stall GET /x"} {
			if got := <-p.Acted(); got != want {
				t.Errorf("Acted = %q, want %q", got, want)
			}
		}
		if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("GET = %v, want the client's deadline", err)
		}
	})
	t.Run("first connection cut before the headers", func(t *testing.T) {
		p.OnConns(1, CutAfter(-1))
		before := p.Conns()
		if _, err := get(t, 5*time.Second); err == nil {
			t.Errorf("GET through a cut connection succeeded")
		}
		if n, err := get(t, 5*time.Second); err != nil || n != len(body) {
			t.Errorf("GET on the next connection = %d bytes, %v, want %d", n, err, len(body))
		}
		if n := p.Conns() - before; n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
	})
	t.Run("slow", func(t *testing.T) {
		p.Set(Slow(1000))
		defer p.Set(Pass())
		n, err := get(t, 300*time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) || n > 1000 {
			t.Errorf("GET at 1000 B/s for 300ms = %d bytes, %v, want a few hundred and the deadline", n, err)
		}
	})
	if reqs := p.Requests(); len(reqs) != 7 || reqs[0] != "GET /x" {
		t.Errorf("Requests = %q, want 7 GET /x", reqs)
	}
}

// TestProxyHold: the proxy counts what it passes and holds a transfer at a
// count until Release, with no clock involved.
func TestProxyHold(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10_000) // 100 kB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	p := NewProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	p.Set(Slow(1 << 20))
	p.HoldAfter(10_000)
	done := make(chan struct{})
	var n int
	var err error
	go func() {
		defer close(done)
		resp, gerr := http.Get("http://" + p.Host + "/x")
		if gerr != nil {
			err = gerr
			return
		}
		defer resp.Body.Close()
		b, rerr := io.ReadAll(resp.Body)
		n, err = len(b), rerr
	}()
	if !p.WaitSent(10_000, done) {
		t.Fatalf("WaitSent(10000): the GET ended first (%d bytes, %v)", n, err)
	}
	held := p.Sent()
	select {
	case <-done:
		t.Fatalf("the GET finished while the proxy held it at %d bytes", held)
	default:
	}
	if held < 10_000 || held >= int64(len(body)) {
		t.Errorf("Sent() while held = %d, want at least 10000 and less than the body", held)
	}
	p.Release()
	<-done
	if err != nil || n != len(body) {
		t.Errorf("GET after Release = %d bytes, %v, want %d", n, err, len(body))
	}
	if p.Sent() <= int64(len(body)) {
		t.Errorf("Sent() after the GET = %d, want the body and its headers", p.Sent())
	}
}

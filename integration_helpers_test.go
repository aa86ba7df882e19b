package vendorimg_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func registrytestAuth(user, pass string) remote.Option {
	return remote.WithAuth(&authn.Basic{Username: user, Password: pass})
}

func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func appendLayer(t *testing.T, img v1.Image, l v1.Layer) v1.Image {
	t.Helper()
	out, err := mutate.AppendLayers(img, l)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// vendorimgBinary builds cmd/vendorimg once per test binary, for tests
// that must kill it or measure it as a separate process.
func vendorimgBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vendorimg-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "vendorimg")
		out, err := exec.Command("go", "build", "-o", binPath, "./cmd/vendorimg").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ./cmd/vendorimg: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// throttle is a TCP proxy on 127.0.0.1 that limits each connection to
// bytesPerSec from the server, so that a test can interrupt a download. It
// counts the bytes it passes from the server (all connections together),
// and can hold them at a count (pause), so that a test acts at a point of
// a download that does not depend on the machine's speed.
type throttle struct {
	Addr string
	ln   net.Listener

	mu   sync.Mutex
	cond *sync.Cond
	sent int64 // bytes passed from the server to clients
	// holdAt: while sent >= holdAt, no connection passes more bytes
	// (-1: none).
	holdAt int64
}

func startThrottle(t *testing.T, target string, bytesPerSec int) *throttle {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	th := &throttle{Addr: ln.Addr().String(), ln: ln, holdAt: -1}
	th.cond = sync.NewCond(&th.mu)
	t.Cleanup(func() {
		ln.Close()
		th.release()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go io.Copy(s, c)
				chunk := bytesPerSec / 50
				buf := make([]byte, chunk)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						th.mu.Lock()
						for th.holdAt >= 0 && th.sent >= th.holdAt {
							th.cond.Wait()
						}
						th.sent += int64(n)
						th.cond.Broadcast()
						th.mu.Unlock()
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
						time.Sleep(time.Duration(n) * time.Second / time.Duration(bytesPerSec))
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return th
}

// Sent is how many bytes the proxy has passed from the server so far.
func (th *throttle) Sent() int64 {
	th.mu.Lock()
	defer th.mu.Unlock()
	return th.sent
}

// holdAfter makes the proxy stop passing bytes once it has passed n in all
// (counted from its start: see Sent), until release.
func (th *throttle) holdAfter(n int64) {
	th.mu.Lock()
	th.holdAt = n
	th.cond.Broadcast()
	th.mu.Unlock()
}

// release lets bytes through again after holdAfter.
func (th *throttle) release() {
	th.mu.Lock()
	th.holdAt = -1
	th.cond.Broadcast()
	th.mu.Unlock()
}

// waitSent waits until the proxy has passed n bytes in all, or done is
// closed (the client exited): it reports which. No clock: a slow machine
// only makes it wait longer.
func (th *throttle) waitSent(n int64, done <-chan struct{}) bool {
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-done:
		case <-stop:
		}
		th.mu.Lock()
		th.cond.Broadcast()
		th.mu.Unlock()
	}()
	th.mu.Lock()
	defer th.mu.Unlock()
	for th.sent < n {
		select {
		case <-done:
			return false
		default:
		}
		th.cond.Wait()
	}
	return true
}

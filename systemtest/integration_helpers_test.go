package systemtest_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/internal/testsupport/testbin"
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

// vendorimgBinary is the vendorimg command, built once per test binary
// (testbin.Path), for tests that must kill it or measure it as a separate
// process.
func vendorimgBinary(t *testing.T) string { return testbin.Path(t) }

// throttle is registrytest's proxy slowed to bytesPerSec, so that a test
// can interrupt a download; Sent, holdAfter, waitSent and release let it
// act at a point of the download that does not depend on the machine's
// speed (see registrytest.Proxy.HoldAfter).
type throttle struct {
	Addr string
	p    *registrytest.Proxy
}

func startThrottle(t *testing.T, target string, bytesPerSec int) *throttle {
	t.Helper()
	p := registrytest.NewProxy(t, target)
	p.Set(registrytest.Slow(bytesPerSec))
	return &throttle{Addr: p.Host, p: p}
}

// Sent is how many bytes the proxy has passed from the server so far.
func (th *throttle) Sent() int64 { return th.p.Sent() }

// holdAfter makes the proxy stop passing bytes once it has passed n in all
// (counted from its start: see Sent), until release.
func (th *throttle) holdAfter(n int64) { th.p.HoldAfter(n) }

// release lets bytes through again after holdAfter.
func (th *throttle) release() { th.p.Release() }

// waitSent waits until the proxy has passed n bytes in all, or done is
// closed (the client exited): it reports which.
func (th *throttle) waitSent(n int64, done <-chan struct{}) bool { return th.p.WaitSent(n, done) }

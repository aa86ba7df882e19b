package systemtest_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vendorimg/vendorimg/internal/registrytest"
	"github.com/vendorimg/vendorimg/internal/testbin"
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

// throttle is registrytest's proxy, slowed to a rate, so that a test can
// interrupt a download.
type throttle struct {
	Addr string
}

// startThrottle starts a proxy to target whose responses' bodies go at
// bytesPerSec.
func startThrottle(t *testing.T, target string, bytesPerSec int) *throttle {
	t.Helper()
	p := registrytest.NewProxy(t, target)
	p.Set(registrytest.Slow(bytesPerSec))
	return &throttle{Addr: p.Host}
}

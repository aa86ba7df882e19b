package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/reference"
)

// fastRetry keeps retries to milliseconds.
var fastRetry = WithRetry(RetryPolicy{Attempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})

// waitLog records the waits a client's retries ask for, instead of waiting:
// tests assert the waits themselves, not how long a call took.
type waitLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

// option makes the client record its waits in w (and not wait).
func (w *waitLog) option() Option {
	return func(c *Client) {
		c.sleep = func(ctx context.Context, d time.Duration) error {
			w.mu.Lock()
			w.waits = append(w.waits, d)
			w.mu.Unlock()
			return ctx.Err()
		}
	}
}

func (w *waitLog) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.waits)
}

// anonymous is a keychain with no credentials, so tests never read the
// machine's docker config.
var anonymous = WithKeychain(authn.NewMultiKeychain())

type basicKeychain struct{ user, password string }

func (k basicKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.user, Password: k.password}, nil
}

func mustRef(t *testing.T, s string) reference.Reference {
	t.Helper()
	ref, err := reference.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// pushImage pushes a small random OCI image to s as repo:tag and returns
// it with its descriptor.
func pushImage(t *testing.T, s *registrytest.Fault, repoTag string, seed int64) (v1.Image, ocispec.Descriptor) {
	t.Helper()
	img := registrytest.Image(t, "linux/amd64", 1, 1024, seed, registrytest.OCI)
	d := registrytest.Push(t, s.Host+"/"+repoTag, img)
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	s.Reset()
	return img, ocispec.Descriptor{MediaType: manifest.MediaTypeOCIManifest, Digest: d, Size: int64(len(raw))}
}

func TestResolveTagWithOneHead(t *testing.T) {
	s := registrytest.NewFault(t)
	_, want := pushImage(t, s, "app/web:1", 1)
	s.RequireToken("ci", "s3cret")
	c := NewClient(WithKeychain(basicKeychain{"ci", "s3cret"}), fastRetry)

	got, err := c.Resolve(context.Background(), mustRef(t, s.Host+"/app/web:1"))
	if err != nil {
		t.Fatalf("Resolve = %v", err)
	}
	if got.Digest != want.Digest || got.Size != want.Size || got.MediaType != want.MediaType {
		t.Errorf("Resolve = %+v, want %+v", got, want)
	}
	wantReqs := []string{"GET /v2/", "GET /token", "HEAD /v2/app/web/manifests/1"}
	if reqs := s.Requests(); !slices.Equal(reqs, wantReqs) {
		t.Errorf("requests = %q, want %q", reqs, wantReqs)
	}
}

// TestOnePingPerRegistry: the repositories of one registry share its ping
// (the /v2/ answer says how to authenticate); each gets its own token.
func TestOnePingPerRegistry(t *testing.T) {
	s := registrytest.NewFault(t)
	for i, repo := range []string{"app/a:1", "app/b:1", "app/c:1"} {
		pushImage(t, s, repo, int64(10+i))
	}
	s.RequireToken("ci", "s3cret")
	c := NewClient(WithKeychain(basicKeychain{"ci", "s3cret"}), fastRetry)
	for _, repo := range []string{"app/a:1", "app/b:1", "app/c:1"} {
		if _, err := c.Resolve(context.Background(), mustRef(t, s.Host+"/"+repo)); err != nil {
			t.Fatalf("Resolve(%s) = %v", repo, err)
		}
	}
	wantReqs := []string{"GET /v2/",
		"GET /token", "HEAD /v2/app/a/manifests/1",
		"GET /token", "HEAD /v2/app/b/manifests/1",
		"GET /token", "HEAD /v2/app/c/manifests/1"}
	if reqs := s.Requests(); !slices.Equal(reqs, wantReqs) {
		t.Errorf("requests = %q, want %q", reqs, wantReqs)
	}
}

func TestResolveWithoutDigestHeaderHashesBody(t *testing.T) {
	s := registrytest.NewFault(t)
	_, want := pushImage(t, s, "app/web:1", 2)
	s.On(registrytest.Request(http.MethodHead, "/manifests/1"), -1, registrytest.Rewrite(func(h http.Header, b []byte) []byte {
		h.Del("Docker-Content-Digest")
		return b
	}))
	c := NewClient(anonymous, fastRetry)

	got, err := c.Resolve(context.Background(), mustRef(t, s.Host+"/app/web:1"))
	if err != nil {
		t.Fatalf("Resolve = %v", err)
	}
	if got.Digest != want.Digest || got.Size != want.Size || got.MediaType != want.MediaType {
		t.Errorf("Resolve = %+v, want %+v", got, want)
	}
	wantReqs := []string{"GET /v2/", "HEAD /v2/app/web/manifests/1", "GET /v2/app/web/manifests/1"}
	if reqs := s.Requests(); !slices.Equal(reqs, wantReqs) {
		t.Errorf("requests = %q, want %q", reqs, wantReqs)
	}
}

func TestResolveDigestReference(t *testing.T) {
	s := registrytest.NewFault(t)
	_, want := pushImage(t, s, "app/web:1", 3)
	c := NewClient(anonymous, fastRetry)
	ref := mustRef(t, s.Host+"/app/web@"+want.Digest.String())

	got, err := c.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatalf("Resolve(%s) = %v", ref, err)
	}
	if got.Digest != want.Digest || got.Size != want.Size {
		t.Errorf("Resolve(%s) = %+v, want %+v", ref, got, want)
	}
	if n := s.Count(http.MethodHead, "/v2/app/web/manifests/"+want.Digest.String()); n != 1 {
		t.Errorf("HEAD by digest sent %d times, want 1", n)
	}
}

func TestResolveDigestReferenceServedOtherBytes(t *testing.T) {
	s := registrytest.NewFault(t)
	_, want := pushImage(t, s, "app/web:1", 4)
	// The registry claims another digest and serves other bytes.
	s.On(registrytest.Request("", "/manifests/"+want.Digest.String()), -1, registrytest.Rewrite(func(h http.Header, b []byte) []byte {
		other := append(bytes.Clone(b), ' ')
		h.Set("Docker-Content-Digest", digest.FromBytes(other).String())
		return other
	}))
	c := NewClient(anonymous, fastRetry)

	_, err := c.Resolve(context.Background(), mustRef(t, s.Host+"/app/web@"+want.Digest.String()))
	if !errors.Is(err, errs.ErrDigestMismatch) {
		t.Fatalf("Resolve = %v, want %v", err, errs.ErrDigestMismatch)
	}
}

// TestResolveNotFound: a missing tag and a missing repository are said in
// words, match errs.ErrNotFound, and are not retried; the HTTP detail stays
// in the debug log.
func TestResolveNotFound(t *testing.T) {
	s := registrytest.NewFault(t)
	pushImage(t, s, "app/web:1", 5)
	for _, tc := range []struct {
		ref, words, path string
	}{
		{"app/web:2", "tag 2 not found in " + s.Host + "/app/web", "/v2/app/web/manifests/2"},
		{"app/nope:1", "repository " + s.Host + "/app/nope not found", "/v2/app/nope/manifests/1"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			s.Reset()
			var logs bytes.Buffer
			c := NewClient(anonymous, fastRetry, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			_, err := c.Resolve(context.Background(), mustRef(t, s.Host+"/"+tc.ref))
			if !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("Resolve = %v, want %v", err, errs.ErrNotFound)
			}
			if err.Error() != tc.words {
				t.Errorf("Resolve error = %q, want %q", err, tc.words)
			}
			if n := s.Count(http.MethodHead, tc.path); n != 1 {
				t.Errorf("the 404 HEAD was sent %d times, want 1 (not retried)", n)
			}
			if n := s.Count(http.MethodGet, strings.TrimSuffix(tc.path, "manifests/"+path.Base(tc.path))+"tags/list"); n != 1 {
				t.Errorf("the tag list was asked for %d times after the 404, want 1 (to tell a missing tag from a missing repository)", n)
			}
			if !strings.Contains(logs.String(), "404") {
				t.Errorf("the HTTP detail is not in the debug log:\n%s", logs.String())
			}
		})
	}
}

func TestResolveBadCredentials(t *testing.T) {
	s := registrytest.NewFault(t)
	pushImage(t, s, "app/web:1", 6)
	s.RequireToken("ci", "s3cret")
	for _, tc := range []struct {
		name string
		opt  Option
	}{
		{"wrong password", WithKeychain(basicKeychain{"ci", "wrong-password"})},
		{"no credentials", anonymous},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClient(tc.opt, fastRetry)
			_, err := c.Resolve(context.Background(), mustRef(t, s.Host+"/app/web:1"))
			if !errors.Is(err, errs.ErrUnauthorized) {
				t.Fatalf("Resolve = %v, want %v", err, errs.ErrUnauthorized)
			}
			if strings.Contains(err.Error(), "wrong-password") {
				t.Errorf("Resolve error %q shows the password", err)
			}
		})
	}
}

func TestManifestExactBytes(t *testing.T) {
	s := registrytest.NewFault(t)
	_, child := pushImage(t, s, "app/web:child", 7)
	// A manifest list as a hand-written tool might produce it: escaped
	// slashes, tabs, CRLF, keys out of order. Re-marshalling would change
	// every one of these, and the digest with them.
	raw := []byte("{\r\n\t\"schemaVersion\":\t2,\r\n\t\"mediaType\": \"application\\/vnd.docker.distribution.manifest.list.v2+json\",\r\n" +
		"\t\"manifests\": [ {\"size\": " + fmt.Sprint(child.Size) + ", \"mediaType\": \"application\\/vnd.oci.image.manifest.v1+json\"," +
		" \"digest\": \"" + child.Digest.String() + "\", \"platform\": {\"os\": \"linux\", \"architecture\": \"amd64\"}} ]\r\n}   \n")
	d := registrytest.Push(t, s.Host+"/app/web:list", registrytest.Raw{Bytes: raw, Type: types.DockerManifestList})
	if d != digest.FromBytes(raw) {
		t.Fatalf("pushed digest %s, want %s", d, digest.FromBytes(raw))
	}
	c := NewClient(anonymous, fastRetry)
	ref := mustRef(t, s.Host+"/app/web:list")

	got, mt, err := c.Manifest(context.Background(), ref, d)
	if err != nil {
		t.Fatalf("Manifest = %v", err)
	}
	if !bytes.Equal(got, raw) {
		t.Errorf("Manifest bytes =\n%q\nwant\n%q", got, raw)
	}
	if mt != manifest.MediaTypeDockerList {
		t.Errorf("Manifest media type = %q, want %q", mt, manifest.MediaTypeDockerList)
	}
	desc, err := c.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatalf("Resolve = %v", err)
	}
	if desc.Digest != d || desc.Size != int64(len(raw)) || desc.MediaType != manifest.MediaTypeDockerList {
		t.Errorf("Resolve = %+v, want %s, %d bytes, %s", desc, d, len(raw), manifest.MediaTypeDockerList)
	}
}

func TestManifestWrongBytes(t *testing.T) {
	s := registrytest.NewFault(t)
	_, want := pushImage(t, s, "app/web:1", 8)
	s.On(registrytest.Request(http.MethodGet, "/manifests/"+want.Digest.String()), -1, registrytest.Rewrite(func(_ http.Header, b []byte) []byte {
		b = bytes.Clone(b)
		b[len(b)-2] ^= 1
		return b
	}))
	c := NewClient(anonymous, fastRetry)

	raw, _, err := c.Manifest(context.Background(), mustRef(t, s.Host+"/app/web:1"), want.Digest)
	if !errors.Is(err, errs.ErrDigestMismatch) {
		t.Fatalf("Manifest = %v, want %v", err, errs.ErrDigestMismatch)
	}
	if raw != nil {
		t.Errorf("Manifest returned %d bytes with its error", len(raw))
	}
	if !strings.Contains(err.Error(), want.Digest.String()) {
		t.Errorf("Manifest error %q does not name %s", err, want.Digest)
	}
}

func TestManifestTooLarge(t *testing.T) {
	huge := bytes.Repeat([]byte(" "), manifest.MaxManifestSize+1)
	for _, tc := range []struct {
		name string
		act  registrytest.Action
	}{
		{"announced", registrytest.Rewrite(func(http.Header, []byte) []byte { return huge })},
		{"chunked", func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
			w.Header().Set("Content-Type", manifest.MediaTypeOCIManifest)
			for i := 0; i < len(huge); i += 64 << 10 {
				if _, err := w.Write(huge[i:min(i+64<<10, len(huge))]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := registrytest.NewFault(t)
			_, want := pushImage(t, s, "app/web:1", 9)
			s.On(registrytest.Request(http.MethodGet, "/manifests/"+want.Digest.String()), -1, tc.act)
			c := NewClient(anonymous, fastRetry)

			_, _, err := c.Manifest(context.Background(), mustRef(t, s.Host+"/app/web:1"), want.Digest)
			if !errors.Is(err, errs.ErrTooLarge) {
				t.Fatalf("Manifest = %v, want %v", err, errs.ErrTooLarge)
			}
		})
	}
}

func TestBlob(t *testing.T) {
	s := registrytest.NewFault(t)
	img, _ := pushImage(t, s, "app/web:1", 10)
	desc := blobOf(t, img)
	ref := mustRef(t, s.Host+"/app/web:1")
	c := NewClient(anonymous, fastRetry)

	t.Run("streams", func(t *testing.T) {
		rc, err := c.Blob(context.Background(), ref, desc)
		if err != nil {
			t.Fatalf("Blob = %v", err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		if got := digest.FromBytes(b); got != desc.Digest || int64(len(b)) != desc.Size {
			t.Errorf("Blob read %d bytes hashing to %s, want %d bytes, %s", len(b), got, desc.Size, desc.Digest)
		}
	})
	t.Run("cut short", func(t *testing.T) {
		s.On(registrytest.Request(http.MethodGet, "/blobs/"+desc.Digest.String()), 1, registrytest.Truncate())
		rc, err := c.Blob(context.Background(), ref, desc)
		if err != nil {
			t.Fatalf("Blob = %v", err)
		}
		defer rc.Close()
		_, err = io.ReadAll(rc)
		if !errors.Is(err, io.ErrUnexpectedEOF) || !Transient(err) {
			t.Errorf("reading a cut body = %v, want a transient %v", err, io.ErrUnexpectedEOF)
		}
	})
	t.Run("length disagrees", func(t *testing.T) {
		bad := desc
		bad.Size++
		rc, err := c.Blob(context.Background(), ref, bad)
		if !errors.Is(err, errs.ErrSizeMismatch) {
			t.Fatalf("Blob = %v, want %v", err, errs.ErrSizeMismatch)
		}
		if rc != nil {
			t.Errorf("Blob returned a body with its error")
		}
		for _, n := range []string{fmt.Sprint(desc.Size), fmt.Sprint(bad.Size), desc.Digest.String()} {
			if !strings.Contains(err.Error(), n) {
				t.Errorf("Blob error %q does not say %s", err, n)
			}
		}
	})
}

func TestRetryAfterIsHonoured(t *testing.T) {
	s := registrytest.NewFault(t)
	_, want := pushImage(t, s, "app/web:1", 11)
	s.On(registrytest.Request(http.MethodHead, "/manifests/1"), 1, registrytest.Respond(http.StatusTooManyRequests, "Retry-After", "1"))
	var waits waitLog
	c := NewClient(anonymous, fastRetry, waits.option())

	got, err := c.Resolve(context.Background(), mustRef(t, s.Host+"/app/web:1"))
	if err != nil {
		t.Fatalf("Resolve = %v", err)
	}
	if got.Digest != want.Digest {
		t.Errorf("Resolve = %s, want %s", got.Digest, want.Digest)
	}
	if w := waits.all(); len(w) != 1 || w[0] != time.Second {
		t.Errorf("Resolve waited %v, want once the 1s Retry-After asked for", w)
	}
	if n := s.Count(http.MethodHead, "/v2/app/web/manifests/1"); n != 2 {
		t.Errorf("HEAD sent %d times, want 2", n)
	}
}

func TestRetryServerErrorThenSuccess(t *testing.T) {
	for _, code := range []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s := registrytest.NewFault(t)
			_, want := pushImage(t, s, "app/web:1", 12)
			s.On(registrytest.Request(http.MethodGet, "/manifests/"+want.Digest.String()), 2, registrytest.Respond(code))
			c := NewClient(anonymous, fastRetry)

			raw, _, err := c.Manifest(context.Background(), mustRef(t, s.Host+"/app/web:1"), want.Digest)
			if err != nil {
				t.Fatalf("Manifest = %v", err)
			}
			if digest.FromBytes(raw) != want.Digest {
				t.Errorf("Manifest bytes hash to %s, want %s", digest.FromBytes(raw), want.Digest)
			}
			if n := s.Count(http.MethodGet, "/v2/app/web/manifests/"+want.Digest.String()); n != 3 {
				t.Errorf("GET sent %d times, want 3", n)
			}
		})
	}
}

func TestRetryGivesUp(t *testing.T) {
	for _, code := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s := registrytest.NewFault(t)
			_, want := pushImage(t, s, "app/web:1", 13)
			s.On(registrytest.Request(http.MethodGet, "/manifests/"+want.Digest.String()), -1, registrytest.Respond(code))
			c := NewClient(anonymous, WithRetry(RetryPolicy{Attempts: 4, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))

			_, _, err := c.Manifest(context.Background(), mustRef(t, s.Host+"/app/web:1"), want.Digest)
			if err == nil {
				t.Fatal("Manifest succeeded against a failing registry")
			}
			if !strings.Contains(err.Error(), fmt.Sprint(code)) {
				t.Errorf("Manifest error %q does not give the status %d", err, code)
			}
			if n := s.Count(http.MethodGet, "/v2/app/web/manifests/"+want.Digest.String()); n != 4 {
				t.Errorf("GET sent %d times, want 4 (Attempts)", n)
			}
		})
	}
}

// countingTransport counts the requests that reach the network.
type countingTransport struct {
	inner http.RoundTripper
	n     atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.inner.RoundTrip(r)
}

func TestRefusedConnectionIsNotRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close() // nothing listens there now

	ct := &countingTransport{inner: http.DefaultTransport.(*http.Transport).Clone()}
	var waits waitLog
	c := NewClient(anonymous, WithTransport(ct), WithRetry(RetryPolicy{Attempts: 5, MinBackoff: 2 * time.Second}), waits.option())
	_, err = c.Resolve(context.Background(), mustRef(t, host+"/app/web:1"))
	if err == nil {
		t.Fatal("Resolve succeeded with nothing listening")
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("Resolve error %q does not say the connection was refused", err)
	}
	if w := waits.all(); len(w) != 0 {
		t.Errorf("Resolve waited %v before trying again: a refused connection was retried", w)
	}
	// One https and one plain http attempt of the ping, nothing more.
	if n := ct.n.Load(); n > 2 {
		t.Errorf("%d requests reached the transport, want at most 2", n)
	}
}

// redirectDialer sends every connection to addr, whatever host the URL
// names, so a test can use a non-loopback name without leaving the machine.
func redirectDialer(addr string) *http.Transport {
	var d net.Dialer
	return &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
}

func TestInsecureHost(t *testing.T) {
	s := registrytest.NewFault(t)
	_, want := pushImage(t, s, "app/web:1", 14)
	// A private address: go-containerregistry would fall back to http for
	// it; vendorimg must not unless told.
	const host = "10.0.0.1:5000"
	ref := mustRef(t, host+"/app/web:1")

	t.Run("refused", func(t *testing.T) {
		s.Reset()
		c := NewClient(anonymous, fastRetry, WithTransport(redirectDialer(s.Listener.Addr().String())))
		_, err := c.Resolve(context.Background(), ref)
		if !errors.Is(err, errs.ErrInsecure) {
			t.Fatalf("Resolve = %v, want %v", err, errs.ErrInsecure)
		}
		if reqs := s.Requests(); len(reqs) != 0 {
			t.Errorf("the registry got %q over plain http", reqs)
		}
	})
	t.Run("declared", func(t *testing.T) {
		s.Reset()
		c := NewClient(anonymous, fastRetry, WithTransport(redirectDialer(s.Listener.Addr().String())), WithInsecure(host))
		got, err := c.Resolve(context.Background(), ref)
		if err != nil {
			t.Fatalf("Resolve = %v", err)
		}
		if got.Digest != want.Digest {
			t.Errorf("Resolve = %s, want %s", got.Digest, want.Digest)
		}
	})
}

func TestMirror(t *testing.T) {
	ctx := context.Background()
	t.Run("used", func(t *testing.T) {
		mirror, canonical := registrytest.NewFault(t), registrytest.NewFault(t)
		img, want := pushImage(t, mirror, "app/web:1", 15)
		c := NewClient(anonymous, fastRetry, WithMirrors(map[string]string{canonical.Host: mirror.Host}))
		ref := mustRef(t, canonical.Host+"/app/web:1")

		got, err := c.Resolve(ctx, ref)
		if err != nil {
			t.Fatalf("Resolve = %v", err)
		}
		if got.Digest != want.Digest {
			t.Errorf("Resolve = %s, want %s", got.Digest, want.Digest)
		}
		if _, _, err := c.Manifest(ctx, ref, want.Digest); err != nil {
			t.Fatalf("Manifest = %v", err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := c.Blob(ctx, ref, ocispec.Descriptor{Digest: digest.Digest(m.Config.Digest.String()), Size: m.Config.Size})
		if err != nil {
			t.Fatalf("Blob = %v", err)
		}
		rc.Close()
		if n := canonical.Conns(); n != 0 {
			t.Errorf("the registry got %d connections (%q) although its mirror works", n, canonical.Requests())
		}
		if len(mirror.Requests()) < 3 {
			t.Errorf("the mirror got %q, want the HEAD and both GETs", mirror.Requests())
		}
	})
	t.Run("falls back", func(t *testing.T) {
		mirror, canonical := registrytest.NewFault(t), registrytest.NewFault(t)
		_, want := pushImage(t, canonical, "app/web:1", 16)
		var logs bytes.Buffer
		var notices []string
		c := NewClient(anonymous, fastRetry, WithMirrors(map[string]string{canonical.Host: mirror.Host}),
			WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
			WithNotice(func(s string) { notices = append(notices, s) }))

		got, err := c.Resolve(ctx, mustRef(t, canonical.Host+"/app/web:1"))
		if err != nil {
			t.Fatalf("Resolve = %v", err)
		}
		if _, _, err := c.Manifest(ctx, mustRef(t, canonical.Host+"/app/web:1"), want.Digest); err != nil {
			t.Fatalf("Manifest = %v", err)
		}
		wantNotice := "mirror " + mirror.Host + " failed (repository " + mirror.Host + "/app/web not found), using " + canonical.Host
		if len(notices) != 1 || notices[0] != wantNotice {
			t.Errorf("notices = %q, want one: %q", notices, wantNotice)
		}
		if got.Digest != want.Digest {
			t.Errorf("Resolve = %s, want %s", got.Digest, want.Digest)
		}
		if n := mirror.Count(http.MethodHead, "/v2/app/web/manifests/1"); n != 1 {
			t.Errorf("the mirror got the HEAD %d times, want 1", n)
		}
		if !strings.Contains(logs.String(), "mirror failed") {
			t.Errorf("no debug log of the fallback:\n%s", logs.String())
		}
	})
	t.Run("both fail", func(t *testing.T) {
		mirror, canonical := registrytest.NewFault(t), registrytest.NewFault(t)
		c := NewClient(anonymous, fastRetry, WithMirrors(map[string]string{canonical.Host: mirror.Host}))

		_, err := c.Resolve(ctx, mustRef(t, canonical.Host+"/app/web:1"))
		if !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("Resolve = %v, want %v", err, errs.ErrNotFound)
		}
		// The mirror's answer leads; the registry's follows.
		want := "repository " + mirror.Host + "/app/web not found (the registry " + canonical.Host + " failed too: repository " + canonical.Host + "/app/web not found)"
		if err.Error() != want {
			t.Errorf("Resolve error = %q, want %q", err, want)
		}
	})
	t.Run("mirror unreachable, registry answers", func(t *testing.T) {
		canonical := registrytest.NewFault(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gone := l.Addr().String()
		l.Close()
		c := NewClient(anonymous, fastRetry, WithMirrors(map[string]string{canonical.Host: gone}))

		_, err = c.Resolve(ctx, mustRef(t, canonical.Host+"/app/web:9"))
		if !errors.Is(err, errs.ErrNotFound) || !strings.HasPrefix(err.Error(), "repository "+canonical.Host+"/app/web not found (the mirror "+gone+" failed first: ") {
			t.Errorf("Resolve = %v, want the registry's answer first, then the mirror's failure", err)
		}
	})
}

func TestDockerConfigCredentials(t *testing.T) {
	const user, password = "vendor", "pa55-Wörd-7f3e91"
	reg := registrytest.Start(t, registrytest.Options{User: user, Password: password})
	img := registrytest.Image(t, "linux/amd64", 1, 512, 17, registrytest.OCI)
	want := registrytest.Push(t, reg.Host+"/app/web:1", img, remote.WithAuth(&authn.Basic{Username: user, Password: password}))
	ref := mustRef(t, reg.Host+"/app/web:1")

	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name   string
		auths  map[string]string
		secret string
		err    error
		words  string // the error, with CONFIG for the config file's path
	}{
		{"right", map[string]string{reg.Host: b64(user + ":" + password)}, password, nil, ""},
		{"wrong", map[string]string{reg.Host: b64(user + ":" + password + "-wrong")}, password + "-wrong", errs.ErrUnauthorized,
			"unauthorized: " + reg.Host + " refused access to app/web (credentials from CONFIG)"},
		{"none", nil, password, errs.ErrUnauthorized,
			"unauthorized: " + reg.Host + " refused access to app/web (no credentials for " + reg.Host + " in CONFIG; docker login " + reg.Host + " adds them)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config := registrytest.IsolateDockerConfig(t, tc.auths)
			var logs bytes.Buffer
			c := NewClient(fastRetry, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))

			got, err := c.Resolve(context.Background(), ref)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("Resolve = %v, want %v", err, tc.err)
			}
			if err == nil && got.Digest != want {
				t.Errorf("Resolve = %s, want %s", got.Digest, want)
			}
			if words := strings.ReplaceAll(tc.words, "CONFIG", config); err != nil && err.Error() != words {
				t.Errorf("Resolve error = %q, want %q", err, words)
			}
			if err == nil {
				rc, err := c.Blob(context.Background(), ref, blobOf(t, img))
				if err != nil {
					t.Fatalf("Blob = %v", err)
				}
				rc.Close()
			}
			if logs.Len() == 0 {
				t.Fatal("nothing logged at debug level")
			}
			text := logs.String()
			if err != nil {
				text += err.Error()
			}
			for _, s := range []string{tc.secret, url64(tc.secret), b64(user + ":" + tc.secret)} {
				if strings.Contains(text, s) {
					t.Errorf("%q appears in the logs or the error:\n%s", s, text)
				}
			}
		})
	}
}

// url64 is the URL-safe base64 form, in case a secret leaks that way.
func url64(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }

func blobOf(t *testing.T, img v1.Image) ocispec.Descriptor {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	l := m.Layers[0]
	return ocispec.Descriptor{MediaType: string(l.MediaType), Digest: digest.Digest(l.Digest.String()), Size: l.Size}
}

// TestTokenAuth connects to a repository behind a token server: the
// right credentials get a token, wrong ones are ErrUnauthorized, and
// neither fetches anything.
func TestTokenAuth(t *testing.T) {
	s := registrytest.NewFault(t)
	s.RequireToken("ci", "s3cret")
	ref := mustRef(t, s.Host+"/app/web:1")
	connect := func(c *Client) error {
		_, err := c.transport(context.Background(), ref.Registry, ref.Repository)
		return err
	}
	if err := connect(NewClient(WithKeychain(basicKeychain{"ci", "s3cret"}), fastRetry)); err != nil {
		t.Errorf("connecting with the right credentials = %v", err)
	}
	if err := connect(NewClient(WithKeychain(basicKeychain{"ci", "nope"}), fastRetry)); !errors.Is(err, errs.ErrUnauthorized) {
		t.Errorf("connecting with wrong credentials = %v, want %v", err, errs.ErrUnauthorized)
	}
	for _, r := range s.Requests() {
		if strings.Contains(r, "/manifests/") || strings.Contains(r, "/blobs/") {
			t.Errorf("connecting fetched %s", r)
		}
	}
}

// TestLongRetryAfter: a registry asking to wait a day gets capped waits,
// one notice each, and a clear error once the budget is spent.
func TestLongRetryAfter(t *testing.T) {
	s := registrytest.NewFault(t)
	pushImage(t, s, "app/web:1", 42)
	s.On(registrytest.Request(http.MethodHead, "/manifests/1"), -1, registrytest.Respond(http.StatusTooManyRequests, "Retry-After", "86400"))
	var mu sync.Mutex
	var notices []string
	var waits waitLog
	c := NewClient(anonymous, WithRetry(RetryPolicy{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxRetryAfter: 50 * time.Millisecond, MaxWait: 200 * time.Millisecond}),
		WithNotice(func(s string) { mu.Lock(); notices = append(notices, s); mu.Unlock() }), waits.option())

	_, err := c.Resolve(context.Background(), mustRef(t, s.Host+"/app/web:1"))
	if err == nil {
		t.Fatal("Resolve succeeded against a registry that asks to wait a day")
	}
	if !strings.Contains(err.Error(), "asked to wait 24h0m0s") || !strings.Contains(err.Error(), "try again later") {
		t.Errorf("Resolve error %q does not say the registry asked to wait", err)
	}
	if !errors.Is(err, errs.ErrTimeout) {
		t.Errorf("Resolve error %q does not wrap %v: a wait past the budget is a timeout (--json kind timeout)", err, errs.ErrTimeout)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(notices) != 4 {
		t.Errorf("notices = %q, want one per wait of 50ms within the 200ms budget (4)", notices)
	}
	if n := s.Count(http.MethodHead, "/v2/app/web/manifests/1"); n != len(notices)+1 {
		t.Errorf("HEAD sent %d times, want %d (one after each wait)", n, len(notices)+1)
	}
	if w := waits.all(); !slices.Equal(w, []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}) {
		t.Errorf("Resolve waited %v, want 4 x 50ms: the capped Retry-After, within the 200ms budget", w)
	}
	t.Logf("gave up: %v; first notice: %s", err, notices[0])
}

// TestCredentialSource: an unauthorized error says where the credentials
// came from, following the default keychain's lookup, never what they are.
func TestCredentialSource(t *testing.T) {
	for _, tc := range []struct {
		name, config, host, want string
	}{
		{"auths", `{"auths":{"registry.test:5000":{"auth":"c2VjcmV0OnNlY3JldA=="}}}`, "registry.test:5000", "credentials from {config}"},
		{"auths by URL", `{"auths":{"https://index.docker.io/v1/":{"auth":"c2VjcmV0OnNlY3JldA=="}}}`, "docker.io", "credentials from {config}"},
		{"helper", `{"credHelpers":{"registry.test:5000":"pass"},"credsStore":"desktop"}`, "registry.test:5000", "credentials from the credential helper docker-credential-pass, named in {config}"},
		{"store", `{"credsStore":"desktop","auths":{"registry.test:5000":{}}}`, "registry.test:5000", "credentials from the credential store docker-credential-desktop, named in {config}"},
		{"none for the host", `{"auths":{"other.test":{"auth":"c2VjcmV0OnNlY3JldA=="}}}`, "registry.test:5000", "no credentials for registry.test:5000 in {config}; docker login registry.test:5000 adds them"},
		{"no file", "", "registry.test:5000", "no credentials: no docker config file (~/.docker/config.json, $DOCKER_CONFIG/config.json); docker login registry.test:5000 writes one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := registrytest.IsolateDockerConfig(t, nil)
			if tc.config == "" {
				os.Remove(path)
			} else if err := os.WriteFile(path, []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			got := NewClient().credentialSource(tc.host)
			if want := strings.ReplaceAll(tc.want, "{config}", path); got != want {
				t.Errorf("credentialSource(%q) = %q, want %q", tc.host, got, want)
			}
			if strings.Contains(got, "secret") || strings.Contains(got, "c2VjcmV0") {
				t.Errorf("credentialSource shows the secret: %q", got)
			}
		})
	}
}

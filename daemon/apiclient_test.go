package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
)

// apiServer is an Engine API server on a unix socket: /_ping answers in
// version (and as server), every other request goes to h, after its
// version prefix is checked and recorded.
type apiServer struct {
	sock    string
	pings   atomic.Int32
	version atomic.Value // the version prefix of the last request
}

func startAPIServer(t *testing.T, version, server string, h http.HandlerFunc) *apiServer {
	t.Helper()
	s := &apiServer{sock: filepath.Join(t.TempDir(), "e.sock")}
	ln, err := net.Listen("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			s.pings.Add(1)
			if version != "" {
				w.Header().Set("Api-Version", version)
			}
			w.Header().Set("Server", server)
			if strings.HasPrefix(server, "Libpod/") {
				w.Header().Set("Libpod-Api-Version", strings.TrimSuffix(strings.TrimPrefix(server, "Libpod/"), " (linux)"))
			}
			_, _ = w.Write([]byte("OK"))
			return
		}
		v, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v"), "/")
		s.version.Store(v)
		r.URL.Path = "/" + rest
		h(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return s
}

func (s *apiServer) client(t *testing.T) *APIClient {
	t.Helper()
	c, err := newAPIClient("unix://"+s.sock, "", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestAPIClientNegotiates(t *testing.T) {
	for _, tc := range []struct {
		engine, want string
		wantErr      string
	}{
		{"1.41", "1.41", ""},
		{"1.47", "1.47", ""},
		{maxAPIVersion, maxAPIVersion, ""},
		{"1.99", maxAPIVersion, ""},
		{"", minAPIVersion, ""},
		{"1.40", "", "speaks API 1.40; vendorimg needs 1.41"},
	} {
		t.Run("engine "+tc.engine, func(t *testing.T) {
			s := startAPIServer(t, tc.engine, "Docker/28.0.0 (linux)", func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"OSType":"linux","Architecture":"x86_64"}`))
			})
			c := s.client(t)
			_, err := c.Info(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Info() = %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.version.Load(); got != tc.want || c.ClientVersion() != tc.want {
				t.Errorf("request in API %v, ClientVersion() = %s; want %s", got, c.ClientVersion(), tc.want)
			}
			if _, err := c.Info(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := s.pings.Load(); n != 1 {
				t.Errorf("%d pings for two requests, want 1", n)
			}
		})
	}
}

func TestAPIClientPing(t *testing.T) {
	for _, server := range []string{"Docker/20.10.24 (linux)", "Libpod/4.3.1 (linux)"} {
		s := startAPIServer(t, "1.41", server, nil)
		p, err := s.client(t).Ping(context.Background())
		wantLibpod := ""
		if strings.HasPrefix(server, "Libpod/") {
			wantLibpod = "4.3.1"
		}
		if err != nil || p.Server != server || p.APIVersion != "1.41" || p.Libpod != wantLibpod {
			t.Errorf("Ping() = %+v, %v; want server %q, API 1.41, libpod %q", p, err, server, wantLibpod)
		}
	}
}

func TestAPIClientFixedVersion(t *testing.T) {
	s := startAPIServer(t, "1.47", "Docker/27.0.0 (linux)", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{}`))
	})
	t.Setenv(envHost, "unix://"+s.sock)
	t.Setenv(envAPIVersion, "1.43")
	c, err := NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.version.Load(); got != "1.43" || s.pings.Load() != 0 {
		t.Errorf("with %s=1.43: request in API %v after %d pings, want 1.43 and no ping", envAPIVersion, got, s.pings.Load())
	}
}

func TestNewClientRefuses(t *testing.T) {
	for _, tc := range []struct {
		host, version, want string
	}{
		{"ssh://me@build-host", "", "unix:// and tcp:// addresses, not ssh://"},
		{"/var/run/docker.sock", "", "is not an address"},
		{"tcp://", "", "is not an address"},
		{"unix:///var/run/docker.sock", "latest", "DOCKER_API_VERSION=\"latest\" is not an API version"},
	} {
		t.Setenv(envHost, tc.host)
		t.Setenv(envAPIVersion, tc.version)
		if _, err := NewClient(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewClient() with DOCKER_HOST=%q DOCKER_API_VERSION=%q = %v, want an error saying %q", tc.host, tc.version, err, tc.want)
		}
	}
}

func TestAPIClientErrors(t *testing.T) {
	s := startAPIServer(t, "1.41", "Docker/20.10.24 (linux)", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/images/missing:1/json":
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"No such image: missing:1"}`))
		case "/images/used:1":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"message":"conflict: unable to remove repository reference"}`))
		default:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("plain failure\n"))
		}
	})
	c := s.client(t)
	ctx := context.Background()
	_, err := c.ImageInspect(ctx, "missing:1")
	if !isNotFound(err) || err.Error() != "the engine answered 404: No such image: missing:1" {
		t.Errorf("ImageInspect(missing) = %v, want a not-found error with the engine's message", err)
	}
	_, err = c.ImageRemove(ctx, "used:1", false)
	if !isConflict(err) || isNotFound(err) {
		t.Errorf("ImageRemove(used) = %v, want a conflict", err)
	}
	_, err = c.ImageList(ctx)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 500 || ae.Message != "plain failure" || !cerrdefs.IsInternal(err) {
		t.Errorf("ImageList() = %v, want the engine's plain text as a 500", err)
	}
}

func TestAPIClientNoEngine(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "nobody.sock")
	c, err := newAPIClient("unix://"+sock, "", false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Inspect(context.Background(), c)
	if !errors.Is(err, errs.ErrNoEngine) || !isConnectionFailed(err) || !strings.Contains(err.Error(), sock) {
		t.Errorf("Inspect() with nobody at %s = %v, want ErrNoEngine naming the socket", sock, err)
	}
}

func TestAPIClientRequests(t *testing.T) {
	var got []string
	s := startAPIServer(t, "1.48", "Docker/28.0.0 (linux)", func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		switch r.URL.Path {
		case "/events":
			enc := json.NewEncoder(w)
			_ = enc.Encode(events.Message{Type: events.ImageEventType, Action: events.ActionTag, Actor: events.Actor{ID: "sha256:1"}})
			_ = enc.Encode(events.Message{Type: events.ContainerEventType, Action: events.ActionCommit})
		case "/images/sha256:1":
			_, _ = w.Write([]byte(`[{"Untagged":"probe:1"}]`))
		default:
			_, _ = w.Write([]byte(`{}`))
		}
	})
	c := s.client(t)
	ctx := context.Background()
	if err := c.ImageTag(ctx, "sha256:1", "probe:1"); err != nil {
		t.Fatal(err)
	}
	if err := c.ImageTag(ctx, "sha256:1", "probe@sha256:"+strings.Repeat("a", 64)); err == nil {
		t.Error("ImageTag() to a digest reference succeeded, want an error")
	}
	if out, err := c.ImageRemove(ctx, "sha256:1", true); err != nil || len(out) != 1 || out[0].Untagged != "probe:1" {
		t.Errorf("ImageRemove() = %+v, %v", out, err)
	}
	body, err := c.ImageSave(ctx, []string{"probe:1"}, ocispec.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	body.Close()
	since := time.Unix(1700000000, 5)
	msgs, err := c.Events(ctx, since, since.Add(time.Second))
	if err != nil || len(msgs) != 2 || msgs[0].Action != events.ActionTag || msgs[1].Action != events.ActionCommit {
		t.Errorf("Events() = %+v, %v; want the tag and the commit", msgs, err)
	}
	want := []string{
		"POST /images/sha256:1/tag?repo=docker.io%2Flibrary%2Fprobe&tag=1",
		"DELETE /images/sha256:1?force=1&noprune=1",
		`GET /images/get?names=probe%3A1&platform=%7B%22architecture%22%3A%22arm64%22%2C%22os%22%3A%22linux%22%7D`,
		"GET /events?since=1700000000.000000005&until=1700000001.000000005",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAPIClientSaveForAPlatformNeeds148(t *testing.T) {
	s := startAPIServer(t, "1.41", "Docker/20.10.24 (linux)", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request %s sent, want none", r.URL)
	})
	_, err := s.client(t).ImageSave(context.Background(), []string{"probe:1"}, ocispec.Platform{OS: "linux", Architecture: "amd64"})
	if err == nil || !strings.Contains(err.Error(), "needs API 1.48; the engine speaks 1.41") {
		t.Errorf("ImageSave() for a platform from API 1.41 = %v, want an error saying it needs 1.48", err)
	}
}

// TestAPIClientTLS: DOCKER_CERT_PATH's ca.pem, cert.pem and key.pem, and
// DOCKER_TLS_VERIFY, as docker reads them, against an engine that asks for
// the client's certificate.
func TestAPIClientTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCert(t, nil, nil, "engine CA", true)
	srvCert, srvKey := newCert(t, ca, caKey, "127.0.0.1", false)
	cliCert, cliKey := newCert(t, ca, caKey, "client", false)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	writePEM(t, filepath.Join(dir, "cert.pem"), "CERTIFICATE", cliCert.Raw)
	keyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "key.pem"), "EC PRIVATE KEY", keyDER)

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			t.Error("no client certificate")
		}
		w.Header().Set("Api-Version", "1.41")
		_, _ = w.Write([]byte(`{"OSType":"linux","Architecture":"aarch64","ServerVersion":"tls"}`))
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: pool,
	}
	srv.StartTLS()
	defer srv.Close()

	t.Setenv(envHost, "tcp://"+srv.Listener.Addr().String())
	t.Setenv(envCertPath, dir)
	t.Setenv(envTLSVerify, "1")
	c, err := NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eng, err := Inspect(context.Background(), c)
	if err != nil || eng.Platform != "linux/arm64" {
		t.Errorf("Inspect() over TLS = %+v, %v; want linux/arm64", eng, err)
	}

	t.Setenv(envCertPath, t.TempDir())
	if _, err := NewClient(); err == nil || !strings.Contains(err.Error(), "ca.pem") {
		t.Errorf("NewClient() with an empty DOCKER_CERT_PATH = %v, want an error naming ca.pem", err)
	}
}

// newCert makes a certificate for name, signed by parent (self-signed
// when nil).
func newCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, name string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:        isCA, BasicConstraintsValid: true,
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

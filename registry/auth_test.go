package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

func TestCheckRealm(t *testing.T) {
	for _, tc := range []struct {
		registry, realm string
		ok              bool
	}{
		{"127.0.0.1:5000", "http://127.0.0.1:5000/token", true},
		{"127.0.0.1:5000", "http://127.0.0.1:5001/token", true},
		{"localhost:5000", "http://127.0.0.1:5001/token", true},
		{"127.0.0.1:5000", "http://localhost:5001/auth", true},
		{"[::1]:5000", "http://[::1]:5001/token", true},
		{"127.0.0.1:5000", "https://auth.example.com/token", true},
		{"127.0.0.1:5000", "https://10.0.0.5/token", false},
		{"127.0.0.1:5000", "http://169.254.169.254/latest/meta-data", false},
		{"registry.example.com", "https://auth.example.com/token", true},
		{"registry.example.com", "https://registry.example.com/token", true},
		{"registry.example.com", "http://127.0.0.1:5001/token", false},
		{"registry.example.com", "https://localhost/token", false},
		{"registry.example.com", "https://10.1.2.3/token", false},
		{"registry.example.com", "https://192.168.1.1:8443/token", false},
		{"registry.example.com", "https://[fe80::1]/token", false},
		{"registry.example.com", "https://0.0.0.0/token", false},
		{"10.0.0.1:5000", "https://10.0.0.1:5000/token", true},
		{"10.0.0.1:5000", "https://10.0.0.1:5001/token", false},
		{"127.0.0.1:5000", "ftp://127.0.0.1:5001/token", false},
		{"127.0.0.1:5000", "", false},
		{"127.0.0.1:5000", "/token", false},
	} {
		t.Run(tc.registry+" "+tc.realm, func(t *testing.T) {
			_, err := checkRealm(tc.registry, tc.realm)
			if (err == nil) != tc.ok {
				t.Errorf("checkRealm(%q, %q) = %v, want allowed %v", tc.registry, tc.realm, err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), tc.registry) {
				t.Errorf("checkRealm error %q does not name the registry", err)
			}
		})
	}
}

// authLog records the Authorization headers a server received.
type authLog struct {
	mu sync.Mutex
	h  []string
}

func (l *authLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.h = append(l.h, r.Header.Get("Authorization"))
}

func (l *authLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.h...)
}

// storage serves a layer's bytes, as blob storage a registry redirects to
// would, recording the Authorization headers it gets.
func storage(t *testing.T, img v1.Image) (*httptest.Server, *authLog) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	log := &authLog{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		http.ServeContent(w, r, "layer", time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(srv.Close)
	return srv, log
}

// TestTokenServerOnAnotherLoopbackPort is issue 8.4: a loopback registry
// whose token server listens on another loopback port works; the basic
// credentials go to the token server alone, the token to the registry
// alone, and neither to the storage a blob is redirected to.
func TestTokenServerOnAnotherLoopbackPort(t *testing.T) {
	s := registrytest.NewFault(t)
	img, want := pushImage(t, s, "app/web:1", 43)
	ts := registrytest.NewTokenServer(t, "ci", "s3cret")
	s.RequireTokenFrom(ts)
	layer := blobOf(t, img)
	store, storeAuth := storage(t, img)
	s.On(registrytest.Request(http.MethodGet, "/blobs/"+layer.Digest.String()), 1,
		registrytest.Respond(http.StatusTemporaryRedirect, "Location", store.URL+"/layer"))
	ref := mustRef(t, s.Host+"/app/web:1")

	c := NewClient(WithKeychain(basicKeychain{"ci", "s3cret"}), fastRetry)
	got, err := c.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatalf("Resolve = %v", err)
	}
	if got.Digest != want.Digest {
		t.Errorf("Resolve = %s, want %s", got.Digest, want.Digest)
	}
	rc, err := c.Blob(context.Background(), ref, layer)
	if err != nil {
		t.Fatalf("Blob = %v", err)
	}
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil || n != layer.Size {
		t.Errorf("reading the redirected blob = %d bytes, %v, want %d", n, err, layer.Size)
	}

	reqs := ts.Requests()
	if len(reqs) != 1 {
		t.Errorf("the token server got %+v, want one request", reqs)
	}
	for _, r := range reqs {
		if u, p, ok := basicAuth(r.Authorization); !ok || u != "ci" || p != "s3cret" {
			t.Errorf("the token server got Authorization %q, want the basic credentials", r.Authorization)
		}
		if r.Scope != "repository:app/web:pull" || r.Service != "faultserver" {
			t.Errorf("token request for service %q scope %q, want faultserver and repository:app/web:pull", r.Service, r.Scope)
		}
	}
	for i, a := range s.Authorizations() {
		if a != "" && a != "Bearer tok-ci" {
			t.Errorf("request %d to the registry carried Authorization %q, want the token or nothing", i, a)
		}
	}
	for _, a := range storeAuth.all() {
		if a != "" {
			t.Errorf("the blob storage got Authorization %q, want none", a)
		}
	}
	if len(storeAuth.all()) != 1 {
		t.Errorf("the blob storage got %d requests, want the redirected one", len(storeAuth.all()))
	}

	t.Run("wrong password", func(t *testing.T) {
		_, err := NewClient(WithKeychain(basicKeychain{"ci", "nope"}), fastRetry).Resolve(context.Background(), ref)
		if !errors.Is(err, errs.ErrUnauthorized) {
			t.Fatalf("Resolve = %v, want %v", err, errs.ErrUnauthorized)
		}
		if strings.Contains(err.Error(), "nope") {
			t.Errorf("Resolve error %q shows the password", err)
		}
	})
}

// TestPrivateRealmOfAPublicRegistryIsRefused: a registry under a public
// name (mapped to the test's server by the dialer) that names a token
// server on a loopback address gets no credentials sent there.
func TestPrivateRealmOfAPublicRegistryIsRefused(t *testing.T) {
	s := registrytest.NewFault(t)
	pushImage(t, s, "app/web:1", 44)
	ts := registrytest.NewTokenServer(t, "ci", "s3cret")
	s.RequireTokenFrom(ts)
	const host = "registry.example.test"
	c := NewClient(WithKeychain(basicKeychain{"ci", "s3cret"}), fastRetry, WithInsecure(host),
		WithTransport(redirectDialer(s.Listener.Addr().String())))

	_, err := c.Resolve(context.Background(), mustRef(t, host+"/app/web:1"))
	if err == nil {
		t.Fatal("Resolve succeeded through a loopback realm of a public registry")
	}
	if !strings.Contains(err.Error(), "realm") || !strings.Contains(err.Error(), host) {
		t.Errorf("Resolve error %q does not say the realm of %s was refused", err, host)
	}
	t.Logf("Resolve = %v", err)
	if reqs := ts.Requests(); len(reqs) != 0 {
		t.Errorf("the token server got %+v, want nothing", reqs)
	}
}

// TestCredentialsStayWithTheirHost: with a mirror, each host gets its own
// credentials, never the other's.
func TestCredentialsStayWithTheirHost(t *testing.T) {
	mirror, canonical := registrytest.NewFault(t), registrytest.NewFault(t)
	pushImage(t, canonical, "app/web:1", 45)
	mirror.RequireToken("mirror-user", "mirror-pass")
	keys := hostKeychain{canonical.Host: {"canon-user", "canon-pass"}, mirror.Host: {"mirror-user", "wrong"}}
	c := NewClient(WithKeychain(keys), fastRetry, WithMirrors(map[string]string{canonical.Host: mirror.Host}))

	if _, err := c.Resolve(context.Background(), mustRef(t, canonical.Host+"/app/web:1")); err != nil {
		t.Fatalf("Resolve = %v (the mirror refuses, the registry answers)", err)
	}
	sawMirrors := false
	for _, a := range mirror.Authorizations() {
		u, _, _ := basicAuth(a)
		if u == "canon-user" || strings.Contains(a, "canon") {
			t.Errorf("the mirror got the registry's credentials: %q", a)
		}
		sawMirrors = sawMirrors || u == "mirror-user"
	}
	if !sawMirrors {
		t.Errorf("the mirror never got its own credentials: %q", mirror.Authorizations())
	}
	for _, a := range canonical.Authorizations() {
		if u, _, _ := basicAuth(a); u == "mirror-user" {
			t.Errorf("the registry got the mirror's credentials")
		}
	}
}

// basicAuth decodes a basic Authorization header.
func basicAuth(h string) (user, password string, ok bool) {
	return (&http.Request{Header: http.Header{"Authorization": {h}}}).BasicAuth()
}

type hostKeychain map[string][2]string

func (k hostKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if c, ok := k[r.RegistryStr()]; ok {
		return &authn.Basic{Username: c[0], Password: c[1]}, nil
	}
	return authn.Anonymous, nil
}

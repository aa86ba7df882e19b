package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/internal/testsupport/testbin"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/registry"
	"github.com/vendorimg/vendorimg/serve"
)

// fixture is a layout synced from an in-process registry: a three-platform
// index of which two platforms are vendored, named twice (under its
// registry's host and as a Docker Hub image through a mirror).
type fixture struct {
	layout *layout.Layout
	pin    digest.Digest
	// absent is the manifest of the platform not vendored.
	absent digest.Digest
	// layer is a vendored layer.
	layer digest.Digest
	host  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	host, stop := registrytest.Serve()
	t.Cleanup(stop)
	idx := registrytest.Index(t, []string{"linux/amd64", "linux/arm64", "linux/s390x"}, 2, 3000, 5, registrytest.OCI)
	pin := registrytest.Push(t, host+"/team/app:1", idx)
	registrytest.Push(t, host+"/library/app:1", idx)
	dir := t.TempDir()
	yaml := fmt.Sprintf(`mirrors:
  docker.io: %s
images:
  - ref: %s/team/app:1
    digest: %s
    platforms: [linux/amd64, linux/arm64]
  - ref: docker.io/library/app:1
    digest: %s
    platforms: [linux/amd64, linux/arm64]
`, host, host, pin, pin)
	cfg, err := config.Parse(filepath.Join(dir, config.FileName), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	client := registry.NewClient(registry.WithKeychain(authn.NewMultiKeychain()), registry.WithMirrors(cfg.Mirrors))
	if _, err := vendorimg.Sync(context.Background(), cfg, vendorimg.SyncOptions{Client: client}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{layout: layout.New(cfg.LayoutDir()), pin: pin, host: host}
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		if m.Platform.Architecture == "s390x" {
			f.absent = digest.Digest(m.Digest.String())
		}
	}
	f.layer = registrytest.Layers(t, idx, "linux/amd64")[0]
	return f
}

func (f *fixture) server(t *testing.T) (*httptest.Server, *testbin.Log) {
	t.Helper()
	logs := &testbin.Log{}
	h, err := serve.New(context.Background(), f.layout, serve.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatalf("serve.New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, logs
}

func (f *fixture) blob(t *testing.T, d digest.Digest) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.layout.Root(), layout.RelBlobPath(d)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func do(t *testing.T, method, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func errorCode(t *testing.T, body []byte) (string, string) {
	t.Helper()
	var doc struct {
		Errors []struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Errors) != 1 {
		t.Fatalf("error body %q is not one distribution API error (%v)", body, err)
	}
	return doc.Errors[0].Code, doc.Errors[0].Message
}

func TestManifestsByteForByte(t *testing.T) {
	f := newFixture(t)
	srv, _ := f.server(t)
	want := f.blob(t, f.pin)
	for _, path := range []string{
		"/v2/" + f.host + "/team/app/manifests/1",
		"/v2/team/app/manifests/1",
		"/v2/team/app/manifests/" + f.pin.String(),
		"/v2/docker.io/library/app/manifests/1",
		"/v2/library/app/manifests/1",
		"/v2/library/app/manifests/1?ns=docker.io",
	} {
		t.Run(path, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				resp, body := do(t, method, srv.URL+path, nil)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s %s = %s %s", method, path, resp.Status, body)
				}
				if got := resp.Header.Get("Docker-Content-Digest"); got != f.pin.String() {
					t.Errorf("%s %s: Docker-Content-Digest = %q, want %s", method, path, got, f.pin)
				}
				if got := resp.Header.Get("Content-Type"); got != "application/vnd.oci.image.index.v1+json" {
					t.Errorf("%s %s: Content-Type = %q", method, path, got)
				}
				if resp.ContentLength != int64(len(want)) {
					t.Errorf("%s %s: Content-Length = %d, want %d", method, path, resp.ContentLength, len(want))
				}
				if method == http.MethodGet && !bytes.Equal(body, want) {
					t.Errorf("GET %s: the body is not the stored index byte for byte", path)
				}
			}
		})
	}
}

func TestNotVendoredPlatform(t *testing.T) {
	f := newFixture(t)
	srv, _ := f.server(t)
	resp, body := do(t, http.MethodGet, srv.URL+"/v2/team/app/manifests/"+f.absent.String(), nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET the s390x manifest = %s, want 404", resp.Status)
	}
	code, msg := errorCode(t, body)
	if code != "MANIFEST_UNKNOWN" || !strings.Contains(msg, "linux/s390x") || !strings.Contains(msg, "not vendored") || !strings.Contains(msg, "linux/amd64, linux/arm64") {
		t.Errorf("GET the s390x manifest = %s %q; want MANIFEST_UNKNOWN saying linux/s390x was not vendored and what was", code, msg)
	}
}

func TestErrorsAndReadOnly(t *testing.T) {
	f := newFixture(t)
	srv, _ := f.server(t)
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/v2/nope/manifests/1", 404, "NAME_UNKNOWN"},
		{"GET", "/v2/team/app/manifests/2", 404, "MANIFEST_UNKNOWN"},
		{"GET", "/v2/team/app/manifests/sha256:" + strings.Repeat("0", 64), 404, "MANIFEST_UNKNOWN"},
		{"GET", "/v2/team/app/manifests/sha256:xyz", 400, "DIGEST_INVALID"},
		{"GET", "/v2/team/app/blobs/sha256:" + strings.Repeat("0", 64), 404, "BLOB_UNKNOWN"},
		{"GET", "/v2/team/app/blobs/sha256:../../etc/passwd", 400, "DIGEST_INVALID"},
		{"POST", "/v2/team/app/blobs/uploads/", 405, "UNSUPPORTED"},
		{"PUT", "/v2/team/app/blobs/uploads/x?digest=" + f.layer.String(), 405, "UNSUPPORTED"},
		{"PATCH", "/v2/team/app/blobs/uploads/x", 405, "UNSUPPORTED"},
		{"PUT", "/v2/team/app/manifests/1", 405, "UNSUPPORTED"},
		{"DELETE", "/v2/team/app/manifests/" + f.pin.String(), 405, "UNSUPPORTED"},
		{"DELETE", "/v2/team/app/blobs/" + f.layer.String(), 405, "UNSUPPORTED"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := do(t, tc.method, srv.URL+tc.path, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s = %s %s, want %d", tc.method, tc.path, resp.Status, body, tc.status)
			}
			if code, _ := errorCode(t, body); code != tc.code {
				t.Errorf("%s %s: code %s, want %s", tc.method, tc.path, code, tc.code)
			}
		})
	}
	// Nothing was written.
	if _, err := f.layout.Verify(context.Background(), layout.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestDiscovery(t *testing.T) {
	f := newFixture(t)
	srv, _ := f.server(t)
	resp, _ := do(t, http.MethodGet, srv.URL+"/v2/", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("GET /v2/ = %s %v", resp.Status, resp.Header)
	}
	_, body := do(t, http.MethodGet, srv.URL+"/v2/_catalog", nil)
	want := fmt.Sprintf(`{"repositories":["%s/team/app","docker.io/library/app","library/app","team/app"]}`, f.host)
	if string(body) != want {
		t.Errorf("_catalog = %s, want %s", body, want)
	}
	resp, body = do(t, http.MethodGet, srv.URL+"/v2/_catalog?n=1", nil)
	if string(body) != fmt.Sprintf(`{"repositories":["%s/team/app"]}`, f.host) || !strings.Contains(resp.Header.Get("Link"), "last=") {
		t.Errorf("_catalog?n=1 = %s (Link %q)", body, resp.Header.Get("Link"))
	}
	_, body = do(t, http.MethodGet, srv.URL+"/v2/library/app/tags/list", nil)
	if string(body) != `{"name":"library/app","tags":["1"]}` {
		t.Errorf("tags/list = %s", body)
	}
	resp, body = do(t, http.MethodGet, srv.URL+"/v2/team/app/referrers/"+f.pin.String(), nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.oci.image.index.v1+json" || !strings.Contains(string(body), `"manifests":[]`) {
		t.Errorf("referrers = %s %q %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
}

func TestBlobRanges(t *testing.T) {
	f := newFixture(t)
	srv, _ := f.server(t)
	want := f.blob(t, f.layer)
	n := len(want)
	url := srv.URL + "/v2/team/app/blobs/" + f.layer.String()
	for _, tc := range []struct {
		rng    string
		status int
		body   []byte
	}{
		{"", 200, want},
		{"bytes=0-9", 206, want[:10]},
		{"bytes=10-", 206, want[10:]},
		{"bytes=-7", 206, want[n-7:]},
		{fmt.Sprintf("bytes=5-%d", n+100), 206, want[5:]},
		{fmt.Sprintf("bytes=%d-", n), 416, nil},
		{"bytes=0-1,5-6", 200, want},
	} {
		t.Run(tc.rng, func(t *testing.T) {
			h := http.Header{}
			if tc.rng != "" {
				h.Set("Range", tc.rng)
			}
			resp, body := do(t, http.MethodGet, url, h)
			if resp.StatusCode != tc.status {
				t.Fatalf("Range %q = %s, want %d", tc.rng, resp.Status, tc.status)
			}
			if tc.body != nil && !bytes.Equal(body, tc.body) {
				t.Errorf("Range %q: %d bytes, not the %d wanted", tc.rng, len(body), len(tc.body))
			}
			if tc.status == 200 && resp.Header.Get("Docker-Content-Digest") != f.layer.String() {
				t.Errorf("Docker-Content-Digest = %q", resp.Header.Get("Docker-Content-Digest"))
			}
		})
	}
	resp, _ := do(t, http.MethodHead, url, nil)
	if resp.StatusCode != 200 || resp.ContentLength != int64(n) || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("HEAD blob = %s, Content-Length %d, Accept-Ranges %q", resp.Status, resp.ContentLength, resp.Header.Get("Accept-Ranges"))
	}
}

// TestCorruptBlobCutsTheConnection flips a byte of a vendored layer while
// the handler serves: every GET of it, whole or a range, ends short of its
// Content-Length, and the handler logs it.
func TestCorruptBlobCutsTheConnection(t *testing.T) {
	f := newFixture(t)
	srv, logs := f.server(t)
	path := filepath.Join(f.layout.Root(), layout.RelBlobPath(f.layer))
	b := f.blob(t, f.layer)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rng := range []string{"", "bytes=0-9", "bytes=-5"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/team/app/blobs/"+f.layer.String(), nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // cut before the headers: also fine
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("GET a flipped blob (Range %q): read %d of %d bytes, error %v; want the connection cut (unexpected EOF)", rng, len(got), resp.ContentLength, err)
		}
		if int64(len(got)) >= resp.ContentLength {
			t.Errorf("GET a flipped blob (Range %q): the whole body came through", rng)
		}
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), f.layer.String()) {
		t.Errorf("the handler did not log the wrong bytes:\n%s", logs)
	}
}

func TestNewRefusesIncompleteLayout(t *testing.T) {
	f := newFixture(t)
	if err := os.Remove(filepath.Join(f.layout.Root(), layout.RelBlobPath(f.layer))); err != nil {
		t.Fatal(err)
	}
	_, err := serve.New(context.Background(), f.layout, serve.Options{})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("serve.New on a layout missing a layer = %v, want an error saying it is missing", err)
	}
	_, err = serve.New(context.Background(), f.layout, serve.Options{Names: []string{"example.test/other:1"}})
	if err == nil || !strings.Contains(err.Error(), "not in") {
		t.Errorf("serve.New of a name not in index.json = %v", err)
	}
}

package systemtest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// TestPushChecksWhatTheRegistryStored: a registry that answers 201 Created
// to a manifest or blob PUT but stores nothing fails the push, naming what
// is missing, with the image not reported tagged; a blob PUT answered 500
// once is sent again and the push succeeds.
func TestPushChecksWhatTheRegistryStored(t *testing.T) {
	cfg, err := config.Load(context.Background(), config.FileName)
	if err != nil {
		t.Fatal(err)
	}
	put := func(suffix string) func(*http.Request) bool {
		return func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.Contains(r.URL.Path, suffix)
		}
	}
	for _, tc := range []struct {
		name  string
		fault func(f *registrytest.Fault)
		words string // "" for success
	}{
		{"manifest 201 with its digest, nothing stored", func(f *registrytest.Fault) {
			f.On(put("/manifests/"), -1, func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
				// The digest of what it was sent, as a real registry says.
				w.Header().Set("Docker-Content-Digest", digestOfBody(r))
				w.WriteHeader(http.StatusCreated)
			})
		}, "the registry did not store what it acknowledged: it answered 201 Created, but a HEAD of "},
		{"manifest 201 without a digest, nothing stored", func(f *registrytest.Fault) {
			f.On(put("/manifests/"), -1, registrytest.Respond(http.StatusCreated))
		}, "answers 404"},
		{"blob 201, nothing stored", func(f *registrytest.Fault) {
			f.On(put("/blobs/uploads/"), -1, registrytest.Respond(http.StatusCreated))
		}, "pushing blob sha256:"},
		{"blob 500 once", func(f *registrytest.Fault) {
			f.On(put("/blobs/uploads/"), 1, registrytest.Respond(http.StatusInternalServerError))
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := registrytest.NewFault(t)
			tc.fault(f)
			res, err := vendorimg.Push(context.Background(), cfg, vendorimg.PushOptions{Target: f.Host + "/stored"})
			if tc.words == "" {
				if err != nil || !res.Images[0].Tagged {
					t.Fatalf("Push = %+v, %v; want success", res, err)
				}
				return
			}
			if err == nil || !errors.Is(err, vendorimg.ErrNotStored) || !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("Push error = %v, want one wrapping ErrNotStored saying %q", err, tc.words)
			}
			if res != nil && len(res.Images) > 0 && res.Images[0].Tagged {
				t.Errorf("Push reports %s tagged though the registry has nothing", res.Images[0].Name)
			}
		})
	}
}

// digestOfBody is the digest of r's body.
func digestOfBody(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return digest.FromBytes(b).String()
}

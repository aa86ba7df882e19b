package systemtest_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/serve"
)

// pushReferrer pushes to repo an artifact of artifactType (its config's
// media type, which the referrers API and the tag schema list as its
// artifactType) whose subject is subject, and returns its digest.
func pushReferrer(t *testing.T, repo string, subject v1.Descriptor, artifactType, content string) digest.Digest {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.MediaType(artifactType))
	img, err := mutate.Append(img, mutate.Addendum{Layer: static.NewLayer([]byte(content), types.MediaType(artifactType))})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.Subject(img, subject).(v1.Image)
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(repo+"@"+d.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing a referrer of %s: %v", subject.Digest, err)
	}
	return digest.Digest(d.String())
}

func writeReferrersConfig(t *testing.T, dir, host string, pin digest.Digest, referrers string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, config.FileName)
	body := fmt.Sprintf("layout: images\nimages:\n  - ref: %s/app:1\n    digest: %s\n    platforms: [linux/amd64]\n    referrers: %s\n", host, pin, referrers)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReferrersSync vendors the referrers of an image's pin and of its
// vendored platform, through the referrers API (go-containerregistry's
// registry) and the tag schema (the distribution registry, which has no
// referrers API): only those the setting asks for, recorded so that a
// no-op sync asks nothing, found again with Referrers, served, kept by gc,
// and pruned when the setting drops them.
func TestReferrersSync(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers API %v", api), func(t *testing.T) {
			ctx := context.Background()
			var host string
			var counts *requestCounts
			if api {
				host, counts = referrersRegistry(t)
			} else {
				host = registrytest.Start(t, registrytest.Options{}).Host
			}
			idx := registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 1, 1024, 7, registrytest.OCI)
			pin := registrytest.Push(t, host+"/app:1", idx)
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			top, err := partial(idx)
			if err != nil {
				t.Fatal(err)
			}
			var amd64 v1.Descriptor
			for _, m := range im.Manifests {
				if m.Platform.Architecture == "amd64" {
					amd64 = m
				}
			}
			repo := host + "/app"
			sbom := pushReferrer(t, repo, top, "application/spdx+json", `{"spdxVersion":"SPDX-2.3"}`)
			other := pushReferrer(t, repo, top, "application/vnd.example.other+json", `{}`)
			platformSBOM := pushReferrer(t, repo, amd64, "application/spdx+json", `{"spdxVersion":"SPDX-2.3","name":"amd64"}`)

			dir := t.TempDir()
			cfg := writeReferrersConfig(t, dir, host, pin, "[sboms]")
			res, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{})
			if err != nil {
				t.Fatalf("Sync = %v", err)
			}
			if got := res.Images[0].Referrers; got != 2 {
				t.Fatalf("Sync vendored %d referrers, want 2 (the SBOMs of the pin and of linux/amd64)", got)
			}
			if api && (counts.referrers.Load() == 0 || counts.fallbackTags.Load() != 0) {
				t.Errorf("Sync asked the referrers API %d times and the fallback tag %d times, want the API only", counts.referrers.Load(), counts.fallbackTags.Load())
			}
			l := layout.New(cfg.LayoutDir())
			for _, d := range []digest.Digest{sbom, platformSBOM} {
				if _, err := l.BlobSize(ctx, d); err != nil {
					t.Errorf("referrer %s is not in the layout: %v", d, err)
				}
			}
			if _, err := l.BlobSize(ctx, other); err == nil {
				t.Errorf("referrer %s (not an SBOM) was vendored", other)
			}
			rep, err := vendorimg.Verify(ctx, cfg, vendorimg.VerifyOptions{})
			if err != nil || !rep.OK() {
				t.Fatalf("Verify = %v, %+v", err, rep)
			}
			plan, err := l.PlanGC(ctx)
			if err != nil || len(plan.Remove) != 0 {
				t.Fatalf("PlanGC = %+v, %v, want nothing removed", plan, err)
			}

			// Recorded: an offline sync is a no-op.
			res, err = vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Offline: true})
			if err != nil || !res.UpToDate {
				t.Fatalf("offline Sync = %+v, %v, want up to date", res, err)
			}
			// A new SBOM is found with Referrers only.
			late := pushReferrer(t, repo, top, "application/spdx+json", `{"spdxVersion":"SPDX-2.3","name":"late"}`)
			if res, err = vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{}); err != nil || res.Images[0].Referrers != 2 {
				t.Fatalf("Sync = %+v, %v, want the 2 recorded referrers", res, err)
			}
			if res, err = vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Referrers: true}); err != nil || res.Images[0].Referrers != 3 {
				t.Fatalf("Sync with Referrers = %+v, %v, want 3 referrers", res, err)
			}

			// serve answers the referrers API and the tag schema's tag.
			h, err := serve.New(ctx, l, serve.Options{Names: []string{cfg.Images[0].Name()}})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			var list ocispec.Index
			getJSON(t, srv.URL+"/v2/"+repo+"/referrers/"+pin.String(), &list)
			var got []digest.Digest
			for _, m := range list.Manifests {
				got = append(got, m.Digest)
			}
			want := []digest.Digest{sbom, late}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("serve's referrers of the pin = %v, want %v", got, want)
			}
			var tagged ocispec.Index
			getJSON(t, srv.URL+"/v2/"+repo+"/manifests/"+layout.FallbackTag(digest.Digest(amd64.Digest.String())), &tagged)
			if len(tagged.Manifests) != 1 || tagged.Manifests[0].Digest != platformSBOM {
				t.Errorf("serve's sha256-HEX tag of linux/amd64 = %+v, want %s", tagged.Manifests, platformSBOM)
			}

			if api {
				checkLoadSendsNoReferrers(t, cfg, []digest.Digest{sbom, platformSBOM, late})
			}
			checkPeerListings(t, cfg.LayoutDir(), pin, "", pin, []digest.Digest{sbom, late})
			checkPeerListings(t, cfg.LayoutDir(), pin, "linux/amd64", digest.Digest(amd64.Digest.String()), []digest.Digest{platformSBOM})

			// update re-pins the moved tag, vendors the new pin's
			// referrers and prunes the old pin's.
			idx2 := registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 1, 1024, 8, registrytest.OCI)
			pin2 := registrytest.Push(t, host+"/app:1", idx2)
			top2, err := partial(idx2)
			if err != nil {
				t.Fatal(err)
			}
			sbom2 := pushReferrer(t, repo, top2, "application/spdx+json", `{"spdxVersion":"SPDX-2.3","name":"2"}`)
			if _, err := vendorimg.Update(ctx, cfg, vendorimg.UpdateOptions{}); err != nil || cfg.Images[0].Digest != pin2 {
				t.Fatalf("Update = %v, pin %s, want %s", err, cfg.Images[0].Digest, pin2)
			}
			if _, err := l.BlobSize(ctx, sbom2); err != nil {
				t.Errorf("the new pin's referrer %s is not in the layout: %v", sbom2, err)
			}
			for _, d := range []digest.Digest{sbom, late} {
				if _, err := l.BlobSize(ctx, d); err == nil {
					t.Errorf("the old pin's referrer %s is still in the layout", d)
				}
			}
			if rep, err := vendorimg.Verify(ctx, cfg, vendorimg.VerifyOptions{}); err != nil || !rep.OK() {
				t.Fatalf("Verify after update = %v, %+v", err, rep)
			}

			// Dropping the setting prunes them.
			cfg = writeReferrersConfig(t, dir, host, pin2, "[]")
			res, err = vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{})
			if err != nil {
				t.Fatalf("Sync = %v", err)
			}
			if len(res.Pruned) < 1 {
				t.Errorf("Sync pruned %+v, want the referrers", res.Pruned)
			}
			for _, d := range []digest.Digest{sbom2} {
				if _, err := l.BlobSize(ctx, d); err == nil {
					t.Errorf("referrer %s is still in the layout", d)
				}
			}
			if rep, err := vendorimg.Verify(ctx, cfg, vendorimg.VerifyOptions{}); err != nil || !rep.OK() {
				t.Fatalf("Verify after pruning = %v, %+v", err, rep)
			}
		})
	}
}

// teeEngine is the machine's real engine, with what Load streams to it
// read on the way as the archive it is.
type teeEngine struct {
	daemon.Client
	mu      sync.Mutex
	entries []string
}

func (e *teeEngine) ImageLoad(ctx context.Context, input io.Reader) (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr := tar.NewReader(pr)
		for {
			h, err := tr.Next()
			if err != nil {
				_, _ = io.Copy(io.Discard, pr)
				return
			}
			e.mu.Lock()
			e.entries = append(e.entries, h.Name)
			e.mu.Unlock()
		}
	}()
	res, err := e.Client.ImageLoad(ctx, io.TeeReader(input, pw))
	pw.Close()
	<-done
	return res, err
}

// checkLoadSendsNoReferrers loads the image into the machine's engine and
// checks that the archive it streamed holds none of the referrers.
func checkLoadSendsNoReferrers(t *testing.T, cfg *config.Config, referrers []digest.Digest) {
	t.Helper()
	ctx := context.Background()
	c, err := daemon.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := &teeEngine{Client: c}
	amd64 := platform.Platform{OS: "linux", Architecture: "amd64"}
	rep, err := vendorimg.Load(ctx, cfg, vendorimg.LoadOptions{Engine: e, Platform: &amd64})
	// The tags the load made go at the end by name (untag): the caller
	// goes on to update cfg to another pin and prune this one from the
	// layout, so an Unload of cfg would no longer know this image and
	// would leave it tagged in the engine.
	if rep != nil {
		for _, im := range rep.Images {
			untag(t, im.Tag)
		}
	}
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if len(e.entries) == 0 {
		// The engine already held the image (left by an earlier run, or
		// another test's with the same seed), so load only tagged it:
		// evict it by ID and load again, so that the stream is read.
		for _, im := range rep.Images {
			if _, err := enginetest.DockerErr("rmi", "-f", im.ImageID); err != nil {
				t.Fatal(err)
			}
		}
		if rep, err = vendorimg.Load(ctx, cfg, vendorimg.LoadOptions{Engine: e, Platform: &amd64}); err != nil {
			t.Fatalf("Load = %v", err)
		}
	}
	if len(e.entries) == 0 {
		t.Fatalf("Load streamed no archive: %+v", rep)
	}
	for _, name := range e.entries {
		for _, d := range referrers {
			if strings.Contains(name, d.Encoded()) {
				t.Errorf("Load sent the referrer %s to the engine (%s)", d, name)
			}
		}
	}
}

// requestCounts counts a registry's referrers API and fallback tag
// requests.
type requestCounts struct{ referrers, fallbackTags atomic.Int64 }

// referrersRegistry starts go-containerregistry's registry with its
// referrers API on 127.0.0.1.
func referrersRegistry(t *testing.T) (string, *requestCounts) {
	t.Helper()
	counts := &requestCounts{}
	reg := ggcrregistry.New(ggcrregistry.WithReferrersSupport(true), ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "/referrers/"):
			counts.referrers.Add(1)
		case strings.Contains(r.URL.Path, "/manifests/sha256-"):
			counts.fallbackTags.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), counts
}

// partial is the descriptor of an index.
func partial(idx v1.ImageIndex) (v1.Descriptor, error) {
	d, err := idx.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	size, err := idx.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := idx.MediaType()
	return v1.Descriptor{MediaType: mt, Digest: d, Size: size}, err
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d\n%s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, b)
	}
}

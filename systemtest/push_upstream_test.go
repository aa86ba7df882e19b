package systemtest_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/pusher"
	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// TestPushCompletesSparseIndex is the team mirror of an image vendored
// for one platform of three, with three distribution registries: upstream
// holds the index, the team registry starts empty, the checkout vendors
// linux/amd64. push completes the index from upstream: the team registry
// then holds the index byte for byte and every platform, upstream was
// asked for the other platforms' content only, and the checkout is
// unchanged. A second checkout with mirrors: syncs its own platform from
// the team registry alone (upstream stopped) and verifies; docker pulls
// each platform from the team registry. With --no-upstream, and with
// upstream gone, push refuses the index as before, saying how to complete
// it. Both an OCI index and a Docker manifest list.
func TestPushCompletesSparseIndex(t *testing.T) {
	// Each case has registries, a checkout and a reference of its own.
	t.Parallel()
	for _, tc := range []struct {
		name   string
		format registrytest.Format
		seed   int64
	}{
		{"oci-index", registrytest.OCI, 231},
		{"docker-manifest-list", registrytest.Docker, 232},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testPushCompletes(t, tc.format, tc.seed)
		})
	}
}

func testPushCompletes(t *testing.T, format registrytest.Format, seed int64) {
	ctx := context.Background()
	platforms := []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}
	upstream := registrytest.Start(t, registrytest.Options{})
	idx := registrytest.Index(t, platforms, 2, 30000, seed, format)
	pin := registrytest.Push(t, upstream.Host+"/library/base:1.0", idx)
	images := fmt.Sprintf("images:\n  - ref: %s/library/base:1.0\n    digest: %s\n", upstream.Host, pin)

	first := t.TempDir()
	cfg := writeConfig(t, first, images+"    platforms: [linux/amd64]\n")
	if _, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	before := treeHashes(t, first)
	// What the layout lacks: the other two platforms' manifests, configs and layers.
	missing := registrytest.Blobs(t, idx, platforms[1:])
	delete(missing, pin)
	var missingBytes int64
	for _, p := range platforms[1:] {
		missingBytes += platformBytes(t, idx, p)
	}

	team := registrytest.Start(t, registrytest.Options{})

	// --dry-run: upstream is asked for the missing manifests only, the
	// team registry gets HEAD requests only, the report has every platform.
	upstream.ResetLog()
	res, err := vendorimg.Push(ctx, cfg, vendorimg.PushOptions{Target: team.Host, DryRun: true})
	if err != nil {
		t.Fatalf("Push --dry-run: %v", err)
	}
	for _, r := range team.Requests() {
		if !strings.HasPrefix(r, "GET /v2/ ") && !strings.HasPrefix(r, "HEAD ") {
			t.Errorf("--dry-run sent %s to the team registry", r)
		}
	}
	fetched := upstreamFetches(t, upstream.Requests())
	for d := range fetched {
		if !missing[d] || !strings.Contains(fetched[d], "/manifests/") {
			t.Errorf("--dry-run asked upstream for %s, want only the missing platforms' manifests", fetched[d])
		}
	}
	if len(fetched) != 2 {
		t.Errorf("--dry-run fetched %d manifests from upstream, want 2: %v", len(fetched), fetched)
	}
	checkSources(t, "--dry-run", res.Images[0], idx, platforms)
	for _, b := range res.Images[0].Blobs {
		wantSource := pusher.SourceUpstream
		if !missing[b.Digest] {
			wantSource = pusher.SourceLayout
		}
		if b.Action != pusher.PushWouldUpload || b.Source != wantSource {
			t.Errorf("--dry-run blob %s: %s from %s, want %s from %s", b.Digest, b.Action, b.Source, pusher.PushWouldUpload, wantSource)
		}
	}

	// The push: every missing blob streamed from upstream exactly once, and
	// nothing else asked of it.
	upstream.ResetLog()
	var notices []string // Progress is never called concurrently
	res, err = vendorimg.Push(ctx, cfg, vendorimg.PushOptions{Target: team.Host, Progress: func(e progress.Event) {
		if e.Kind == progress.Notice {
			notices = append(notices, e.Message)
		}
	}})
	if err != nil {
		t.Fatalf("Push of the sparse index: %v", err)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "completing the index from "+upstream.Host+"/library/base: linux/arm64, linux/arm/v7 not vendored") {
		t.Errorf("Push's notices = %q, want one saying it completes linux/arm64 and linux/arm/v7", notices)
	}
	im := res.Images[0]
	if !im.Tagged || im.UpstreamError != "" || im.Upstream != upstream.Host+"/library/base" {
		t.Errorf("Push: tagged %v, upstream %q, upstream error %q; want tagged, from upstream", im.Tagged, im.Upstream, im.UpstreamError)
	}
	checkSources(t, "Push", im, idx, platforms)
	var missingBlobBytes int64
	missingBlobs := 0
	for d := range missing {
		if !isManifestOf(t, idx, d) {
			missingBlobs++
			missingBlobBytes += blobSize(t, idx, d)
		}
	}
	if res.FromUpstream != missingBlobs || res.FromUpstreamBytes != missingBlobBytes {
		t.Errorf("Push streamed %d blobs (%d bytes) from upstream, want %d (%d bytes)", res.FromUpstream, res.FromUpstreamBytes, missingBlobs, missingBlobBytes)
	}
	counts := map[string]int{}
	for _, r := range upstream.Requests() {
		if strings.HasPrefix(r, "GET /v2/ ") {
			continue
		}
		d, ok := requestDigest(r)
		if !ok || !strings.HasPrefix(r, "GET ") || !missing[d] {
			t.Errorf("push asked upstream %s: not a missing platform's content", r)
			continue
		}
		counts[r]++
	}
	if len(counts) != len(missing) {
		t.Errorf("push fetched %d of upstream's %d missing manifests and blobs: %v", len(counts), len(missing), slices.Sorted(maps.Keys(counts)))
	}
	for r, n := range counts {
		if n != 1 {
			t.Errorf("push asked upstream %d times for %s", n, r)
		}
	}
	if after := treeHashes(t, first); !maps.Equal(before, after) {
		t.Errorf("push changed the checkout")
	}

	// The team registry: the index byte for byte, and every platform whole
	// (crane validate fetches and rehashes every manifest, config and layer).
	stored, err := os.ReadFile(filepath.Join(cfg.LayoutDir(), layout.RelBlobPath(pin)))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(team.Host+"/library/base:1.0", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Get(ref)
	if err != nil {
		t.Fatalf("the team registry has no %s: %v", ref, err)
	}
	if string(got.Manifest) != string(stored) || got.Digest.String() != pin.String() {
		t.Errorf("the team registry's %s is %s, not the pinned index's bytes (%s)", ref, got.Digest, pin)
	}
	if out, err := crane(t, "validate", "--remote", ref.String()); err != nil || !strings.HasPrefix(string(out), "PASS: ") {
		t.Errorf("crane validate --remote %s: %v\n%s (the team registry's index is not whole)", ref, err, out)
	}

	// A second push asks upstream nothing and sends nothing.
	upstream.ResetLog()
	team.ResetLog()
	res, err = vendorimg.Push(ctx, cfg, vendorimg.PushOptions{Target: team.Host})
	if err != nil {
		t.Fatalf("second Push: %v", err)
	}
	if reqs := upstream.Requests(); len(reqs) > 0 {
		t.Errorf("the second push asked upstream: %v", reqs)
	}
	if w := blobWrites(team.Requests()); len(w) > 0 {
		t.Errorf("the second push sent blobs: %v", w)
	}
	for _, s := range res.Images[0].Sources {
		if s.Platform != "linux/amd64" && s.Source != pusher.SourceTarget {
			t.Errorf("second push: %s from %s, want %s", s.Platform, s.Source, pusher.SourceTarget)
		}
	}

	// Upstream forbidden: push as before, the index refused, and the hint.
	other := registrytest.Start(t, registrytest.Options{})
	upstream.ResetLog()
	res, err = vendorimg.Push(ctx, cfg, vendorimg.PushOptions{Target: other.Host, NoUpstream: true})
	if !errors.Is(err, errs.ErrSparseIndex) {
		t.Fatalf("Push with NoUpstream = %v, want errs.ErrSparseIndex", err)
	}
	for _, want := range []string{"--no-upstream", "push again where " + upstream.Host, "platforms: all"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Push with NoUpstream: the error does not say %q: %v", want, err)
		}
	}
	if reqs := upstream.Requests(); len(reqs) > 0 {
		t.Errorf("Push with NoUpstream asked upstream: %v", reqs)
	}
	if res.Images[0].Tagged {
		t.Errorf("Push with NoUpstream tagged the sparse index")
	}

	// The second checkout: its own platform, from the team registry alone.
	upstream.Stop()
	second := t.TempDir()
	cfg2 := writeConfig(t, second, fmt.Sprintf("mirrors:\n  %s: %s\n%s    platforms: [linux/arm64]\n", upstream.Host, team.Host, images))
	team.ResetLog()
	if _, err := vendorimg.Sync(ctx, cfg2, vendorimg.SyncOptions{}); err != nil {
		t.Fatalf("sync of the second checkout through the team registry, upstream stopped: %v", err)
	}
	if len(team.Requests()) == 0 {
		t.Errorf("the second checkout's sync did not ask the team registry")
	}
	rep, err := vendorimg.Verify(ctx, cfg2, vendorimg.VerifyOptions{Deep: true})
	if err != nil || !rep.OK() {
		t.Errorf("verify of the second checkout: %v %+v", err, rep)
	}

	// Upstream gone (connection refused): as with NoUpstream, with why.
	notices = nil
	res, err = vendorimg.Push(ctx, cfg, vendorimg.PushOptions{Target: other.Host, Progress: func(e progress.Event) {
		if e.Kind == progress.Notice {
			notices = append(notices, e.Message)
		}
	}})
	if n := len(notices); n != 2 || !strings.Contains(notices[n-1], "pushing only the vendored platforms") {
		t.Errorf("Push's notices with upstream stopped = %q, want the attempt, then that only the vendored platforms are pushed", notices)
	}
	if !errors.Is(err, errs.ErrSparseIndex) {
		t.Fatalf("Push with upstream stopped = %v, want errs.ErrSparseIndex", err)
	}
	if !strings.Contains(err.Error(), "push again where "+upstream.Host) || !strings.Contains(err.Error(), "completing") || res.Images[0].UpstreamError == "" {
		t.Errorf("Push with upstream stopped: the error does not say why and how to complete: %v (%q)", err, res.Images[0].UpstreamError)
	}

	dockerPullEach(t, team.Host+"/library/base:1.0", idx, pin, platforms)
}

// dockerPullEach pulls each platform of ref with the machine's docker
// engine: the image it reports is that platform's.
func dockerPullEach(t *testing.T, ref string, idx v1.ImageIndex, pin digest.Digest, platforms []string) {
	e := enginetest.Describe(t)
	vendorimgtest.LockEngine(t, vendorimgtest.LockShared)
	untag(t, ref)
	for _, p := range platforms {
		if out, err := run(t, nil, "docker", "pull", "--platform", p, ref); err != nil {
			t.Fatalf("docker pull --platform %s %s on %s: %v\n%s", p, ref, e, err, out)
		}
		out, err := run(t, nil, "docker", "image", "inspect", "--format", "{{.Id}}", ref)
		if err != nil {
			t.Fatal(err)
		}
		want := configOf(t, idx, p).String()
		if e.Store == "containerd" {
			want = pin.String()
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("docker pull --platform %s %s on %s gave image %s, want %s", p, ref, e, got, want)
		}
		// The next platform's pull moves the tag: drop this one's image.
		if out, err := run(t, nil, "docker", "rmi", "--force", ref); err != nil {
			t.Errorf("docker rmi %s: %v\n%s", ref, err, out)
		}
	}
}

// checkSources: the vendored platform from the layout, the others from
// upstream, each with its manifest's, config's and layers' bytes.
func checkSources(t *testing.T, what string, im pusher.PushedImage, idx v1.ImageIndex, platforms []string) {
	t.Helper()
	if len(im.Sources) != len(platforms) {
		t.Fatalf("%s: sources %+v, want one per platform of %v", what, im.Sources, platforms)
	}
	for i, p := range platforms {
		s := im.Sources[i]
		want := pusher.SourceUpstream
		if i == 0 {
			want = pusher.SourceLayout
		}
		if s.Platform != p || s.Source != want || s.Bytes != platformBytes(t, idx, p) {
			t.Errorf("%s: source %d = %+v, want %s from %s, %d bytes", what, i, s, p, want, platformBytes(t, idx, p))
		}
	}
}

// platformBytes is the size of p's manifest, config and layers.
func platformBytes(t *testing.T, idx v1.ImageIndex, p string) int64 {
	t.Helper()
	img := registrytest.PlatformImage(t, idx, p)
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

func configOf(t *testing.T, idx v1.ImageIndex, p string) v1.Hash {
	t.Helper()
	h, err := registrytest.PlatformImage(t, idx, p).ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// isManifestOf reports whether d is one of idx's image manifests.
func isManifestOf(t *testing.T, idx v1.ImageIndex, d digest.Digest) bool {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		if m.Digest.String() == d.String() {
			return true
		}
	}
	return false
}

// blobSize is the size of config or layer d of one of idx's images.
func blobSize(t *testing.T, idx v1.ImageIndex, d digest.Digest) int64 {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if b.Digest.String() == d.String() {
				return b.Size
			}
		}
	}
	t.Fatalf("%s is no blob of the index", d)
	return 0
}

// requestDigest is the digest a manifest or blob request of an access
// log names.
func requestDigest(r string) (digest.Digest, bool) {
	fields := strings.Fields(r)
	if len(fields) < 2 {
		return "", false
	}
	i := strings.LastIndex(fields[1], "/")
	d, err := digest.Parse(fields[1][i+1:])
	return d, err == nil && (strings.Contains(fields[1], "/manifests/") || strings.Contains(fields[1], "/blobs/"))
}

// upstreamFetches are the digests an access log's requests name, each
// with its request.
func upstreamFetches(t *testing.T, reqs []string) map[digest.Digest]string {
	t.Helper()
	out := map[digest.Digest]string{}
	for _, r := range reqs {
		if strings.HasPrefix(r, "GET /v2/ ") {
			continue
		}
		d, ok := requestDigest(r)
		if !ok {
			t.Errorf("upstream was asked %s", r)
			continue
		}
		out[d] = r
	}
	return out
}

// TestPushUpstreamFaults: a blob streamed from upstream is hashed on its
// way to the target. Wrong bytes (same length) abort the upload: the
// image fails with errs.ErrDigestMismatch, the target has neither the
// blob nor the tag. A stream cut once is started again and the push
// completes.
func TestPushUpstreamFaults(t *testing.T) {
	ctx := context.Background()
	upstream := registrytest.NewFault(t)
	idx := registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 1, 20000, 241, registrytest.OCI)
	pin := registrytest.Push(t, upstream.Host+"/x/app:1", idx)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s/x/app:1\n    digest: %s\n    platforms: [linux/amd64]\n", upstream.Host, pin))
	if _, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	before := treeHashes(t, dir)
	layer := registrytest.Layers(t, idx, "linux/arm64")[0]
	isLayer := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+layer.String())
	}

	team := registrytest.Start(t, registrytest.Options{})
	layerPath := "/v2/x/app/blobs/" + layer.String()
	upstream.Reset()
	// Once: a wrong digest is final, never fetched again.
	upstream.On(isLayer, 1, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		next.ServeHTTP(&flipFirst{ResponseWriter: w}, r)
	})
	_, err := vendorimg.Push(ctx, cfg, vendorimg.PushOptions{Target: team.Host})
	if !errors.Is(err, errs.ErrDigestMismatch) {
		t.Fatalf("Push with upstream serving a flipped layer = %v, want errs.ErrDigestMismatch", err)
	}
	if !strings.Contains(err.Error(), "fetching blob "+layer.String()+" from "+upstream.Host+"/x/app") || !strings.Contains(err.Error(), "upstream sent bytes hashing to") || strings.Contains(err.Error(), "vendorimg verify") {
		t.Errorf("the error does not say that upstream sent wrong bytes for the layer %s: %v", layer, err)
	}
	if n := upstream.Count(http.MethodGet, layerPath); n != 1 {
		t.Errorf("the flipped layer was fetched %d times, want once", n)
	}
	for _, path := range []string{"/v2/x/app/blobs/" + layer.String(), "/v2/x/app/manifests/1"} {
		resp, err := http.Head("http://" + team.Host + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD %s on the team registry = %s, want 404", path, resp.Status)
		}
	}

	// A stream cut halfway, once: the upload starts again.
	team = registrytest.Start(t, registrytest.Options{})
	upstream.Reset()
	upstream.On(isLayer, 1, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		next.ServeHTTP(&cutHalf{ResponseWriter: w}, r)
	})
	res, err := vendorimg.Push(ctx, cfg, vendorimg.PushOptions{Target: team.Host})
	if err != nil || !res.Images[0].Tagged {
		t.Fatalf("Push with one upstream stream cut = %v, tagged %v; want it started again and completed", err, err == nil && res.Images[0].Tagged)
	}
	if n := upstream.Count(http.MethodGet, layerPath); n != 2 {
		t.Errorf("the layer cut once was fetched %d times, want twice", n)
	}
	if after := treeHashes(t, dir); !maps.Equal(before, after) {
		t.Errorf("push changed the checkout")
	}
}

// flipFirst flips the first byte of a response body.
type flipFirst struct {
	http.ResponseWriter
	done bool
}

func (f *flipFirst) Write(p []byte) (int, error) {
	if !f.done && len(p) > 0 {
		f.done = true
		q := append([]byte{p[0] ^ 0xff}, p[1:]...)
		return f.ResponseWriter.Write(q)
	}
	return f.ResponseWriter.Write(p)
}

// cutHalf sends half of the first write of a body, then drops the
// connection.
type cutHalf struct{ http.ResponseWriter }

func (c *cutHalf) Write(p []byte) (int, error) {
	if len(p) > 1 {
		_, _ = c.ResponseWriter.Write(p[:len(p)/2])
		c.ResponseWriter.(http.Flusher).Flush()
	}
	panic(http.ErrAbortHandler)
}

// TestPushCompletesNestedIndex: an index that lists an image and another
// index (two platforms), vendored for the image's platform, under two
// names. push fetches the inner index's platforms from upstream once and
// stores every document children first, so the distribution registry
// takes both indexes; the second name's blobs from upstream are mounted
// from the first's repository, not fetched again.
func TestPushCompletesNestedIndex(t *testing.T) {
	ctx := context.Background()
	upstream := registrytest.Start(t, registrytest.Options{})
	inner := registrytest.Index(t, []string{"linux/arm64", "linux/arm/v7"}, 1, 5000, 251, registrytest.OCI)
	amd64 := registrytest.Image(t, "linux/amd64", 1, 5000, 252, registrytest.OCI)
	var outer v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	outer = mutate.AppendManifests(outer,
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: inner})
	pin := registrytest.Push(t, upstream.Host+"/x/nested:1", outer)
	registrytest.Push(t, upstream.Host+"/x/copy:1", outer)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %[1]s/x/nested:1\n    digest: %[2]s\n    platforms: [linux/amd64]\n  - ref: %[1]s/x/copy:1\n    digest: %[2]s\n    platforms: [linux/amd64]\n", upstream.Host, pin))
	if _, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	team := registrytest.Start(t, registrytest.Options{})
	upstream.ResetLog()
	res, err := vendorimg.Push(ctx, cfg, vendorimg.PushOptions{Target: team.Host})
	if err != nil {
		t.Fatalf("Push of a nested sparse index: %v", err)
	}
	blobGets := map[string]int{}
	for _, r := range upstream.Requests() {
		if strings.Contains(r, "/blobs/") {
			blobGets[r[strings.LastIndex(r, "/blobs/"):]]++
		}
	}
	if len(blobGets) != 4 {
		t.Errorf("upstream's blobs fetched: %v, want the two inner platforms' config and layer", blobGets)
	}
	for r, n := range blobGets {
		if n != 1 {
			t.Errorf("upstream's %s fetched %d times, want once for both names", r, n)
		}
	}
	for _, b := range res.Images[1].Blobs {
		if b.Source == pusher.SourceUpstream && (b.Action != pusher.PushMounted || b.From != "x/nested") {
			t.Errorf("x/copy's upstream blob %s: %s from %q, want mounted from x/nested", b.Digest, b.Action, b.From)
		}
	}
	var got []string
	for _, s := range res.Images[0].Sources {
		got = append(got, s.Platform+" "+s.Source)
	}
	want := []string{"linux/amd64 layout", "linux/arm64 upstream", "linux/arm/v7 upstream"}
	if !slices.Equal(got, want) || !res.Images[0].Tagged {
		t.Errorf("Push: sources %q, tagged %v; want %q, tagged", got, res.Images[0].Tagged, want)
	}
	for _, repo := range []string{"x/nested", "x/copy"} {
		ref := team.Host + "/" + repo + ":1"
		if out, err := crane(t, "validate", "--remote", ref); err != nil || !strings.HasPrefix(string(out), "PASS: ") {
			t.Errorf("crane validate --remote %s: %v\n%s", ref, err, out)
		}
		if out, err := crane(t, "digest", ref); err != nil || strings.TrimSpace(string(out)) != pin.String() {
			t.Errorf("crane digest %s = %s %v, want %s", ref, out, err, pin)
		}
	}
}

// TestPushFromUpstreamMemoryIsFlat completes a sparse index whose missing
// platform has a 1 MiB layer, then one whose missing platform has a 48 MiB
// layer, each push a process of its own under GNU time: the layer streams
// from upstream to the target, so the peak RSS does not grow with it
// (Promise 4).
func TestPushFromUpstreamMemoryIsFlat(t *testing.T) {
	// The peak RSS is the push process's own, whatever runs beside it.
	t.Parallel()
	bin := vendorimgBinary(t)
	timeBin := lookPath(t, "/usr/bin/time", "time")
	upstream := registrytest.Start(t, registrytest.Options{})
	peak := func(name string, size int64, seed int64) int64 {
		ref := upstream.Host + "/mem/" + name + ":1"
		pin := registrytest.Push(t, ref, registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 1, size, seed, registrytest.OCI))
		dir := t.TempDir()
		writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s\n    digest: %s\n    platforms: [linux/amd64]\n", ref, pin))
		if out, err := exec.Command(bin, "-C", dir, "sync", "-q").CombinedOutput(); err != nil {
			t.Fatalf("sync: %v\n%s", err, out)
		}
		team := registrytest.Start(t, registrytest.Options{})
		out, err := exec.Command(timeBin, "-f", "maxrss=%M", bin, "-C", dir, "push", "-q", team.Host).CombinedOutput()
		if err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
		i := strings.LastIndex(string(out), "maxrss=")
		if i < 0 {
			t.Fatalf("no maxrss in %q", out)
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(string(out[i+len("maxrss="):])), 10, 64)
		if err != nil {
			t.Fatalf("no maxrss in %q", out)
		}
		return kb << 10
	}
	small := peak("small", 1<<20, 261)
	large := peak("large", 48<<20, 262)
	t.Logf("push's peak RSS: 1 MiB layers %d MiB, 48 MiB layers %d MiB", small>>20, large>>20)
	if large > small+16<<20 {
		t.Errorf("push's peak RSS grew from %d MiB to %d MiB with 48 MiB layers: blobs are not streamed", small>>20, large>>20)
	}
}

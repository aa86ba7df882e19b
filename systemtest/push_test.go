package systemtest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/pusher"
)

var (
	craneOnce sync.Once
	cranePath string
	craneErr  error
)

// craneBinary builds go-containerregistry's crane at the version go.mod
// requires (v0.22.1), from the module cache: the peer tool that checks
// digests in the registry.
func craneBinary(t *testing.T) string {
	t.Helper()
	craneOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vendorimg-crane-")
		if err != nil {
			craneErr = err
			return
		}
		cranePath = filepath.Join(dir, "crane")
		if out, err := exec.Command("go", "build", "-o", cranePath, "github.com/google/go-containerregistry/cmd/crane").CombinedOutput(); err != nil {
			craneErr = fmt.Errorf("go build crane: %v\n%s", err, out)
		}
	})
	if craneErr != nil {
		t.Fatal(craneErr)
	}
	return cranePath
}

// crane runs crane with args and returns its stdout.
func crane(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(craneBinary(t), append(args, "--insecure")...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("crane %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// dockerConfig points DOCKER_CONFIG at a config with basic credentials
// for host, as docker login writes them.
func dockerConfig(t *testing.T, host, user, password string) string {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	cfg := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, host, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	return dir
}

// blobWrites are the requests of an access log that send blob bytes or
// start an upload.
func blobWrites(reqs []string) []string {
	var out []string
	for _, r := range reqs {
		if (strings.HasPrefix(r, "POST ") || strings.HasPrefix(r, "PUT ") || strings.HasPrefix(r, "PATCH ")) && strings.Contains(r, "/blobs/") {
			out = append(out, r)
		}
	}
	return out
}

// TestPushToDistribution pushes three images to the distribution registry
// behind htpasswd: an index with every platform vendored, the same image
// under a second name (its blobs mounted), and a Docker manifest list of
// which two of three platforms are vendored, which the registry refuses.
func TestPushToDistribution(t *testing.T) {
	const user, password = "team", "s3cret"
	src := registrytest.Start(t, registrytest.Options{})
	full := registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 2, 40000, 91, registrytest.OCI)
	fullPin := registrytest.Push(t, src.Host+"/team/full:1", full)
	registrytest.Push(t, src.Host+"/team/copy:1", full)
	sparse := registrytest.Index(t, []string{"linux/amd64", "linux/arm64", "linux/s390x"}, 1, 30000, 92, registrytest.Docker)
	sparsePin := registrytest.Push(t, src.Host+"/team/sparse:2", sparse)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`images:
  - ref: %[1]s/team/full:1
    digest: %[2]s
    platforms: all
  - ref: %[1]s/team/copy:1
    digest: %[2]s
    platforms: all
  - ref: %[1]s/team/sparse:2
    digest: %[3]s
    platforms: [linux/amd64, linux/arm64]
`, src.Host, fullPin, sparsePin))
	ctx := context.Background()
	if _, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	before := treeHashes(t, dir)

	dst := registrytest.Start(t, registrytest.Options{User: user, Password: password})
	target := dst.Host + "/mirror"

	// Without credentials: unauthorized, nothing sent.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	_, err := vendorimg.Push(ctx, cfg, vendorimg.PushOptions{Target: target})
	if !errors.Is(err, errs.ErrUnauthorized) {
		t.Fatalf("Push with no credentials = %v, want errs.ErrUnauthorized", err)
	}
	dockerConfig(t, dst.Host, user, password)

	// A dry run sends nothing.
	dst.ResetLog()
	res, err := vendorimg.Push(ctx, cfg, vendorimg.PushOptions{Target: target, DryRun: true, NoUpstream: true})
	if err != nil {
		t.Fatalf("Push --dry-run: %v", err)
	}
	for _, r := range dst.Requests() {
		if !strings.HasPrefix(r, "GET /v2/ ") && !strings.HasPrefix(r, "HEAD ") {
			t.Errorf("--dry-run sent %s", r)
		}
	}
	if res.Images[0].Blobs[0].Action != pusher.PushWouldUpload || res.Images[1].Blobs[0].Action != pusher.PushWouldMount {
		t.Errorf("--dry-run actions: %+v, %+v", res.Images[0].Blobs[0], res.Images[1].Blobs[0])
	}

	// NoUpstream: the sparse image is pushed as the layout holds it (its
	// completion from upstream is TestPushCompletesSparseIndex's).
	dst.ResetLog()
	res, err = vendorimg.Push(ctx, cfg, vendorimg.PushOptions{Target: target, NoUpstream: true})
	if !errors.Is(err, errs.ErrSparseIndex) {
		t.Fatalf("Push = %v, want errs.ErrSparseIndex for the sparse image", err)
	}
	for _, want := range []string{"linux/s390x", "platforms: all", sparsePin.String(), "by digest", "--no-upstream", "push again where " + src.Host} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the sparse index error does not say %q: %v", want, err)
		}
	}
	if got := len(blobWrites(dst.Requests())); got == 0 {
		t.Errorf("the first push sent no blob")
	}
	if res.Mounted == 0 {
		t.Errorf("Push mounted no blob, want team/copy's blobs mounted from team/full: %+v", res.Images[1].Blobs)
	}
	for _, b := range res.Images[1].Blobs {
		if b.Action != pusher.PushMounted || b.From != "mirror/team/full" {
			t.Errorf("team/copy blob %s: %s from %q, want mounted from mirror/team/full", b.Digest, b.Action, b.From)
		}
	}

	// Every digest is preserved: crane sees the pins, the manifests are the
	// stored bytes.
	l := layout.New(cfg.LayoutDir())
	for _, repo := range []string{"team/full", "team/copy"} {
		ref := target + "/" + repo + ":1"
		out, err := crane(t, "digest", ref)
		if err != nil || strings.TrimSpace(string(out)) != fullPin.String() {
			t.Errorf("crane digest %s = %s %v, want %s", ref, out, err, fullPin)
		}
		inv, err := l.Inventory(ctx, layoutEntry(t, l, src.Host+"/"+repo+":1"), layout.WalkOptions{Platforms: cfg.Images[0].Platforms})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range inv.Present {
			if !b.IsDocument() {
				continue
			}
			out, err := crane(t, "manifest", target+"/"+repo+"@"+b.Digest.String())
			stored, _ := os.ReadFile(filepath.Join(l.Root(), layout.RelBlobPath(b.Digest)))
			if err != nil || !bytes.Equal(out, stored) {
				t.Errorf("crane manifest %s@%s: not the stored bytes (%v)", repo, b.Digest, err)
			}
		}
	}
	// The sparse image: its vendored platforms' manifests by digest, no tag.
	sparseImage := res.Images[2]
	if sparseImage.Tagged || len(sparseImage.Missing) != 1 || sparseImage.Missing[0] != "linux/s390x" {
		t.Errorf("sparse image result: tagged %v, missing %v", sparseImage.Tagged, sparseImage.Missing)
	}
	pushedByDigest := 0
	for _, m := range sparseImage.Manifests {
		if m.Platform == "" {
			if m.Action != pusher.PushRefused {
				t.Errorf("the sparse index: %s, want refused", m.Action)
			}
			continue
		}
		out, err := crane(t, "digest", target+"/team/sparse@"+m.Digest.String())
		if err != nil || strings.TrimSpace(string(out)) != m.Digest.String() {
			t.Errorf("the %s manifest is not in the registry by digest: %s %v", m.Platform, out, err)
		}
		pushedByDigest++
	}
	if pushedByDigest != 2 {
		t.Errorf("%d platform manifests pushed by digest, want 2", pushedByDigest)
	}
	if out, err := crane(t, "digest", target+"/team/sparse:2"); err == nil {
		t.Errorf("the sparse image's tag exists in the registry: %s", out)
	}

	// A second push sends no blob: the registry has them all.
	dst.ResetLog()
	res, err = vendorimg.Push(ctx, cfg, vendorimg.PushOptions{Target: target, NoUpstream: true})
	if !errors.Is(err, errs.ErrSparseIndex) {
		t.Fatalf("second Push = %v", err)
	}
	if w := blobWrites(dst.Requests()); len(w) > 0 {
		t.Errorf("the second push sent blobs: %v", w)
	}
	if res.Uploaded != 0 || res.Mounted != 0 || res.Skipped == 0 {
		t.Errorf("second push: %d uploaded, %d mounted, %d skipped; want all skipped", res.Uploaded, res.Mounted, res.Skipped)
	}
	if after := treeHashes(t, dir); !maps.Equal(before, after) {
		t.Errorf("push changed the checkout")
	}
}

// layoutEntry is index.json's entry named name.
func layoutEntry(t *testing.T, l *layout.Layout, name string) ocispec.Descriptor {
	t.Helper()
	idx, err := l.ReadIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, ok := layout.Lookup(idx, name, "")
	e := m.Entry
	if !ok {
		t.Fatalf("index.json has no %s", name)
	}
	return e
}

// TestPushCommandJSON runs the push command: one JSON document, with the
// sparse index's kind on failure.
func TestPushCommandJSON(t *testing.T) {
	src := registrytest.Start(t, registrytest.Options{})
	sparse := registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 1, 1000, 93, registrytest.OCI)
	pin := registrytest.Push(t, src.Host+"/x/sparse:1", sparse)
	dir := t.TempDir()
	writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s/x/sparse:1\n    digest: %s\n    platforms: [linux/amd64]\n", src.Host, pin))
	bin := vendorimgBinary(t)
	if out, err := exec.Command(bin, "-C", dir, "sync").CombinedOutput(); err != nil {
		t.Fatalf("sync: %v\n%s", err, out)
	}
	dst := registrytest.Start(t, registrytest.Options{})
	cmd := exec.Command(bin, "-C", dir, "push", dst.Host, "--json", "--no-upstream")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("push of a sparse index = %v, want exit 1\n%s", err, out)
	}
	var doc struct {
		Target string
		Images []struct {
			Target, Error string
			Missing       []string
		}
		Kind, Error string
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("push --json printed %q: %v", out, err)
	}
	if doc.Kind != "sparse-index" || len(doc.Images) != 1 || doc.Images[0].Target != dst.Host+"/x/sparse:1" || len(doc.Images[0].Missing) != 1 {
		t.Errorf("push --json = %+v", doc)
	}

	out, err = exec.Command(bin, "-C", dir, "push", "--dry-run", "--no-upstream", dst.Host).Output()
	if err != nil || !strings.Contains(string(out), "  linux/arm64  not vendored, not pushed\n") || !strings.Contains(string(out), "--no-upstream") {
		t.Errorf("push --dry-run --no-upstream printed %v\n%s\nwant linux/arm64 not pushed, and why", err, out)
	}

	// Completed from upstream: the text report of a dry run, then --json.
	out, err = exec.Command(bin, "-C", dir, "push", "--dry-run", dst.Host).Output()
	if err != nil {
		t.Fatalf("push --dry-run: %v\n%s", err, out)
	}
	for _, want := range []string{"  linux/amd64  from the layout  ", "  linux/arm64  from upstream " + src.Host + "/x/sparse  "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("push --dry-run printed\n%s\nwant a line with %q", out, want)
		}
	}
	out, err = exec.Command(bin, "-C", dir, "push", dst.Host, "--json").Output()
	if err != nil {
		t.Fatalf("push --json of a sparse index with upstream: %v\n%s", err, out)
	}
	var done struct {
		FromUpstream      int
		FromUpstreamBytes int64
		Images            []struct {
			Tagged   bool
			Upstream string
			Sources  []struct {
				Platform, Source string
				Bytes            int64
			}
		}
	}
	if err := json.Unmarshal(out, &done); err != nil {
		t.Fatalf("push --json printed %q: %v", out, err)
	}
	if done.FromUpstream != 2 || done.FromUpstreamBytes == 0 || len(done.Images) != 1 || !done.Images[0].Tagged || len(done.Images[0].Sources) != 2 {
		t.Fatalf("push --json = %s, want the arm64 config and layer from upstream, tagged", out)
	}
	for i, want := range []struct{ platform, source string }{{"linux/amd64", "layout"}, {"linux/arm64", "upstream"}} {
		if s := done.Images[0].Sources[i]; s.Platform != want.platform || s.Source != want.source || s.Bytes <= 0 {
			t.Errorf("push --json source %d = %+v, want %s from %s", i, s, want.platform, want.source)
		}
	}
	out, err = exec.Command(bin, "-C", dir, "push", dst.Host).Output()
	if err != nil || !strings.Contains(string(out), "  linux/arm64  already in the registry\n") {
		t.Errorf("push again printed %v\n%s\nwant linux/arm64 already in the registry", err, out)
	}

	// A usage error: a target that is no registry host.
	cmd = exec.Command(bin, "-C", dir, "push", "not a host")
	if err := cmd.Run(); !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("push 'not a host' = %v, want exit 2", err)
	}
}

// TestPushWithTokenAuth pushes the repository's own image to a registry
// that wants bearer tokens from a token server on another loopback port:
// the token asked for covers pull and push on the target repository, and
// every digest arrives.
func TestPushWithTokenAuth(t *testing.T) {
	const user, password = "pusher", "t0ken"
	ts := registrytest.NewTokenServer(t, user, password)
	f := registrytest.NewFault(t)
	f.RequireTokenFrom(ts)
	creds := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	doc := fmt.Sprintf(`{"auths": {%q: {"auth": %q}, %q: {"auth": %q}}}`, f.Host, auth, ts.Host, auth)
	if err := os.WriteFile(filepath.Join(creds, "config.json"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", creds)
	cfg, err := config.Load(context.Background(), config.FileName)
	if err != nil {
		t.Fatal(err)
	}
	res, err := vendorimg.Push(context.Background(), cfg, vendorimg.PushOptions{Target: f.Host + "/tok"})
	if err != nil {
		t.Fatalf("Push with token auth: %v", err)
	}
	if !res.Images[0].Tagged || res.Uploaded == 0 {
		t.Errorf("Push with token auth: %+v", res.Images[0])
	}
	push := false
	for _, r := range ts.Requests() {
		if strings.Contains(r.Scope, "repository:tok/probe:pull,push") {
			push = true
		}
	}
	if !push {
		t.Errorf("no token was asked for pull,push on tok/probe: %+v", ts.Requests())
	}
}

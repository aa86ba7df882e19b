package systemtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
)

// deepNesting is how many indexes the hostile layout nests: the issue's
// figure, which took 470 MB before the walk was bounded.
const deepNesting = 100_000

// deepPeakRSS bounds the peak RSS of each command on it: the walk stops at
// layout.MaxDepth, so memory must not grow with the nesting.
const deepPeakRSS = 96 << 20

// writeDeepLayout writes, under dir/testdata/images, a layout whose one
// index.json entry is an OCI index nesting n indexes, each listing the
// next for linux/amd64, above an image manifest with its config and a
// layer, and a vendorimg.yaml pinning the top. It returns the digests of
// every blob it wrote.
func writeDeepLayout(t *testing.T, dir string, n int) (pin digest.Digest, blobs []digest.Digest) {
	t.Helper()
	root := filepath.Join(dir, "testdata", "images")
	blobDir := filepath.Join(root, "blobs", "sha256")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Each index needs its child's digest, so the documents are made one
	// after the other; the files are written by a few writers beside it
	// (100 000 small writes are most of the time).
	type file struct {
		path string
		data []byte
	}
	files := make(chan file, 256)
	var writers errgroup.Group
	for range 4 {
		writers.Go(func() error {
			for f := range files {
				if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
					return err
				}
			}
			return nil
		})
	}
	put := func(b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		files <- file{filepath.Join(blobDir, d.Encoded()), b}
		blobs = append(blobs, d)
		return ocispec.Descriptor{Digest: d, Size: int64(len(b))}
	}
	marshal := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	layer := put(make([]byte, 1024)) // an empty tar
	layer.MediaType = ocispec.MediaTypeImageLayer
	cfg := put(marshal(ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layer.Digest}}}))
	cfg.MediaType = ocispec.MediaTypeImageConfig
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	child := put(marshal(m))
	child.MediaType = ocispec.MediaTypeImageManifest
	for range n {
		child.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
		idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{child}}
		idx.SchemaVersion = 2
		child = put(marshal(idx))
		child.MediaType = ocispec.MediaTypeImageIndex
	}
	close(files)
	if err := writers.Wait(); err != nil {
		t.Fatal(err)
	}
	name := "registry.vendorimg.test/deep:1"
	entry := layout.Entry(child, name)
	idx, err := layout.EncodeIndex([]ocispec.Descriptor{entry})
	if err != nil {
		t.Fatal(err)
	}
	for file, content := range map[string][]byte{
		layout.IndexFile:  idx,
		layout.LayoutFile: []byte(`{"imageLayoutVersion": "1.0.0"}` + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(root, file), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s\n    digest: %s\n    platforms: [linux/amd64]\n", name, child.Digest))
	return child.Digest, blobs
}

// runMeasured runs the vendorimg binary under GNU time and returns its
// stdout, exit status and peak RSS in bytes.
func runMeasured(t *testing.T, env []string, args ...string) (stdout []byte, code int, peak int64) {
	t.Helper()
	timeBin := lookPath(t, "/usr/bin/time", "time")
	rssFile := filepath.Join(t.TempDir(), "rss")
	cmd := exec.Command(timeBin, append([]string{"-o", rssFile, "-f", "%M", vendorimgBinary(t)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("vendorimg %v: %v", args, err)
	}
	b, err := os.ReadFile(rssFile)
	if err != nil {
		t.Fatal(err)
	}
	// GNU time writes "Command exited with non-zero status N" first.
	lines := strings.Fields(string(b))
	kb, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		t.Fatalf("no peak RSS in %q", b)
	}
	return out.Bytes(), cmd.ProcessState.ExitCode(), kb << 10
}

// engineRecorder is a proxy to the machine's docker socket that records
// every request it passes on, so that a test can show what a command sent
// the engine.
type engineRecorder struct {
	Host string
	mu   sync.Mutex
	reqs []string
}

func startEngineRecorder(t *testing.T) *engineRecorder {
	t.Helper()
	target := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		target = strings.TrimPrefix(h, "unix://")
	}
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	r := &engineRecorder{Host: "unix://" + sock}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(&url.URL{Scheme: "http", Host: "docker"}) },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", target)
		}},
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *engineRecorder) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// TestDeeplyNestedIndexes runs every command that reads the layout, as the
// built binary, on a layout whose pinned entry nests 100 000 indexes
// (written by this test): each must exit 1 with an error or finding that
// names the bound (layout.MaxDepth), in bounded memory, without changing a
// file; load must send the engine nothing but its questions, and gc must
// delete nothing below the cut.
func TestDeeplyNestedIndexes(t *testing.T) {
	t.Parallel() // long, and mostly waiting: it overlaps the package's other long tests
	dir := t.TempDir()
	start := time.Now()
	_, blobs := writeDeepLayout(t, dir, deepNesting)
	t.Logf("wrote %d nested indexes in %v", deepNesting, time.Since(start).Round(time.Millisecond))
	before := fileStates(t, dir)
	bound := fmt.Sprintf("nested more than %d levels", layout.MaxDepth)
	// Above the cut: the indexes at depths 0 to MaxDepth+1 (the last one is
	// the cut); below it, the rest of the indexes, the manifest, its config
	// and layer.
	unreached := len(blobs) - (layout.MaxDepth + 2)
	type result struct {
		Error  string
		Kind   string
		Layout json.RawMessage          // verify's report, a path elsewhere
		Images []struct{ Error string } // status
	}
	findings := func(t *testing.T, r result) []layout.Finding {
		var rep struct{ Findings []layout.Finding }
		if err := json.Unmarshal(r.Layout, &rep); err != nil {
			t.Fatalf("verify --json: layout: %v", err)
		}
		return rep.Findings
	}
	engine := startEngineRecorder(t)
	cases := []struct {
		name string
		args []string
		env  []string
		// check inspects the --json document.
		check func(t *testing.T, r result)
	}{
		{name: "verify", args: []string{"verify"}, check: func(t *testing.T, r result) {
			var deep []layout.Finding
			for _, f := range findings(t, r) {
				if f.Kind == layout.KindTooDeep {
					deep = append(deep, f)
				} else if f.Kind != layout.KindExtra {
					t.Errorf("finding %v, want only the depth finding", f)
				}
			}
			if len(deep) != 1 || !strings.Contains(deep[0].Message, bound) || !strings.Contains(deep[0].Message, strconv.Itoa(unreached)+" blobs") {
				t.Errorf("depth findings = %v, want one naming the bound and the %d blobs below the cut", deep, unreached)
			}
		}},
		{name: "status", args: []string{"status"}, check: func(t *testing.T, r result) {
			if len(r.Images) != 1 || !strings.Contains(r.Images[0].Error, bound) {
				t.Errorf("status images = %+v, want one whose error names the bound", r.Images)
			}
			if !strings.Contains(r.Error, bound) || r.Kind != "too-deep" {
				t.Errorf("status error %q (kind %q), want one naming the bound, kind too-deep", r.Error, r.Kind)
			}
		}},
		{name: "load", args: []string{"load"}, env: []string{"DOCKER_HOST=" + engine.Host}},
		{name: "gc", args: []string{"gc"}},
		{name: "gc --dry-run", args: []string{"gc", "--dry-run"}},
		{name: "sync", args: []string{"sync"}},
		{name: "sync --offline", args: []string{"sync", "--offline"}},
	}
	// A group, so that its parallel subtests end before the checks below.
	t.Run("commands", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				// Side by side: each command is its own process, measured alone
				// (ru_maxrss); any that writes shows in the check after them.
				t.Parallel()
				out, code, peak := runMeasured(t, tc.env, append([]string{"-C", dir, "--json"}, tc.args...)...)
				t.Logf("vendorimg %s: exit %d, peak RSS %.1f MiB", strings.Join(tc.args, " "), code, float64(peak)/(1<<20))
				if code != 1 {
					t.Errorf("exit status %d, want 1\n%s", code, out)
				}
				if peak > deepPeakRSS {
					t.Errorf("peak RSS %d MiB, want below %d MiB", peak>>20, deepPeakRSS>>20)
				}
				var r result
				if err := json.Unmarshal(out, &r); err != nil {
					t.Fatalf("--json output: %v\n%.2000s", err, out)
				}
				t.Logf("error: %s (kind %s)", r.Error, r.Kind)
				if tc.check != nil {
					tc.check(t, r)
					if len(r.Layout) > 0 && r.Layout[0] == '{' {
						t.Logf("findings: %v", findings(t, r))
					}
				} else if !strings.Contains(r.Error, bound) || r.Kind != "too-deep" {
					t.Errorf("error %q (kind %q), want one naming the bound, kind too-deep", r.Error, r.Kind)
				}
			})
		}
	})
	// Once, after all of them: walking 100 000 files is seconds.
	if after := fileStates(t, dir); !maps.Equal(before, after) {
		var changed []string
		for path, st := range after {
			if before[path] != st {
				changed = append(changed, path)
			}
		}
		for path := range before {
			if _, ok := after[path]; !ok {
				changed = append(changed, path+" (removed)")
			}
		}
		slices.Sort(changed)
		t.Errorf("the commands changed the layout: %d files, first %v", len(changed), changed[:min(5, len(changed))])
	}
	for _, r := range engine.Requests() {
		if strings.Contains(r, "/images/load") || strings.HasPrefix(r, "POST ") {
			t.Errorf("load sent the engine %s", r)
		}
	}
	if n := len(blobs); n != deepNesting+3 {
		t.Errorf("wrote %d blobs, want %d", n, deepNesting+3)
	}
}

// fileStates maps every file under dir to its size, mode and modification
// time: cheaper than hashing 100 000 files, and a write changes one.
func fileStates(t *testing.T, dir string) map[string]string {
	t.Helper()
	return treeMap(t, dir, func(_ string, info fs.FileInfo) (string, error) {
		return fmt.Sprint(info.Size(), info.ModTime().UnixNano()), nil
	})
}

// TestStatusSaysTooDeepInWords: plain status on a graph nested past the
// bound names the bound on stderr and does not say that sync completes the
// layout (sync cannot), as --json says too-deep.
func TestStatusSaysTooDeepInWords(t *testing.T) {
	dir := t.TempDir()
	writeDeepLayout(t, dir, layout.MaxDepth+3)
	cmd := exec.Command(vendorimgBinary(t), "-C", dir, "status")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	bound := fmt.Sprintf("nested more than %d levels", layout.MaxDepth)
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(stderr.String(), "status: the layout cannot be read: ") || !strings.Contains(stderr.String(), bound) {
		t.Errorf("status: %v, stderr %q; want exit 1 and the layout cannot be read, naming the bound %q\n%s", err, stderr.String(), bound, stdout.String())
	}
	if strings.Contains(stderr.String(), "sync completes it") {
		t.Errorf("status on a too-deep graph says sync completes it: %q", stderr.String())
	}
}

// TestLoadSendsNothingWhenOneImageIsTooDeep: with the repository's own
// probe image beside an image nested too deeply, load reads both graphs
// before it sends anything, so it sends the engine nothing but its
// questions, exits 1, and says of the probe that it was not loaded because
// of the other.
func TestLoadSendsNothingWhenOneImageIsTooDeep(t *testing.T) {
	dir := t.TempDir()
	deep, _ := writeDeepLayout(t, dir, layout.MaxDepth+3)
	// The probe's blobs and index.json entry beside the deep one.
	probe, err := config.Load(context.Background(), config.FileName)
	if err != nil {
		t.Fatal(err)
	}
	src := layout.New(probe.LayoutDir())
	idx, err := src.ReadIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := os.ReadDir(filepath.Join(probe.LayoutDir(), "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		raw, err := os.ReadFile(filepath.Join(probe.LayoutDir(), "blobs", "sha256", b.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "testdata", "images", "blobs", "sha256", b.Name()), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst := layout.New(filepath.Join(dir, "testdata", "images"))
	both, err := dst.ReadIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := layout.EncodeIndex(append(both.Manifests, idx.Manifests...))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "testdata", "images", layout.IndexFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	pin := probe.Images[0]
	writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s\n    digest: %s\n    platforms: [linux/amd64, linux/arm64]\n  - ref: registry.vendorimg.test/deep:1\n    digest: %s\n    platforms: [linux/amd64]\n", pin.Name(), pin.Digest, deep))

	engine := startEngineRecorder(t)
	cmd := exec.Command(vendorimgBinary(t), "-C", dir, "--json", "load")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+engine.Host)
	out, err := cmd.Output()
	var doc struct {
		Error  string
		Kind   string
		Images []struct{ Ref, Action, Error string }
	}
	if jerr := json.Unmarshal(out, &doc); jerr != nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("load --json: exit %d (%v), %s (%v)", cmd.ProcessState.ExitCode(), err, out, jerr)
	}
	bound := fmt.Sprintf("nested more than %d levels", layout.MaxDepth)
	if doc.Kind != "too-deep" || !strings.Contains(doc.Error, bound) || len(doc.Images) != 2 {
		t.Fatalf("load --json = %s; want kind too-deep naming the bound, both images reported", out)
	}
	if im := doc.Images[0]; im.Action != "" || !strings.Contains(im.Error, "not loaded: another image's graph cannot be read") {
		t.Errorf("load --json: the probe = %+v; want it not loaded because of the other image", im)
	}
	if im := doc.Images[1]; !strings.Contains(im.Error, bound) {
		t.Errorf("load --json: the deep image = %+v; want its error naming the bound", im)
	}
	for _, r := range engine.Requests() {
		if strings.HasPrefix(r, "POST ") {
			t.Errorf("load sent the engine %s", r)
		}
	}
}

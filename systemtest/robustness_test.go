package systemtest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
)

// bigImage pushes an image of n uncompressed random layers of size bytes.
func bigImage(t *testing.T, ref string, n int, size int) string {
	t.Helper()
	img := empty.Image
	for i := 0; i < n; i++ {
		b := make([]byte, size)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		var err error
		img, err = mutate.AppendLayers(img, static.NewLayer(b, types.OCIUncompressedLayer))
		if err != nil {
			t.Fatal(err)
		}
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return registrytest.Push(t, ref, img).String()
}

// TestKilledSyncLeavesVerifiableLayout kills "vendorimg sync" with SIGKILL
// at many points of a download and checks, after each, that verify passes
// or reports the layout incomplete (never corrupt), and that the next sync
// completes it (Promise 5). The points are byte counts: the proxy holds the
// download once it has passed that many bytes, the sync is killed there,
// and only then are bytes let through again, whatever the machine's speed.
func TestKilledSyncLeavesVerifiableLayout(t *testing.T) {
	t.Parallel() // its own registry and folders: it overlaps the package's long tests
	bin := vendorimgBinary(t)
	reg := registrytest.Start(t, registrytest.Options{})
	const total = 4 * 2 << 20
	pin := bigImage(t, reg.Host+"/crash/x:1", 4, 2<<20)
	proxy := startThrottle(t, reg.Host, 16<<20)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("mirrors:\n  %s: %s\nimages:\n  - ref: %s/crash/x:1\n    digest: %s\n    platforms: [linux/amd64]\n", reg.Host, proxy.Addr, reg.Host, pin))

	sawIncomplete := false
	// Kill points: at the start (no byte waited for), then at fractions of
	// the layers' bytes, counted from this sync's first byte; each kill
	// leaves some blobs stored, so later points land in other blobs.
	for i, eighths := range []int64{0, 1, 2, 3, 4, 5, 6, 7} {
		cmd := exec.Command(bin, "-C", dir, "sync", "-q")
		at := proxy.Sent() + eighths*total/8
		proxy.holdAfter(at)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		if eighths > 0 && !proxy.waitSent(at, done) {
			// The earlier kills stored blobs, so that this sync needed
			// fewer bytes: a kill here would come too late.
			t.Logf("kill %d: the sync ended before %d bytes", i, at)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		proxy.release()
		rep, err := vendorimg.Verify(context.Background(), cfg, vendorimg.VerifyOptions{})
		if err != nil {
			t.Fatalf("kill %d at %d/8 of the bytes: Verify() = %v", i, eighths, err)
		}
		if !rep.OK() && !rep.Incomplete() {
			t.Fatalf("kill %d at %d/8 of the bytes: Verify() found corruption: %v", i, eighths, rep.Findings)
		}
		sawIncomplete = sawIncomplete || rep.Incomplete()
	}
	if !sawIncomplete {
		t.Errorf("no kill left the layout incomplete: the test did not interrupt any download")
	}
	out, err := exec.Command(bin, "-C", dir, "sync").CombinedOutput()
	if err != nil {
		t.Fatalf("final sync: %v\n%s", err, out)
	}
	mustVerify(t, cfg, false)
}

// TestConcurrentSyncsAreSerialised runs two syncs on one layout at once:
// both succeed, one waits for the other's lock, and every blob is fetched
// once.
func TestConcurrentSyncsAreSerialised(t *testing.T) {
	bin := vendorimgBinary(t)
	reg := registrytest.Start(t, registrytest.Options{})
	pin := bigImage(t, reg.Host+"/lock/x:1", 2, 2<<20)
	proxy := startThrottle(t, reg.Host, 16<<20)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("mirrors:\n  %s: %s\nimages:\n  - ref: %s/lock/x:1\n    digest: %s\n    platforms: [linux/amd64]\n", reg.Host, proxy.Addr, reg.Host, pin))
	// Create the layout's folder first so that both processes lock the
	// same folder.
	if err := os.MkdirAll(cfg.LayoutDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	reg.ResetLog()
	var outs [2]syncBuffer
	var cmds [2]*exec.Cmd
	for i := range cmds {
		cmds[i] = exec.Command(bin, "-C", dir, "sync")
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// The second starts once the first holds the lock and fetches.
			outs[0].waitFor(t, "fetching", 30*time.Second)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("sync %d: %v\n%s", i, err, outs[i].String())
		}
	}
	if !strings.Contains(outs[0].String()+outs[1].String(), "waiting for another vendorimg") {
		t.Errorf("neither sync waited for the lock:\n%s\n%s", outs[0].String(), outs[1].String())
	}
	gets := map[string]int{}
	for _, r := range reg.Requests() {
		if strings.HasPrefix(r, "GET /v2/lock/x/blobs/") {
			gets[r]++
		}
	}
	for r, n := range gets {
		if n != 1 {
			t.Errorf("%s requested %d times, want once", r, n)
		}
	}
	if len(gets) != 3 {
		t.Errorf("blob requests = %v, want 3 (config and 2 layers)", gets)
	}
	mustVerify(t, cfg, false)
}

// TestSyncMemoryIsFlat syncs a small and a large image in separate
// processes and compares their peak RSS: blobs are streamed, so memory
// does not grow with layer size (Promise 4).
func TestSyncMemoryIsFlat(t *testing.T) {
	bin := vendorimgBinary(t)
	// GNU time measures the peak RSS of a process it starts itself: the
	// rusage of a child of this (large) test process would include the
	// high-water mark it inherits at fork.
	timeBin := lookPath(t, "/usr/bin/time", "time")
	reg := registrytest.Start(t, registrytest.Options{})
	peakOf := func(args ...string) int64 {
		out, err := exec.Command(timeBin, append([]string{"-f", "maxrss=%M"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		i := strings.LastIndex(string(out), "maxrss=")
		kb, err := strconv.ParseInt(strings.TrimSpace(string(out[i+len("maxrss="):])), 10, 64)
		if i < 0 || err != nil {
			t.Fatalf("no maxrss in %q", out)
		}
		return kb * 1024
	}
	peak := func(name string, size int) int64 {
		pin := bigImage(t, reg.Host+"/mem/"+name+":1", 1, size)
		dir := t.TempDir()
		writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s/mem/%s:1\n    digest: %s\n    platforms: [linux/amd64]\n", reg.Host, name, pin))
		return max(peakOf(bin, "-C", dir, "sync", "-q"), peakOf(bin, "-C", dir, "verify", "-q"))
	}
	small := peak("small", 1<<20)
	large := peak("large", 48<<20)
	t.Logf("peak RSS: 1 MiB layer %d MiB, 48 MiB layer %d MiB", small>>20, large>>20)
	if large > small+16<<20 {
		t.Errorf("peak RSS grew from %d MiB to %d MiB with a 48 MiB layer: blobs are not streamed", small>>20, large>>20)
	}
}

// syncBuffer is a bytes.Buffer a command writes to while a test waits for
// what it writes.
type syncBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	grew chan struct{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.grew == nil {
		b.grew = make(chan struct{}, 1)
	}
	select {
	case b.grew <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the output contains s.
func (b *syncBuffer) waitFor(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for !strings.Contains(b.String(), s) {
		b.mu.Lock()
		if b.grew == nil {
			b.grew = make(chan struct{}, 1)
		}
		grew := b.grew
		b.mu.Unlock()
		select {
		case <-grew:
		case <-deadline:
			t.Fatalf("no %q in the output within %v:\n%s", s, timeout, b.String())
		}
	}
}

// TestReadersNeverSeeFirstSyncHalfDone starts a first sync of a throttled
// image many times and runs verify and status as the built binary while it
// runs, at a point further into it each try: the proxy holds the download
// once it has passed that many bytes, the readers are started, and only
// then are bytes let through again, so that they always start while the
// sync runs, whatever the machine's speed. Each must see either no layout
// (and say so) or the complete one: the readers lock the folder before
// reading it, and read nothing when it does not exist yet.
func TestReadersNeverSeeFirstSyncHalfDone(t *testing.T) {
	t.Parallel() // long, and mostly waiting: it overlaps the package's other long tests
	bin := vendorimgBinary(t)
	reg := registrytest.Start(t, registrytest.Options{})
	const total = 4 << 20
	pin := bigImage(t, reg.Host+"/first/x:1", 4, 1<<20)
	// 8 MiB/s: each try's sync goes on for up to half a second after the
	// readers start (they are started while it is held, so they overlap it
	// whatever the rate); at 2 MiB/s the test took 26 s.
	proxy := startThrottle(t, reg.Host, 8<<20)
	type verifyDoc struct {
		OK     bool
		Layout struct{ Findings []layout.Finding }
	}
	type statusDoc struct {
		Images []struct {
			InIndex, Complete bool
			Blobs             int
			Missing           []struct{ Digest string }
		}
	}
	// reader starts vendorimg --json args in dir; wait decodes its output
	// into v.
	type reader struct {
		cmd *exec.Cmd
		out bytes.Buffer
	}
	start := func(dir string, args ...string) *reader {
		r := &reader{cmd: exec.Command(bin, append([]string{"-C", dir, "--json"}, args...)...)}
		r.cmd.Stdout = &r.out
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	wait := func(r *reader, v any) {
		err := r.cmd.Wait()
		if _, exit := err.(*exec.ExitError); err != nil && !exit {
			t.Fatal(err)
		}
		if err := json.Unmarshal(r.out.Bytes(), v); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(r.cmd.Args, " "), err, r.out.Bytes())
		}
	}
	var none, complete int
	const tries = 40
	for i := range tries {
		dir := t.TempDir()
		writeConfig(t, dir, fmt.Sprintf("mirrors:\n  %s: %s\nimages:\n  - ref: %s/first/x:1\n    digest: %s\n    platforms: [linux/amd64]\n", reg.Host, proxy.Addr, reg.Host, pin))
		// Held at i/40 of the layers' bytes, counted from this sync's
		// first byte (the first try holds before any).
		at := proxy.Sent() + int64(i)*total/tries
		proxy.holdAfter(at)
		sync := exec.Command(bin, "-C", dir, "sync", "-q")
		if err := sync.Start(); err != nil {
			proxy.release()
			t.Fatal(err)
		}
		done := make(chan struct{})
		var syncErr error
		go func() { syncErr = sync.Wait(); close(done) }()
		if !proxy.waitSent(at, done) {
			t.Fatalf("try %d: the sync ended before %d bytes went through the proxy: %v", i, at, syncErr)
		}
		vr, sr := start(dir, "verify"), start(dir, "status")
		proxy.release()
		var v verifyDoc
		wait(vr, &v)
		var st statusDoc
		wait(sr, &st)
		<-done
		if syncErr != nil {
			t.Fatalf("try %d: sync: %v", i, syncErr)
		}
		f := v.Layout.Findings
		switch {
		case v.OK && len(f) == 0:
			complete++
		case len(f) == 2 && f[0].Kind == layout.KindMissing && f[0].Path == "." && strings.Contains(f[0].Message, "no layout") && f[1].Kind == layout.KindNotSynced:
			none++
		default:
			t.Errorf("try %d (held after %d bytes): verify saw a half-done layout: %v", i, at, f)
		}
		if s := st.Images; len(s) != 1 || !(s[0].Complete || (!s[0].InIndex && s[0].Blobs == 0 && len(s[0].Missing) == 1 && s[0].Missing[0].Digest == pin)) {
			t.Errorf("try %d: status saw a half-done layout: %+v", i, s)
		}
	}
	t.Logf("verify during a first sync: %d saw no layout, %d the complete one (all %d started while the sync ran)", none, complete, tries)
	if complete == 0 {
		t.Errorf("no verify waited for the sync and saw the complete layout")
	}
}

// killDuringStage starts "vendorimg sync" in dir and kills it with SIGKILL
// once its stage (a .tmp-stage-* folder in the layout) holds a blob, so that
// the stage of an interrupted run is left behind. It returns the stage's
// name.
func killDuringStage(t *testing.T, bin, dir, layoutDir string) string {
	t.Helper()
	cmd := exec.Command(bin, "-C", dir, "sync", "-q")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		stages, _ := filepath.Glob(filepath.Join(layoutDir, ".tmp-stage-*", "*"))
		if len(stages) > 0 {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			return filepath.Base(filepath.Dir(stages[0]))
		}
		time.Sleep(2 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	t.Fatalf("no stage with a blob in %s within 30s", layoutDir)
	return ""
}

// TestStageOfKilledSyncIsRemoved leaves the stage of a killed sync (a
// .tmp-stage-* folder) behind, in a first sync's layout and in a synced one,
// and checks that verify reports it as temporary, saying that the next sync
// or gc removes it, and that each does.
func TestStageOfKilledSyncIsRemoved(t *testing.T) {
	t.Parallel() // its own registry and folders: it overlaps the package's long tests
	bin := vendorimgBinary(t)
	reg := registrytest.Start(t, registrytest.Options{})
	first := bigImage(t, reg.Host+"/stage/a:1", 4, 1<<20)
	second := bigImage(t, reg.Host+"/stage/b:1", 4, 1<<20)
	proxy := startThrottle(t, reg.Host, 8<<20)
	image := func(repo string, pin string) string {
		return fmt.Sprintf("  - ref: %s/stage/%s:1\n    digest: %s\n    platforms: [linux/amd64]\n", reg.Host, repo, pin)
	}
	mirrors := fmt.Sprintf("mirrors:\n  %s: %s\nimages:\n", reg.Host, proxy.Addr)
	for _, tc := range []struct {
		name    string
		synced  bool     // a sync of the first image completed before
		cleaner []string // the command that must remove the stage
	}{
		{"first sync, then gc", false, []string{"gc"}},
		{"first sync, then sync", false, []string{"sync", "-q"}},
		{"second sync, then gc", true, []string{"gc"}},
		{"second sync, then sync", true, []string{"sync", "-q"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeConfig(t, dir, mirrors+image("a", first))
			if tc.synced {
				mustSync(t, cfg, vendorimg.SyncOptions{})
				cfg = writeConfig(t, dir, mirrors+image("a", first)+image("b", second))
			}
			stage := killDuringStage(t, bin, dir, cfg.LayoutDir())
			rep, err := vendorimg.Verify(context.Background(), cfg, vendorimg.VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Incomplete() || !slices.ContainsFunc(rep.Findings, func(f layout.Finding) bool {
				return f.Kind == layout.KindTemporary && f.Path == stage && strings.Contains(f.Message, "the next sync or gc removes it")
			}) {
				t.Errorf("Verify() after the kill = %v, want the layout incomplete and %s reported temporary", rep.Findings, stage)
			}
			if out, err := exec.Command(bin, append([]string{"-C", dir}, tc.cleaner...)...).CombinedOutput(); err != nil {
				t.Fatalf("vendorimg %s: %v\n%s", strings.Join(tc.cleaner, " "), err, out)
			}
			if _, err := os.Lstat(filepath.Join(cfg.LayoutDir(), stage)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("after vendorimg %s, %s is still there (%v)", strings.Join(tc.cleaner, " "), stage, err)
			}
			if left, _ := filepath.Glob(filepath.Join(cfg.LayoutDir(), ".tmp-*")); len(left) > 0 {
				t.Errorf("after vendorimg %s the layout holds %v", strings.Join(tc.cleaner, " "), left)
			}
		})
	}
}

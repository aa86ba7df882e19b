package systemtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/disk"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// diskModel records the file system operations of a run under root and
// replays them against the rule that a name is durable only once the
// folder holding it was synced after the name appeared, and a file's bytes
// only once it was synced before its rename.
type diskModel struct {
	root string
	fail func(disk.Event) error

	mu     sync.Mutex
	events []disk.Event
}

// watch records every operation under root until the test ends; fail, if
// not nil, may fail one.
func watch(t *testing.T, root string, fail func(disk.Event) error) *diskModel {
	m := &diskModel{root: root, fail: fail}
	t.Cleanup(disk.SetHook(func(e disk.Event) error {
		if e.Path != root && !strings.HasPrefix(e.Path, root+string(filepath.Separator)) {
			return nil // another test's
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		m.events = append(m.events, e)
		if m.fail != nil {
			return m.fail(e)
		}
		return nil
	}))
	return m
}

// take returns the events so far and forgets them.
func (m *diskModel) take() []disk.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.events
	m.events = nil
	return out
}

// isTemp is a name nothing reads after a crash: a temporary file, a stage
// and what is in it.
func isTemp(path string) bool { return strings.Contains(path, string(filepath.Separator)+".") }

// check replays events and reports every breach of the rule: a final name
// renamed before its bytes were synced; at the rename of index.json, a
// name it relies on (the blobs renamed so far, vendorimg.yaml, their
// folders) not yet durable; at the end, a final name not durable. It
// returns the renames into final names, for the caller's own checks.
func (m *diskModel) check(t *testing.T, events []disk.Event, index string) (renamed []string) {
	t.Helper()
	synced := map[string]bool{}  // bytes synced, by current name
	pending := map[string]bool{} // names whose folder was not synced since
	var log []string
	durable := func(p string) bool {
		for ; strings.HasPrefix(p, m.root); p = filepath.Dir(p) {
			if pending[p] {
				return false
			}
			if p == filepath.Dir(p) {
				break
			}
		}
		return !pending[p]
	}
	var breaches []string
	fail := func(format string, args ...any) { breaches = append(breaches, fmt.Sprintf(format, args...)) }
	for _, e := range events {
		log = append(log, strings.ReplaceAll(e.String(), m.root, "ROOT"))
		switch e.Op {
		case disk.OpMkdir, disk.OpCreate:
			pending[e.Path] = true
		case disk.OpSync:
			synced[e.Path] = true
		case disk.OpRename:
			if !isTemp(e.Target) && !synced[e.Path] {
				fail("%s was renamed to %s before its bytes were synced", e.Path, e.Target)
			}
			if e.Target == index {
				for _, p := range renamed {
					if p != index && !durable(p) {
						fail("index.json was renamed into place while %s was not durable (its folder not synced since it appeared)", p)
					}
				}
			}
			synced[e.Target] = synced[e.Path]
			delete(synced, e.Path)
			delete(pending, e.Path)
			pending[e.Target] = true
			if !isTemp(e.Target) {
				renamed = append(renamed, e.Target)
			}
		case disk.OpSyncDir:
			for p := range pending {
				if filepath.Dir(p) == e.Path {
					delete(pending, p)
				}
			}
		}
	}
	for _, p := range renamed {
		if !durable(p) {
			fail("%s is not durable when the run ends", p)
		}
	}
	if len(breaches) > 0 {
		t.Errorf("%s\noperations:\n  %s", strings.Join(breaches, "\n"), strings.Join(log, "\n  "))
	}
	return renamed
}

func count(events []disk.Event, op disk.Op, path string) int {
	n := 0
	for _, e := range events {
		if e.Op == op && e.Path == path {
			n++
		}
	}
	return n
}

// TestSyncMakesNamesDurableBeforeIndex records the file system operations
// of real syncs and an add from the distribution registry into a layout
// whose folders do not exist yet, and checks them against the model: every
// blob synced before its rename, its folder synced once after the renames
// and before index.json is renamed into place, every new folder synced
// into its parent, vendorimg.yaml and index.json synced and then their
// folders.
func TestSyncMakesNamesDurableBeforeIndex(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	idx := registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 3, 4000, 81, registrytest.OCI)
	ref := reg.Host + "/durable/multi:1"
	pin := registrytest.Push(t, ref, idx)
	second := reg.Host + "/durable/single:1"
	registrytest.Push(t, second, registrytest.Image(t, "linux/amd64", 2, 3000, 82, registrytest.OCI))

	dir := t.TempDir()
	root := filepath.Join(dir, "new", "testdata", "images")
	cfg := writeConfig(t, dir, fmt.Sprintf("layout: new/testdata/images\nimages:\n  - ref: %s\n    digest: %s\n    platforms: all\n", ref, pin))
	m := watch(t, dir, nil)
	index := filepath.Join(root, "index.json")
	blobDir := filepath.Join(root, "blobs", "sha256")

	t.Run("first sync", func(t *testing.T) {
		res := mustSync(t, cfg, vendorimg.SyncOptions{})
		events := m.take()
		renamed := m.check(t, events, index)
		for _, d := range []string{filepath.Join(dir, "new"), filepath.Join(dir, "new", "testdata"), root, filepath.Join(root, "blobs"), blobDir} {
			if count(events, disk.OpMkdir, d) != 1 {
				t.Errorf("Sync() created %s %d times through package disk, want once", d, count(events, disk.OpMkdir, d))
			}
		}
		var blobs int
		for _, p := range renamed {
			if filepath.Dir(p) == blobDir {
				blobs++
			}
		}
		if blobs != res.Fetched || blobs < 8 {
			t.Errorf("Sync() renamed %d blobs into place, fetched %d; want the same, at least 8", blobs, res.Fetched)
		}
		// Batched: one sync of the blob folder for all the renames.
		if n := count(events, disk.OpSyncDir, blobDir); n != 1 {
			t.Errorf("Sync() synced %s %d times for %d blobs, want once", blobDir, n, blobs)
		}
		mustVerify(t, cfg, false)
	})

	t.Run("add saves vendorimg.yaml durably", func(t *testing.T) {
		r, err := reference.Parse(second)
		if err != nil {
			t.Fatal(err)
		}
		amd64, _ := platform.ParseSelection([]string{"linux/amd64"})
		if _, err := vendorimg.Add(context.Background(), cfg, vendorimg.AddOptions{Ref: r, Platforms: amd64}); err != nil {
			t.Fatalf("Add() = %v", err)
		}
		events := m.take()
		renamed := m.check(t, events, index)
		yaml := filepath.Join(dir, config.FileName)
		i, j := slices.Index(renamed, yaml), slices.Index(renamed, index)
		if i < 0 || j < 0 || i > j {
			t.Errorf("Add() renamed %v; want vendorimg.yaml before index.json", renamed)
		}
		if count(events, disk.OpSyncDir, dir) != 1 {
			t.Errorf("Add() synced the config's folder %d times, want once", count(events, disk.OpSyncDir, dir))
		}
		mustVerify(t, cfg, false)
	})

	t.Run("repair", func(t *testing.T) {
		blobs := blobFiles(t, root)
		victim := filepath.Join(blobDir, strings.TrimPrefix(blobs[0], "sha256:"))
		if err := os.Chmod(victim, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(victim, []byte("flipped"), 0o644); err != nil {
			t.Fatal(err)
		}
		res := mustSync(t, cfg, vendorimg.SyncOptions{Repair: true})
		if len(res.Repaired) != 1 {
			t.Errorf("Sync(repair) repaired %v, want 1 blob", res.Repaired)
		}
		events := m.take()
		if renamed := m.check(t, events, index); !slices.Contains(renamed, victim) {
			t.Errorf("Sync(repair) renamed %v, want %s among them", renamed, victim)
		}
		mustVerify(t, cfg, false)
	})
}

// TestSyncFailsOnASyncError fails each kind of sync in turn during a real
// sync and an add: the command fails with the error naming the path, and
// index.json (and vendorimg.yaml) were not replaced after the failure.
func TestSyncFailsOnASyncError(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/durable/fail:1"
	pin := registrytest.Push(t, ref, registrytest.Image(t, "linux/amd64", 2, 3000, 83, registrytest.OCI))
	boom := errors.New("injected I/O error")
	for _, tc := range []struct {
		name string
		op   disk.Op
		path func(dir string) string // the path whose operation fails
		// made: the layout's folder exists already, so that the first
		// sync of dir is the config's.
		made bool
	}{
		{"blob bytes", disk.OpSync, nil, false},
		{"blob folder", disk.OpSyncDir, func(dir string) string { return filepath.Join(dir, "testdata", "images", "blobs", "sha256") }, false},
		{"new blobs folder", disk.OpSyncDir, func(dir string) string { return filepath.Join(dir, "testdata", "images", "blobs") }, false},
		{"index.json's folder", disk.OpSyncDir, func(dir string) string { return filepath.Join(dir, "testdata", "images") }, false},
		{"config's folder", disk.OpSyncDir, func(dir string) string { return dir }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeConfig(t, dir, "images: []\n")
			if tc.made {
				if err := os.MkdirAll(filepath.Join(dir, "testdata", "images"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			var failed string
			watch(t, dir, func(e disk.Event) error {
				if failed == "" && e.Op == tc.op && (tc.path == nil && strings.Contains(e.Path, ".tmp-stage-") || tc.path != nil && e.Path == tc.path(dir)) {
					failed = e.Path
					return boom
				}
				return nil
			})
			r, _ := reference.Parse(ref + "@" + pin.String())
			amd64, _ := platform.ParseSelection([]string{"linux/amd64"})
			_, err := vendorimg.Add(context.Background(), cfg, vendorimg.AddOptions{Ref: r, Platforms: amd64})
			if failed == "" {
				t.Fatalf("Add() = %v, and no %s was failed", err, tc.op)
			}
			if !errors.Is(err, boom) || !strings.Contains(err.Error(), failed) {
				t.Fatalf("Add() with a failing %s of %s = %v, want the injected error naming the path", tc.op, failed, err)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "testdata", "images", "index.json"))
			if strings.Contains(string(b), pin.String()) && tc.name != "index.json's folder" {
				t.Errorf("after the failure index.json names the pin:\n%s", b)
			}
		})
	}
}

package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/image"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/reference"
)

// TestWatcher changes a loaded image the ways a test can (a commit onto
// its tag, a re-tag of another image, docker rmi of the tag alone and of
// the image, a layout blob flipped and put back, a commit onto a tag of a
// test's own) and checks after each that Check names the change, says
// what the engine's events tell of it, restores the vendored image, and
// that the next Check is clean.
func TestWatcher(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	im := f.add(repoName(t, "img"), "1.0", registrytest.Index(t, []string{"linux/amd64"}, 2, 2000, randomSeed(t), registrytest.OCI), "linux/amd64")
	other := f.add(repoName(t, "other"), "1.0", registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, randomSeed(t), registrytest.OCI), "linux/amd64")
	if _, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{}); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	tag, otherTag := tagOf(im), tagOf(other)
	vendoredID := f.id(f.platformImages(im)["linux/amd64"])

	w, err := daemon.NewWatcher(ctx, f.c, f.l, f.cfg.Images, daemon.WatchOptions{})
	if err != nil {
		t.Fatalf("NewWatcher() = %v", err)
	}
	if len(w.Before()) != 0 {
		t.Errorf("Before() = %+v, want nothing wrong", w.Before())
	}
	// index.json, and for each image its index, manifest, config and layers.
	if got := w.Files(); got != 1+(3+2)+(3+1) {
		t.Errorf("Files() = %d, want %d", got, 1+(3+2)+(3+1))
	}
	// The engine's events name what moved the tag; podman's compatible
	// API may not carry them, which the report must then say.
	wantEvent := func(t *testing.T, rep *daemon.WatchReport, words ...string) {
		t.Helper()
		text := daemon.DescribeEvents(rep.Events)
		for _, w := range words {
			if !strings.Contains(text, w) {
				if f.eng.Product == "podman" {
					t.Logf("%s: the events (%q, error %q) do not say %q", f.eng, text, rep.EventsError, w)
					continue
				}
				t.Errorf("events %q (error %q) do not say %q (%s)", text, rep.EventsError, w, f.eng)
			}
		}
	}
	check := func(t *testing.T, restore bool) *daemon.WatchReport {
		t.Helper()
		rep, err := w.Check(ctx, daemon.CheckTestOptions{Restore: restore})
		if err != nil {
			t.Fatalf("Check() = %v", err)
		}
		return rep
	}
	clean := func(t *testing.T) {
		t.Helper()
		if rep := check(t, true); !rep.OK || len(rep.Tags) != 0 || len(rep.Restored) != 0 {
			t.Fatalf("Check() after the restore = %+v, want clean", rep)
		}
		if ins, ok := inspect(t, f.c, tag); !ok || ins.ID != vendoredID {
			t.Fatalf("after the restore %s is %q (found %v), want the vendored %s", tag, ins.ID, ok, vendoredID)
		}
	}
	finding := func(t *testing.T, rep *daemon.WatchReport, kind, actual string) {
		t.Helper()
		if rep.OK || len(rep.Tags) != 1 || rep.Tags[0].Kind != kind || rep.Tags[0].Tag != tag || rep.Tags[0].Expected != vendoredID || rep.Tags[0].Actual != actual {
			t.Fatalf("Check() = %+v, want one %s of %s to %q", rep, kind, tag, actual)
		}
	}

	t.Run("nothing-changed", func(t *testing.T) {
		rep := check(t, true)
		if !rep.OK || len(rep.Tags)+len(rep.Layout)+len(rep.Events)+len(rep.Restored) != 0 {
			t.Fatalf("Check() = %+v, want clean", rep)
		}
	})
	t.Run("commit-onto-the-tag", func(t *testing.T) {
		committed := enginetest.Commit(t, tag, enginetest.CommitOptions{Tag: tag})
		rep := check(t, true)
		finding(t, rep, daemon.TagMoved, committed)
		wantEvent(t, rep, "docker commit of container", "as "+tag)
		want := daemon.Restoration{Tag: tag, Action: daemon.RestoreRetagged, Displaced: committed, DisplacedAction: "removed"}
		if len(rep.Restored) != 1 || rep.Restored[0] != want {
			t.Errorf("Restored = %+v, want %+v", rep.Restored, want)
		}
		if _, ok := inspect(t, f.c, committed); ok {
			t.Errorf("the committed image %s is still in the engine after the restore", committed)
		}
		clean(t)
	})
	t.Run("re-tag-of-another-image", func(t *testing.T) {
		otherID := f.id(f.platformImages(other)["linux/amd64"])
		if err := f.c.ImageTag(ctx, otherTag, tag); err != nil {
			t.Fatal(err)
		}
		rep := check(t, true)
		finding(t, rep, daemon.TagMoved, otherID)
		wantEvent(t, rep, "docker tag: "+tag+" now names image "+reference.Short(otherID))
		if len(rep.Restored) != 1 || rep.Restored[0].Action != daemon.RestoreRetagged || !strings.HasPrefix(rep.Restored[0].DisplacedAction, "kept: still tagged") {
			t.Errorf("Restored = %+v, want re-tagged, the other image kept (still tagged %s)", rep.Restored, otherTag)
		}
		clean(t)
	})
	t.Run("rmi-of-the-tag-alone", func(t *testing.T) {
		own, err := w.AddTag(ctx, im.Name(), "keep")
		if err != nil {
			t.Fatalf("AddTag() = %v", err)
		}
		if _, err := f.c.ImageRemove(ctx, tag, false); err != nil {
			t.Fatal(err)
		}
		rep := check(t, true)
		finding(t, rep, daemon.TagRemoved, "")
		if len(rep.Restored) != 1 || rep.Restored[0].Action != daemon.RestoreRetagged {
			t.Errorf("Restored = %+v, want re-tagged", rep.Restored)
		}
		clean(t)
		if got, err := w.RemoveTag(ctx, own); err != nil || got != "untagged" {
			t.Errorf("RemoveTag(%q) = %q, %v, want untagged", own, got, err)
		}
		clean(t)
	})
	t.Run("rmi-of-the-image", func(t *testing.T) {
		if _, err := f.c.ImageRemove(ctx, tag, true); err != nil {
			t.Fatal(err)
		}
		rep := check(t, true)
		finding(t, rep, daemon.ImageRemoved, "")
		wantEvent(t, rep, "deleted")
		if len(rep.Restored) != 1 || rep.Restored[0].Action != daemon.RestoreLoaded || rep.Restored[0].Error != "" {
			t.Errorf("Restored = %+v, want loaded from the layout", rep.Restored)
		}
		clean(t)
	})
	t.Run("layout-blob-flipped-and-put-back", func(t *testing.T) {
		layer := f.platformImages(im)["linux/amd64"].config
		path := filepath.Join(f.l.Root(), layout.RelBlobPath(layer))
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		changed := slices.Clone(orig)
		changed[len(changed)/2] ^= 1
		if err := os.WriteFile(path, changed, 0o644); err != nil {
			t.Fatal(err)
		}
		rep := check(t, true)
		if rep.OK || len(rep.Layout) != 1 || rep.Layout[0].Path != layout.RelBlobPath(layer) || rep.Layout[0].Restored {
			t.Fatalf("Check() = %+v, want the changed %s", rep, layout.RelBlobPath(layer))
		}
		if len(rep.Restored) != 1 || rep.Restored[0].Action != daemon.RestoreNone || !strings.Contains(rep.Restored[0].Error, "git checkout -- "+layout.RelBlobPath(layer)) {
			t.Errorf("Restored = %+v, want not restored, with the git command", rep.Restored)
		}
		if rep := check(t, true); !rep.OK || len(rep.Layout) != 0 {
			t.Errorf("Check() again = %+v, want the change reported once", rep)
		}
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		if rep := check(t, true); !rep.OK || len(rep.Layout) != 1 || !rep.Layout[0].Restored {
			t.Errorf("Check() after the file was put back = %+v, want it reported restored", rep)
		}
	})
	t.Run("commit-onto-a-tag-of-its-own", func(t *testing.T) {
		own, err := w.AddTag(ctx, im.Name(), "Test/own tag")
		if err != nil {
			t.Fatalf("AddTag() = %v", err)
		}
		if want := im.Ref.WithoutDigest().Familiar() + "-Test-own-tag"; own != want {
			t.Errorf("AddTag() = %q, want %q", own, want)
		}
		committed := enginetest.Commit(t, own, enginetest.CommitOptions{Tag: own})
		if rep := check(t, true); !rep.OK {
			t.Errorf("Check() after a commit onto the test's own tag = %+v, want clean", rep)
		}
		got, err := w.RemoveTag(ctx, own)
		if err != nil || got != "removed "+reference.Short(committed) {
			t.Errorf("RemoveTag(%q) = %q, %v, want removed %s", own, got, err, reference.Short(committed))
		}
		if _, ok := inspect(t, f.c, own); ok {
			t.Errorf("%s is still in the engine after RemoveTag", own)
		}
		clean(t)
	})
}

// BenchmarkWatcherCheck is the per-test check's cost on the engine under
// test with 10 loaded images (2 layers each): one Check with nothing
// changed, the common case after a test. It reports how many checks were
// quiet (no image list: Watcher.Quiet).
func BenchmarkWatcherCheck(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	for i := range 10 {
		f.add(repoName(b, fmt.Sprintf("img%d", i)), "1.0", registrytest.Index(b, []string{"linux/amd64"}, 2, 64<<10, randomSeed(b), registrytest.OCI), "linux/amd64")
	}
	if _, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{}); err != nil {
		b.Fatalf("Load() = %v", err)
	}
	w, err := daemon.NewWatcher(ctx, f.c, f.l, f.cfg.Images, daemon.WatchOptions{})
	if err != nil {
		b.Fatalf("NewWatcher() = %v", err)
	}
	b.ResetTimer()
	quiet := 0
	for b.Loop() {
		rep, err := w.Check(ctx, daemon.CheckTestOptions{Restore: true})
		if err != nil || !rep.OK {
			b.Fatalf("Check() = %+v, %v; want clean", rep, err)
		}
		if rep.Quiet {
			quiet++
		}
	}
	// The share of checks that the engine's event log or store file
	// showed quiet (they list no images), and how.
	b.ReportMetric(float64(quiet)/float64(b.N), "quiet/op")
	b.Logf("quiet by %s", w.Quiet())
}

// listCounter is the engine's client, counting image lists.
type listCounter struct {
	*daemon.APIClient
	lists int
}

func (c *listCounter) ImageList(ctx context.Context) ([]image.Summary, error) {
	c.lists++
	return c.APIClient.ImageList(ctx)
}

// TestWatcherQuiet checks that the per-test check uses the cheap proof the
// engine allows (dockerd on this machine: its event log; podman: its image
// store's file, readable by root here), that a quiet check lists no
// images, and that each change TestWatcher makes is seen through it (there
// the changes are reported, so no check was wrongly quiet).
func TestWatcherQuiet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	im := f.add(repoName(t, "img"), "1.0", registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, randomSeed(t), registrytest.OCI), "linux/amd64")
	if _, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{}); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	c := &listCounter{APIClient: f.c}
	w, err := daemon.NewWatcher(ctx, c, f.l, f.cfg.Images, daemon.WatchOptions{})
	if err != nil {
		t.Fatalf("NewWatcher() = %v", err)
	}
	want := daemon.QuietByEvents
	if f.eng.Product == "podman" {
		want = daemon.QuietByStoreFile
		if os.Geteuid() != 0 {
			want = daemon.QuietByNone // rootful podman's store is root's
		}
	}
	if got := w.Quiet(); got != want {
		t.Fatalf("Quiet() = %q on %s, want %q", got, f.eng, want)
	}
	// The engine is shared with the package's other tests (and other
	// packages' runs), whose changes make a check list the images: of 50
	// checks in a row at least one must find the engine quiet, and no
	// quiet check may list.
	quiet := 0
	for range 50 {
		before := c.lists
		rep, err := w.Check(ctx, daemon.CheckTestOptions{Restore: true})
		if err != nil || !rep.OK {
			t.Fatalf("Check() = %+v, %v; want clean", rep, err)
		}
		if rep.Quiet {
			quiet++
			if c.lists != before {
				t.Fatalf("a quiet Check() listed the images %d times", c.lists-before)
			}
		}
	}
	if want != daemon.QuietByNone && quiet == 0 {
		t.Fatalf("none of 50 checks was quiet (%s, %s)", w.Quiet(), f.eng)
	}
	t.Logf("%s: %d of 50 checks quiet by %s", f.eng, quiet, w.Quiet())
	// docker rmi right before the check: never quiet.
	tag := tagOf(im)
	for i := range 3 {
		if _, err := f.c.ImageRemove(ctx, tag, false); err != nil {
			t.Fatal(err)
		}
		rep, err := w.Check(ctx, daemon.CheckTestOptions{Restore: true})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Quiet || rep.OK || len(rep.Tags) != 1 || len(rep.Restored) != 1 {
			t.Fatalf("round %d: Check() after docker rmi of the tag = %+v, want it found and re-tagged", i, rep)
		}
	}
}

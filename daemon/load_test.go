package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/system"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/progress"
)

// TestLoadIdentityRules runs load, skip, verify and unload against a fake
// engine with each image store, so that the containerd store's rule (the
// ID is the manifest digest) is covered; the real-engine tests cover the
// classic store.
func TestLoadIdentityRules(t *testing.T) {
	for _, tc := range []struct {
		store string
		match string
	}{
		{StoreClassic, MatchConfig},
		{StoreContainerd, MatchManifest},
	} {
		t.Run(tc.store, func(t *testing.T) {
			ctx := context.Background()
			eng := newFakeEngine(tc.store)
			l, im := writeImage(t, "registry.test/team/app:1.0", registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 2, 300, 7, registrytest.OCI), "linux/amd64", "linux/arm64")
			images := []config.Image{im}

			rep, err := Load(ctx, eng, l, images, LoadOptions{})
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			got := rep.Images[0]
			if got.Action != ActionLoaded || got.Match != tc.match || got.Tag != "registry.test/team/app:1.0" || got.Platform != "linux/amd64" {
				t.Fatalf("Load() = %+v, want loaded linux/amd64 matched by %s", got, tc.match)
			}
			if rep.Engine.Store != tc.store {
				t.Errorf("Load().Engine.Store = %q, want %q", rep.Engine.Store, tc.store)
			}
			rep, err = Load(ctx, eng, l, images, LoadOptions{})
			if err != nil || rep.Images[0].Action != ActionSkipped || eng.loads != 1 {
				t.Errorf("second Load() = %+v, %v after %d loads, want skipped with no second load", rep.Images, err, eng.loads)
			}
			vr, err := Verify(ctx, eng, l, images, VerifyOptions{})
			if err != nil || !vr.OK() || vr.Images[0].Match != tc.match {
				t.Errorf("Verify() = %+v, %v, want OK by %s", vr, err, tc.match)
			}

			// Another image under the tag is found, and unload keeps it.
			otherL, other := writeImage(t, "registry.test/team/other:1", registrytest.Image(t, "linux/amd64", 1, 100, 8, registrytest.OCI), "linux/amd64")
			if _, err := Load(ctx, eng, otherL, []config.Image{other}, LoadOptions{}); err != nil {
				t.Fatal(err)
			}
			otherID := eng.tags["registry.test/team/other:1"]
			if err := eng.ImageTag(ctx, otherID, got.Tag); err != nil {
				t.Fatal(err)
			}
			vr, err = Verify(ctx, eng, l, images, VerifyOptions{})
			if err != nil || len(vr.Findings) != 1 || vr.Findings[0].Kind != KindTagMoved || vr.Findings[0].Actual != otherID {
				t.Errorf("Verify() after a re-tag = %+v, %v, want tag-moved to %s", vr, err, otherID)
			}
			ur, err := Unload(ctx, eng, l, images, UnloadOptions{})
			if err != nil || ur.Images[0].Action != UnloadKept {
				t.Errorf("Unload() of a re-tagged image = %+v, %v, want kept", ur.Images, err)
			}
			if eng.tags[got.Tag] != otherID {
				t.Errorf("after Unload, %s points to %q, want %s untouched", got.Tag, eng.tags[got.Tag], otherID)
			}

			// Load puts it back: the vendored image is still in the engine.
			rep, err = Load(ctx, eng, l, images, LoadOptions{})
			if err != nil || rep.Images[0].Action != ActionTagged || rep.Images[0].Replaced != otherID || eng.loads != 2 {
				t.Errorf("Load() after a re-tag = %+v, %v, want tagged, replacing %s, without loading", rep.Images, err, otherID)
			}
			ur, err = Unload(ctx, eng, l, images, UnloadOptions{})
			if err != nil || ur.Images[0].Action != UnloadRemoved {
				t.Errorf("Unload() = %+v, %v, want removed", ur.Images, err)
			}
			if _, ok := eng.tags["registry.test/team/other:1"]; !ok {
				t.Errorf("Unload() removed the unrelated tag")
			}
		})
	}
}

func TestLoadPlatformChoice(t *testing.T) {
	idx := registrytest.Index(t, []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}, 1, 100, 3, registrytest.Docker)
	l, im := writeImage(t, "registry.test/multi:1", idx, "linux/amd64", "linux/arm64", "linux/arm/v7")
	for _, tc := range []struct {
		engineArch string
		override   string
		want       string
		err        error
	}{
		{engineArch: "x86_64", want: "linux/amd64"},
		{engineArch: "aarch64", want: "linux/arm64"},
		{engineArch: "armv7l", want: "linux/arm/v7"},
		{engineArch: "x86_64", override: "linux/arm64/v8", want: "linux/arm64"},
		{engineArch: "s390x", err: errs.ErrPlatformMissing},
		{engineArch: "armv6l", err: errs.ErrPlatformMissing},
	} {
		t.Run(tc.engineArch+"-"+strings.ReplaceAll(tc.override, "/", "-"), func(t *testing.T) {
			eng := newFakeEngine(StoreClassic)
			eng.arch = tc.engineArch
			var opts LoadOptions
			if tc.override != "" {
				p, err := platform.Parse(tc.override)
				if err != nil {
					t.Fatal(err)
				}
				opts.Platform = &p
			}
			rep, err := Load(context.Background(), eng, l, []config.Image{im}, opts)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Load() on %s = %v, want %v", tc.engineArch, err, tc.err)
			}
			if tc.err != nil {
				if !strings.Contains(err.Error(), "linux/amd64, linux/arm64, linux/arm/v7") {
					t.Errorf("Load() on %s = %v, want the vendored platforms listed", tc.engineArch, err)
				}
				return
			}
			if got := rep.Images[0].Platform; got != tc.want {
				t.Errorf("Load() on %s chose %s, want %s", tc.engineArch, got, tc.want)
			}
			if got := eng.images[rep.Images[0].ImageID].Architecture; !strings.Contains(tc.want, got) {
				t.Errorf("Load() on %s loaded architecture %s, want %s", tc.engineArch, got, tc.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	img := registrytest.Image(t, "linux/amd64", 2, 200, 11, registrytest.OCI)
	t.Run("no layout", func(t *testing.T) {
		l, im := writeImage(t, "registry.test/x:1", img, "linux/amd64")
		if err := os.RemoveAll(l.Root()); err != nil {
			t.Fatal(err)
		}
		_, err := Load(ctx, newFakeEngine(StoreClassic), l, []config.Image{im}, LoadOptions{})
		if !errors.Is(err, errs.ErrInvalidLayout) {
			t.Errorf("Load() without a layout = %v, want errs.ErrInvalidLayout", err)
		}
	})
	t.Run("not in index.json", func(t *testing.T) {
		l, _ := writeImage(t, "registry.test/x:1", img, "linux/amd64")
		_, other := writeImage(t, "registry.test/y:1", img, "linux/amd64")
		_, err := Load(ctx, newFakeEngine(StoreClassic), l, []config.Image{other}, LoadOptions{})
		if !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), "vendorimg sync") {
			t.Errorf("Load() of an image the layout lacks = %v, want errs.ErrNotFound saying to sync", err)
		}
	})
	t.Run("missing layer", func(t *testing.T) {
		eng := newFakeEngine(StoreClassic)
		l, im := writeImage(t, "registry.test/x:1", img, "linux/amd64")
		layers, _ := img.Layers()
		d, _ := layers[1].Digest()
		path, _ := l.BlobPath(digest.Digest(d.String()))
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		_, err := Load(ctx, eng, l, []config.Image{im}, LoadOptions{})
		if !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), d.Hex) || eng.loads != 0 {
			t.Errorf("Load() with a missing layer = %v after %d loads, want errs.ErrNotFound naming it, before any load", err, eng.loads)
		}
	})
	t.Run("one failure does not stop the others", func(t *testing.T) {
		eng := newFakeEngine(StoreClassic)
		l, im := writeImage(t, "registry.test/x:1", img, "linux/amd64")
		bad := im
		bad.Ref.Repository = "missing"
		rep, err := Load(ctx, eng, l, []config.Image{bad, im}, LoadOptions{})
		if err == nil || rep.Images[0].Error == "" || rep.Images[1].Action != ActionLoaded {
			t.Errorf("Load(bad, good) = %+v, %v, want the bad one failed and the good one loaded", rep.Images, err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		l, im := writeImage(t, "registry.test/x:1", img, "linux/amd64")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := Load(cctx, newFakeEngine(StoreClassic), l, []config.Image{im}, LoadOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Load() with a cancelled context = %v, want context.Canceled", err)
		}
	})
	t.Run("nil client", func(t *testing.T) {
		l, im := writeImage(t, "registry.test/x:1", img, "linux/amd64")
		if _, err := Load(ctx, nil, l, []config.Image{im}, LoadOptions{}); err == nil {
			t.Errorf("Load(nil client) = nil, want an error")
		}
	})
}

func TestLoadProgress(t *testing.T) {
	l, im := writeImage(t, "registry.test/x:1", registrytest.Image(t, "linux/amd64", 3, 100_000, 5, registrytest.OCI), "linux/amd64")
	var last progress.Event
	var kinds []progress.Kind
	calls := 0
	rep, err := Load(context.Background(), newFakeEngine(StoreClassic), l, []config.Image{im}, LoadOptions{Progress: func(e progress.Event) {
		if e.Kind == progress.Advance {
			last = e
			calls++
		}
		if len(kinds) == 0 || kinds[len(kinds)-1] != e.Kind {
			kinds = append(kinds, e.Kind)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || last.Done != last.Size || last.Size != rep.Images[0].Bytes || last.Image != im.Name() {
		t.Errorf("last progress = %+v after %d calls, want %d of %d bytes for %s", last, calls, rep.Images[0].Bytes, rep.Images[0].Bytes, im.Name())
	}
	if want := []progress.Kind{progress.Start, progress.Advance, progress.Unpacking, progress.Done}; !slices.Equal(kinds, want) {
		t.Errorf("progress events = %v, want %v", kinds, want)
	}
}

func TestReadLoadResponse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"loaded", `{"stream":"Loaded image: x:1\n"}`, []string{"Loaded image: x:1"}, ""},
		{"id only", `{"stream":"Loaded image ID: sha256:abc\n"}` + "\n" + `{"status":"done"}`, []string{"Loaded image ID: sha256:abc", "done"}, ""},
		{"error detail", `{"stream":"a"}{"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}`, []string{"a"}, "docker: unexpected EOF"},
		{"error only", `{"error":"boom"}`, nil, "docker: boom"},
		{"empty", ``, nil, ""},
		{"not json", `<html>`, nil, "reading docker's answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readLoadResponse(strings.NewReader(tc.in))
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("readLoadResponse(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("readLoadResponse(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzReadLoadResponse(f *testing.F) {
	f.Add(`{"stream":"Loaded image: x:1\n"}`)
	f.Add(`{"errorDetail":{"message":"m"},"error":"m"}`)
	f.Add(`{"stream":1}`)
	f.Add(`{}{}{"status":"x"}`)
	f.Fuzz(func(t *testing.T, in string) {
		lines, err := readLoadResponse(strings.NewReader(in))
		for _, l := range lines {
			if l == "" || strings.TrimSpace(l) != l {
				t.Errorf("readLoadResponse(%q) returned line %q, want trimmed and not empty", in, l)
			}
		}
		if err != nil && err.Error() == "" {
			t.Errorf("readLoadResponse(%q) returned an empty error", in)
		}
	})
}

func TestVerifyFindings(t *testing.T) {
	ctx := context.Background()
	l, im := writeImage(t, "registry.test/app:2", registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 2, 300, 17, registrytest.OCI), "linux/amd64", "linux/arm64")
	images := []config.Image{im}
	for _, tc := range []struct {
		name   string
		change func(eng *fakeEngine, id string)
		want   Kind
	}{
		{"missing", func(eng *fakeEngine, id string) { delete(eng.tags, "registry.test/app:2") }, KindTagMissing},
		{"moved", func(eng *fakeEngine, id string) {
			other := eng.images[id]
			other.ID = "sha256:other"
			eng.images[other.ID] = other
			eng.tags["registry.test/app:2"] = "sha256:other"
		}, KindTagMoved},
		{"other layers", func(eng *fakeEngine, id string) {
			im := eng.images[id]
			im.RootFS.Layers = im.RootFS.Layers[:1]
			eng.images[id] = im
		}, KindLayers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng := newFakeEngine(StoreClassic)
			rep, err := Load(ctx, eng, l, images, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tc.change(eng, rep.Images[0].ImageID)
			vr, err := Verify(ctx, eng, l, images, VerifyOptions{})
			if err != nil {
				t.Fatalf("Verify() = %v", err)
			}
			if vr.OK() || len(vr.Findings) != 1 || vr.Findings[0].Kind != tc.want || vr.Findings[0].Tag != "registry.test/app:2" || !strings.Contains(vr.Findings[0].String(), "registry.test/app:2") {
				t.Errorf("Verify() = %+v, want one %s finding naming registry.test/app:2", vr.Findings, tc.want)
			}
			if vr.Images[0].OK {
				t.Errorf("Verify().Images[0] = %+v, want not OK", vr.Images[0])
			}
		})
	}
	t.Run("layout", func(t *testing.T) {
		eng := newFakeEngine(StoreClassic)
		_, other := writeImage(t, "registry.test/other:1", registrytest.Image(t, "linux/amd64", 1, 100, 18, registrytest.OCI), "linux/amd64")
		vr, err := Verify(ctx, eng, l, []config.Image{im, other}, VerifyOptions{})
		if err != nil {
			t.Fatalf("Verify() = %v", err)
		}
		kinds := []Kind{}
		for _, f := range vr.Findings {
			kinds = append(kinds, f.Kind)
		}
		if len(kinds) != 2 || kinds[0] != KindTagMissing || kinds[1] != KindLayout {
			t.Errorf("Verify() of a loaded-nowhere image and an image the layout lacks = %v, want [tag-missing layout]", kinds)
		}
	})
}

func TestLoadWaitsForTheLayoutLock(t *testing.T) {
	l, im := writeImage(t, "registry.test/x:1", registrytest.Image(t, "linux/amd64", 1, 100, 19, registrytest.OCI), "linux/amd64")
	lock, err := l.Lock(context.Background(), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	waited := false
	eng := newFakeEngine(StoreClassic)
	_, err = Load(ctx, eng, l, []config.Image{im}, LoadOptions{Progress: func(e progress.Event) {
		if e.Kind == progress.Waiting {
			waited = true
			cancel()
		}
	}})
	if !waited || !errors.Is(err, context.Canceled) || eng.loads != 0 {
		t.Errorf("Load() while a sync holds the layout = %v (waited %v, %d loads), want it to wait and load nothing", err, waited, eng.loads)
	}
	lock.Unlock()
	if _, err := Load(context.Background(), eng, l, []config.Image{im}, LoadOptions{}); err != nil || eng.loads != 1 {
		t.Errorf("Load() once the lock is free = %v after %d loads, want one load", err, eng.loads)
	}
}

func TestLoadTagsWhenTheEngineIgnoresNames(t *testing.T) {
	for _, store := range []string{StoreClassic, StoreContainerd} {
		t.Run(store, func(t *testing.T) {
			eng := newFakeEngine(store)
			eng.ignoreNames = true
			l, im := writeImage(t, "registry.test/x:1", registrytest.Image(t, "linux/amd64", 1, 100, 23, registrytest.Docker), "linux/amd64")
			rep, err := Load(context.Background(), eng, l, []config.Image{im}, LoadOptions{})
			if err != nil || rep.Images[0].Action != ActionLoaded || eng.tags["registry.test/x:1"] != rep.Images[0].ImageID {
				t.Errorf("Load() into an engine that ignores names = %+v, %v (tags %v), want loaded and tagged", rep.Images, err, eng.tags)
			}
		})
	}
}

func TestUnloadReportsDockerForms(t *testing.T) {
	eng := newFakeEngine(StoreClassic)
	eng.podman = true
	l, im := writeImage(t, "docker.io/library/x:1", registrytest.Image(t, "linux/amd64", 1, 100, 29, registrytest.OCI), "linux/amd64")
	ctx := context.Background()
	rep, err := Load(ctx, eng, l, []config.Image{im}, LoadOptions{})
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	id := rep.Images[0].ImageID
	ur, err := Unload(ctx, eng, l, []config.Image{im}, UnloadOptions{})
	if err != nil {
		t.Fatalf("Unload() = %v", err)
	}
	if u := ur.Images[0]; u.Action != UnloadRemoved || len(u.Deleted) != 1 || u.Deleted[0] != id || len(u.Untagged) != 1 || u.Untagged[0] != "x:1" {
		t.Errorf("Unload() from an engine that reports names in full and bare IDs = %+v, want removed, x:1 untagged and %s deleted", u, id)
	}
}

// dyingEngine reads part of a load and fails it as a killed engine's
// load fails; when dead is set, its Info from then on cannot connect, as a
// real client's to a socket nobody listens on (which it is).
type dyingEngine struct {
	*fakeEngine
	after int64
	dead  *APIClient
	died  bool
}

func (d *dyingEngine) ImageLoad(ctx context.Context, input io.Reader) (io.ReadCloser, error) {
	if _, err := io.CopyN(io.Discard, input, d.after); err != nil {
		return nil, err
	}
	d.died = true
	return nil, errors.New("write unix ->/run/docker.sock: write: broken pipe")
}

func (d *dyingEngine) Info(ctx context.Context) (system.Info, error) {
	if d.died && d.dead != nil {
		return d.dead.Info(ctx)
	}
	return d.fakeEngine.Info(ctx)
}

// TestLoadEngineDies: an engine that stops answering mid-load gives an
// error that wraps errs.ErrNoEngine and says how far the load got; one
// that fails but still answers keeps its own error.
func TestLoadEngineDies(t *testing.T) {
	l, im := writeImage(t, "registry.test/team/app:1.0", registrytest.Image(t, "linux/amd64", 2, 200<<10, 9, registrytest.OCI), "linux/amd64")
	dead, err := newAPIClient("unix://"+filepath.Join(t.TempDir(), "nobody.sock"), "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	for _, tc := range []struct {
		name string
		dead *APIClient
		want string
		gone bool
	}{
		{"gone", dead, "into docker: the engine stopped answering after ", true},
		{"answers", nil, "into docker: write unix ->/run/docker.sock: write: broken pipe", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng := &dyingEngine{fakeEngine: newFakeEngine(StoreClassic), after: 100 << 10, dead: tc.dead}
			rep, err := Load(context.Background(), eng, l, []config.Image{im}, LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, errs.ErrNoEngine) != tc.gone {
				t.Fatalf("Load() = %v, want an error saying %q (wrapping ErrNoEngine: %v)", err, tc.want, tc.gone)
			}
			if got := rep.Images[0]; tc.gone && !strings.Contains(err.Error(), fmt.Sprintf(" of %d bytes", got.Bytes)) {
				t.Errorf("Load() = %v, want it to say of how many bytes (%d)", err, got.Bytes)
			}
			if len(eng.tags) != 0 {
				t.Errorf("Load() left tags %v", eng.tags)
			}
		})
	}
}

package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
)

// TestVerifyDeep runs Verify with Deep against the fake engine's exports
// of each store's archive form, and with the layers changed in its
// storage: a docker-archive checked against the diff_ids (refused by a
// classic store that checks its own layers, as docker does, or exported as
// changed), an OCI layout checked blob by blob, with or without
// manifest.json.
func TestVerifyDeep(t *testing.T) {
	type engineKind struct {
		name  string
		setup func() *fakeEngine
	}
	engines := []engineKind{
		{"classic", func() *fakeEngine { return newFakeEngine(StoreClassic) }},
		{"classic unverified", func() *fakeEngine {
			e := newFakeEngine(StoreClassic)
			e.unverifiedSave = true
			return e
		}},
		{"classic file checksums", func() *fakeEngine {
			e := newFakeEngine(StoreClassic)
			e.fileChecksums = true
			return e
		}},
		{"containerd", func() *fakeEngine { return newFakeEngine(StoreContainerd) }},
		{"containerd OCI only unverified", func() *fakeEngine {
			e := newFakeEngine(StoreContainerd)
			e.noDockerManifest = true
			e.unverifiedSave = true
			return e
		}},
	}
	for _, ek := range engines {
		t.Run(ek.name, func(t *testing.T) {
			ctx := context.Background()
			newLoaded := func(t *testing.T) (*fakeEngine, *vendoredFixture) {
				eng := ek.setup()
				l, im := writeImage(t, "registry.test/deep/app:1", registrytest.Image(t, "linux/amd64", 3, 2000, 11, registrytest.OCI), "linux/amd64")
				if _, err := Load(ctx, eng, l, []config.Image{im}, LoadOptions{}); err != nil {
					t.Fatalf("Load() = %v", err)
				}
				return eng, &vendoredFixture{eng: eng, l: l, im: im, id: eng.tags["registry.test/deep/app:1"]}
			}

			t.Run("unchanged", func(t *testing.T) {
				eng, fx := newLoaded(t)
				rep, err := Verify(ctx, eng, fx.l, []config.Image{fx.im}, VerifyOptions{Deep: true})
				if err != nil || !rep.OK() {
					t.Fatalf("Verify(Deep) = %+v, %v; want OK", rep, err)
				}
				if !rep.Deep || rep.Bytes <= 0 || rep.Images[0].Exported != rep.Bytes || !rep.Images[0].OK {
					t.Errorf("Verify(Deep) = deep %v, %d bytes, image %+v; want deep, the bytes rehashed counted", rep.Deep, rep.Bytes, rep.Images[0])
				}
				shallow, err := Verify(ctx, eng, fx.l, []config.Image{fx.im}, VerifyOptions{})
				if err != nil || shallow.Deep || shallow.Bytes != 0 || shallow.Images[0].Exported != 0 {
					t.Errorf("Verify() = %+v, %v; want no export", shallow, err)
				}
			})

			t.Run("layer changed", func(t *testing.T) {
				eng, fx := newLoaded(t)
				eng.changeLayer(fx.id, 1)
				shallow, err := Verify(ctx, eng, fx.l, []config.Image{fx.im}, VerifyOptions{})
				if err != nil || !shallow.OK() {
					t.Errorf("Verify() without Deep = %+v, %v; want OK (IDs do not change: the blind spot Deep covers)", shallow, err)
				}
				rep, err := Verify(ctx, eng, fx.l, []config.Image{fx.im}, VerifyOptions{Deep: true})
				if err != nil {
					t.Fatal(err)
				}
				if len(rep.Findings) != 1 || rep.Images[0].OK {
					t.Fatalf("Verify(Deep) = %+v; want one finding, image not OK", rep)
				}
				f := rep.Findings[0]
				diffID := fx.diffID(1)
				if f.Kind != KindContent || f.Layer == nil || *f.Layer != 1 || f.Expected != diffID || f.Image != fx.im.Name() || f.Tag != "registry.test/deep/app:1" || !strings.Contains(f.Message, "layer 1 ") || !strings.Contains(f.Message, diffID) {
					t.Errorf("Verify(Deep) finding = %+v (layer %v); want content, layer 1, expected %s", f, f.Layer, diffID)
				}
			})

			if !strings.HasPrefix(ek.name, "containerd") {
				return
			}
			t.Run("blob missing", func(t *testing.T) {
				eng, fx := newLoaded(t)
				eng.dropLayer(fx.id, 2)
				rep, err := Verify(ctx, eng, fx.l, []config.Image{fx.im}, VerifyOptions{Deep: true})
				if err != nil || len(rep.Findings) != 1 || rep.Findings[0].Kind != KindExport || !strings.Contains(rep.Findings[0].Message, "lacks layer 2") {
					t.Errorf("Verify(Deep) = %+v, %v; want one export finding for layer 2", rep, err)
				}
			})
		})
	}
}

// vendoredFixture is an image loaded into the fake engine.
type vendoredFixture struct {
	eng *fakeEngine
	l   *layout.Layout
	im  config.Image
	id  string
}

// diffID is layer i's diff_id, as the engine lists it.
func (fx *vendoredFixture) diffID(i int) string {
	return fx.eng.images[fx.id].RootFS.Layers[i]
}

func TestReadSavedFollowsLinks(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "a/layer.tar", Size: 3, Mode: 0o644})
	tw.Write([]byte("abc"))
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "b/layer.tar", Linkname: "../a/layer.tar"})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "loop", Linkname: "loop"})
	tw.Close()
	a, err := readSaved(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := a.file("b/layer.tar"); !ok || f.size != 3 || a.bytes != 3 {
		t.Errorf("file(b/layer.tar) = %+v, %v (%d bytes read); want a/layer.tar's 3 bytes", f, ok, a.bytes)
	}
	if _, ok := a.file("loop"); ok {
		t.Errorf("file(loop) found a file in a symlink loop")
	}
}

package daemon_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/reference"
)

// sharedImages vendors three images: a and b, each a base of two layers
// with a layer of its own on top, and c, the same image as a under another
// name. It returns them in that order, with a's and b's own layers.
func sharedImages(t *testing.T, f *fixture) (a, b, c config.Image, ownA, ownB digest.Digest) {
	t.Helper()
	base := registrytest.Image(t, "linux/amd64", 2, 300_000, randomSeed(t), registrytest.OCI)
	withOwn := func() (config.Image, digest.Digest) {
		l, err := random.Layer(200_000, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(base, l)
		if err != nil {
			t.Fatal(err)
		}
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return f.add(repoName(t, "img"), "1", img, "linux/amd64"), digest.Digest(d.String())
	}
	a, ownA = withOwn()
	b, ownB = withOwn()
	c = a
	ref, err := reference.Parse(f.reg.Host + "/" + repoName(t, "same") + ":1")
	if err != nil {
		t.Fatal(err)
	}
	c.Ref = ref
	if err := f.cfg.Set(c); err != nil {
		t.Fatal(err)
	}
	if _, err := vendorimg.Sync(context.Background(), f.cfg, vendorimg.SyncOptions{}); err != nil {
		t.Fatalf("Sync() = %v", err)
	}
	c = f.cfg.Images[f.cfg.Lookup(c.Pinned())]
	cleanupImage(t, f.c, tagOf(c))
	return a, b, c, ownA, ownB
}

// TestLoadSendsSharedLayersOnce: images loaded together go to the engine
// in one archive, each blob once: the layers b shares with a are not sent
// again, and c, the same image as a, is tagged. Each image is then checked
// in the engine as a lone load checks it.
func TestLoadSendsSharedLayersOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b, c, _, _ := sharedImages(t, f)
	images := []config.Image{a, b, c}
	rep, err := daemon.Load(context.Background(), f.c, f.l, images, daemon.LoadOptions{})
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	pa, pb := f.platformImages(a)["linux/amd64"], f.platformImages(b)["linux/amd64"]
	want := []struct {
		action string
		id     string
	}{{daemon.ActionLoaded, f.id(pa)}, {daemon.ActionLoaded, f.id(pb)}, {daemon.ActionTagged, f.id(pa)}}
	for i, w := range want {
		got := rep.Images[i]
		if got.Action != w.action || got.ImageID != w.id || got.Match != f.rule() {
			t.Errorf("Load() image %d = %+v, want %s as %s by %s", i, got, w.action, w.id, f.rule())
		}
		if ins, ok := inspect(t, f.c, tagOf(images[i])); !ok || normalID(ins.ID) != w.id {
			t.Errorf("ImageInspect(%q) = %s, %v, want %s", tagOf(images[i]), ins.ID, ok, w.id)
		}
	}
	// a carried the shared base; b only its own layer, config and manifest.
	own := blobSize(t, f.l, topLayer(t, f, b)) + blobSize(t, f.l, pb.config) + blobSize(t, f.l, pb.manifest)
	if got := rep.Images[0]; got.Streamed != got.Bytes {
		t.Errorf("Load() streamed %d bytes for %s, want all its %d", got.Streamed, got.Ref, got.Bytes)
	}
	if got := rep.Images[1]; got.Streamed != own || got.Bytes <= own {
		t.Errorf("Load() streamed %d of %s's %d bytes, want only those not shared with %s: %d", got.Streamed, got.Ref, got.Bytes, a.Name(), own)
	}
	if got := rep.Images[2]; got.Streamed != 0 {
		t.Errorf("Load() streamed %d bytes for %s, the same image as %s, want 0", got.Streamed, got.Ref, a.Name())
	}
	vr, err := daemon.Verify(context.Background(), f.c, f.l, images, daemon.VerifyOptions{})
	if err != nil || !vr.OK() {
		t.Errorf("Verify() after loading them together = %+v, %v, want OK", vr.Findings, err)
	}
}

// TestLoadTogetherOneBadImage: a blob that does not verify stops the
// shared archive, and each image is then loaded alone: only the images
// with that blob fail, naming it, and the engine holds none of them.
func TestLoadTogetherOneBadImage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// bad picks the blob to change; failing, the images that fail.
		bad     func(t *testing.T, f *fixture, a, b config.Image, ownA, ownB digest.Digest) digest.Digest
		failing []bool
	}{
		{"a layer of b alone", func(t *testing.T, f *fixture, a, b config.Image, ownA, ownB digest.Digest) digest.Digest {
			return ownB
		}, []bool{false, true, false}},
		{"a shared layer", func(t *testing.T, f *fixture, a, b config.Image, ownA, ownB digest.Digest) digest.Digest {
			return vendoredLayers(t, f, a)[0]
		}, []bool{true, true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			a, b, c, ownA, ownB := sharedImages(t, f)
			images := []config.Image{a, b, c}
			bad := tc.bad(t, f, a, b, ownA, ownB)
			changeBlob(t, f.l, bad, func(raw []byte) []byte { raw[len(raw)/2] ^= 0xff; return raw })
			rep, err := daemon.Load(context.Background(), f.c, f.l, images, daemon.LoadOptions{})
			if !errors.Is(err, errs.ErrDigestMismatch) || !strings.Contains(err.Error(), layout.RelBlobPath(bad)) {
				t.Fatalf("Load() = %v, want a digest mismatch naming %s", err, layout.RelBlobPath(bad))
			}
			for i, failing := range tc.failing {
				got := rep.Images[i]
				_, inEngine := inspect(t, f.c, tagOf(images[i]))
				switch {
				case failing && (got.Error == "" || got.Action != "" || inEngine):
					t.Errorf("Load() image %d = %+v (in the engine: %v), want it failed and not in the engine", i, got, inEngine)
				case !failing && (got.Error != "" || got.Action == "" || !inEngine):
					t.Errorf("Load() image %d = %+v (in the engine: %v), want it loaded or tagged", i, got, inEngine)
				case failing && !strings.Contains(got.Error, layout.RelBlobPath(bad)):
					t.Errorf("Load() image %d failed with %q, want the changed blob named", i, got.Error)
				}
			}
		})
	}
}

// bLayer is the top layer of im's linux/amd64 image.
func topLayer(t *testing.T, f *fixture, im config.Image) digest.Digest {
	ls := vendoredLayers(t, f, im)
	return ls[len(ls)-1]
}

// vendoredLayers are the layers of im's linux/amd64 image, as vendored.
func vendoredLayers(t *testing.T, f *fixture, im config.Image) []digest.Digest {
	t.Helper()
	inv, err := f.l.Inventory(context.Background(), ocispec(im), layout.WalkOptions{Platforms: im.Platforms})
	if err != nil {
		t.Fatal(err)
	}
	var out []digest.Digest
	for _, d := range inv.Images[0].Layers {
		out = append(out, d.Digest)
	}
	return out
}

func blobSize(t *testing.T, l *layout.Layout, d digest.Digest) int64 {
	t.Helper()
	path, err := l.BlobPath(d)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

package daemon

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/progress"
)

// twoSharing stores two images with the same base of two layers, each with
// a layer of its own, in one layout.
func twoSharing(t *testing.T) (l *layout.Layout, images []config.Image, own []int64) {
	t.Helper()
	base := registrytest.Image(t, "linux/amd64", 2, 50_000, 11, registrytest.OCI)
	var named []namedImage
	for i := range 2 {
		top := registrytest.Image(t, "linux/amd64", 1, 20_000, int64(20+i), registrytest.OCI)
		layers, err := top.Layers()
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(base, layers...)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		own = append(own, m.Layers[2].Size+m.Config.Size)
		raw, err := img.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		own[i] += int64(len(raw))
		named = append(named, namedImage{fmt.Sprintf("registry.test/team/app%d:1", i), img})
	}
	l, images = writeImages(t, named, "linux/amd64")
	return l, images, own
}

// TestLoadTogether: images to load go to the engine in one archive with
// each blob once, on either store, and each image's progress is reported;
// an engine that takes only the first image of an archive gets the others
// alone.
func TestLoadTogether(t *testing.T) {
	for _, store := range []string{StoreClassic, StoreContainerd} {
		for _, firstOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/firstOnly=%v", store, firstOnly), func(t *testing.T) {
				l, images, own := twoSharing(t)
				eng := newFakeEngine(store)
				eng.firstOnly = firstOnly
				events := map[string][]progress.Kind{}
				rep, err := Load(context.Background(), eng, l, images, LoadOptions{Progress: func(e progress.Event) {
					if k := events[e.Image]; len(k) == 0 || k[len(k)-1] != e.Kind {
						events[e.Image] = append(k, e.Kind)
					}
				}})
				if err != nil {
					t.Fatalf("Load() = %v", err)
				}
				wantLoads, wantSecond := 1, own[1]
				if firstOnly {
					// The second image again, alone, with all its bytes.
					wantLoads, wantSecond = 2, rep.Images[1].Bytes
				}
				if eng.loads != wantLoads {
					t.Errorf("Load() made %d loads, want %d", eng.loads, wantLoads)
				}
				for i, got := range rep.Images {
					if got.Action != ActionLoaded || eng.tags[got.Tag] != got.ImageID || got.ImageID == "" {
						t.Errorf("Load() image %d = %+v, want loaded and tagged", i, got)
					}
				}
				if got := rep.Images; got[0].Streamed != got[0].Bytes || got[1].Streamed != wantSecond {
					t.Errorf("Load() streamed %d and %d bytes, want %d and %d", got[0].Streamed, got[1].Streamed, got[0].Bytes, wantSecond)
				}
				want := fmt.Sprint([]progress.Kind{progress.Start, progress.Advance, progress.Unpacking, progress.Done})
				if firstOnly {
					// The second: its progress in the shared archive, then alone.
					want = fmt.Sprint([]progress.Kind{progress.Start, progress.Advance, progress.Unpacking, progress.Done, progress.Start, progress.Advance, progress.Unpacking, progress.Done})
				}
				if got := fmt.Sprint(events[images[1].Name()]); got != want {
					t.Errorf("progress of %s = %s, want %s", images[1].Name(), got, want)
				}
			})
		}
	}
}

package daemon_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// TestVerifyDeepFindsChangedStorage changes one byte of a file of one
// layer inside the engine's own storage (enginetest.ChangeLayer: the
// classic store's layer folder, podman's, the containerd store's content
// blob): Verify without Deep still passes, as the image's ID and layer
// list do not change (the blind spot), and Verify with Deep fails naming
// that layer, from the export and, where it reads the layer folder, from
// the storage. The image is unique to the test, so no other test sees the
// change.
func TestVerifyDeepFindsChangedStorage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	im := f.add(repoName(t, "deep"), "1", registrytest.Image(t, "linux/amd64", 3, 4000, randomSeed(t), registrytest.OCI), "linux/amd64")
	want := f.platformImages(im)["linux/amd64"]
	if _, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{}); err != nil {
		t.Fatalf("Load() = %v", err)
	}

	rep, err := daemon.Verify(ctx, f.c, f.l, f.cfg.Images, daemon.VerifyOptions{Deep: true})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify(Deep) of the image as loaded = %+v, %v; want OK (%s)", rep, err, f.eng)
	}
	if !rep.Deep || rep.Bytes <= 0 || rep.Images[0].Exported != rep.Bytes {
		t.Errorf("Verify(Deep) = deep %v, %d bytes, image %+v; want the export's bytes counted", rep.Deep, rep.Bytes, rep.Images[0])
	}

	const layer = 1
	changed := enginetest.ChangeLayer(t, tagOf(im), layer)
	t.Logf("changed %s on %s", changed, f.eng)

	shallow, err := daemon.Verify(ctx, f.c, f.l, f.cfg.Images, daemon.VerifyOptions{})
	if err != nil || !shallow.OK() {
		t.Errorf("Verify() without Deep after the change = %+v, %v; want OK: IDs and layer lists do not see it (%s)", shallow, err, f.eng)
	}
	rep, err = daemon.Verify(ctx, f.c, f.l, f.cfg.Images, daemon.VerifyOptions{Deep: true})
	if err != nil {
		t.Fatalf("Verify(Deep) = %v", err)
	}
	// One content finding from the export; where the engine's storage is
	// read and the changed file is in a layer folder (not the containerd
	// store's content blob), a files finding of that layer too.
	var content []daemon.Finding
	for _, fd := range rep.Findings {
		switch {
		case fd.Kind == daemon.KindContent:
			content = append(content, fd)
		case fd.Kind == daemon.KindFiles && fd.Layer != nil && *fd.Layer == layer:
		default:
			t.Errorf("Verify(Deep) after the change: finding %s; want only the changed layer's (%s)", fd, f.eng)
		}
	}
	if len(content) != 1 || rep.Images[0].OK {
		t.Fatalf("Verify(Deep) after the change = %+v; want one content finding, the image not OK (%s)", rep, f.eng)
	}
	got := content[0]
	diffID := want.diffIDs[layer].String()
	if got.Kind != daemon.KindContent || got.Layer == nil || *got.Layer != layer || got.Expected != diffID || got.Tag != tagOf(im) || !strings.Contains(got.Message, "layer 1 ") || !strings.Contains(got.Message, diffID) {
		t.Errorf("Verify(Deep) finding = %+v (layer %v); want content, layer %d, expected %s (%s)", got, got.Layer, layer, diffID, f.eng)
	}
	t.Logf("%s: %s", f.eng, got)
}

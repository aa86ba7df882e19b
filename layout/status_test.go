package layout_test

import (
	"context"
	"testing"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/reference"
)

// TestHoldings: what status reports of an image, by size only: complete,
// then with a layer missing, and an index.json entry no image claims.
func TestHoldings(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, fixtureOptions{}).writeAll()
	ref, err := reference.Parse(fx.name)
	if err != nil {
		t.Fatal(err)
	}
	images := []config.Image{{Ref: ref, Digest: fx.top.Digest, Platforms: sel(t, "linux/amd64")}}

	h, err := fx.l.Holdings(ctx, images)
	if err != nil {
		t.Fatalf("Holdings() = %v", err)
	}
	st := h.Images[0]
	if !st.Complete || !st.InIndex || len(st.Missing) != 0 || len(h.Unconfigured) != 0 || len(st.Vendored) != 1 || st.Vendored[0] != "linux/amd64" {
		t.Errorf("Holdings() of a complete layout = %+v, unconfigured %v; want complete, linux/amd64 vendored", st, h.Unconfigured)
	}
	amd := fx.image("linux/amd64")
	// The index and the selected platform's manifest, config and layers.
	if want := 1 + len(amd.blobs()); st.Blobs != want {
		t.Errorf("Holdings() counts %d blobs, want %d", st.Blobs, want)
	}

	fx.remove(amd.layers[0])
	h, err = fx.l.Holdings(ctx, images)
	if err != nil {
		t.Fatalf("Holdings() with a layer missing = %v", err)
	}
	st = h.Images[0]
	if st.Complete || len(st.Missing) != 1 || st.Missing[0].Digest != amd.layers[0].Digest || st.Missing[0].Platform != "linux/amd64" {
		t.Errorf("Holdings() with a layer missing = %+v, want that layer missing for linux/amd64", st)
	}

	h, err = fx.l.Holdings(ctx, nil)
	if err != nil || len(h.Images) != 0 || len(h.Unconfigured) != 1 || h.Unconfigured[0] != fx.name {
		t.Errorf("Holdings(no image) = %+v, %v; want %s unconfigured", h, err, fx.name)
	}
}

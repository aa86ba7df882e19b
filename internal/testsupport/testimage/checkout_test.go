package testimage_test

import (
	"context"
	"testing"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/testimage"
	"github.com/vendorimg/vendorimg/layout"
)

// TestCheckout: the checkout vendors the committed probe under each name
// given, with its pin, and passes verify.
func TestCheckout(t *testing.T) {
	ctx := context.Background()
	names := []string{"docker.io/library/alpine:3.19.4", testimage.Ref}
	path := testimage.Checkout(t, repoConfig, names...)
	cfg, err := config.Load(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	want := loadCommitted(t, "amd64").pin
	if len(cfg.Images) != len(names) {
		t.Fatalf("Checkout(%v) configures %d images, want %d", names, len(cfg.Images), len(names))
	}
	for i, im := range cfg.Images {
		if im.Name() != names[i] || im.Digest != want.Digest || !im.Platforms.Equal(want.Platforms) {
			t.Errorf("Checkout(%v) image %d = %s@%s %s, want %s@%s %s", names, i, im.Name(), im.Digest, im.Platforms, names[i], want.Digest, want.Platforms)
		}
	}
	rep, err := vendorimg.Verify(ctx, cfg, vendorimg.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify of the checkout = %+v, %v; want it to pass", rep, err)
	}
	idx, err := layout.New(cfg.LayoutDir()).ReadIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if m, ok := layout.Lookup(idx, name, ""); !ok || m.Entry.Digest != want.Digest {
			t.Errorf("the checkout's index.json names %s: %v, %+v; want it at %s", name, ok, m.Entry, want.Digest)
		}
	}
}

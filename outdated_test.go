package vendorimg_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/reference"
)

// tags is a fake Resolver: what each tag points to now; a tag it does not
// know is not found.
type tags map[string]digest.Digest

func (f tags) Resolve(_ context.Context, ref reference.Reference) (ocispec.Descriptor, error) {
	d, ok := f[ref.String()]
	if !ok {
		return ocispec.Descriptor{}, fmt.Errorf("resolving %s: %w", ref, errs.ErrNotFound)
	}
	return ocispec.Descriptor{Digest: d}, nil
}

func pinned(t *testing.T, pins map[string]digest.Digest) *config.Config {
	t.Helper()
	cfg, err := config.New(filepath.Join(t.TempDir(), config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"registry.example/moved:1", "registry.example/same:1", "registry.example/gone:1", "registry.example/bydigest@" + pins["registry.example/bydigest"].String()} {
		r, err := reference.Parse(ref)
		if err != nil {
			t.Fatal(err)
		}
		d := pins[r.WithoutDigest().String()]
		if err := cfg.Set(config.Image{Ref: r.WithoutDigest(), Digest: d}); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

// TestOutdated: each image's pin against its tag, one failure not
// stopping the others, the images chosen by name, bad options refused.
func TestOutdated(t *testing.T) {
	old, cur := digest.FromString("old"), digest.FromString("new")
	cfg := pinned(t, map[string]digest.Digest{
		"registry.example/moved:1": old, "registry.example/same:1": cur, "registry.example/gone:1": old, "registry.example/bydigest": old,
	})
	client := tags{"registry.example/moved:1": cur, "registry.example/same:1": cur}
	ctx := context.Background()

	rep, err := vendorimg.Outdated(ctx, cfg, vendorimg.OutdatedOptions{Client: client})
	if err != nil {
		t.Fatalf("Outdated() = %v", err)
	}
	want := []vendorimg.TagState{
		{Name: "registry.example/moved:1", Tag: "1", Pinned: old, Current: cur, Moved: true},
		{Name: "registry.example/same:1", Tag: "1", Pinned: cur, Current: cur},
		{Name: "registry.example/gone:1", Tag: "1", Pinned: old},
		{Name: "registry.example/bydigest@" + old.String(), Pinned: old, DigestOnly: true},
	}
	if len(rep.Images) != len(want) {
		t.Fatalf("Outdated() reported %d images, want %d", len(rep.Images), len(want))
	}
	for i, w := range want {
		got := rep.Images[i]
		got.Error = ""
		if fmt.Sprint(got.Name, got.Tag, got.Pinned, got.Current, got.Moved, got.DigestOnly) != fmt.Sprint(w.Name, w.Tag, w.Pinned, w.Current, w.Moved, w.DigestOnly) {
			t.Errorf("Outdated() image %d = %+v, want %+v", i, got, w)
		}
	}
	if !errors.Is(rep.Err(), errs.ErrNotFound) || !errors.Is(rep.Images[2].Err(), errs.ErrNotFound) {
		t.Errorf("Outdated().Err() = %v, want the gone tag's errs.ErrNotFound", rep.Err())
	}
	if moved := rep.Moved(); len(moved) != 1 || moved[0].Name != "registry.example/moved:1" {
		t.Errorf("Outdated().Moved() = %v, want the moved image alone", moved)
	}

	one, err := vendorimg.Outdated(ctx, cfg, vendorimg.OutdatedOptions{Client: client, Images: []string{"registry.example/same:1"}})
	if err != nil || len(one.Images) != 1 || one.Images[0].Moved {
		t.Errorf("Outdated(Images: same:1) = %+v, %v; want that image alone, not moved", one, err)
	}
	if _, err := vendorimg.Outdated(ctx, cfg, vendorimg.OutdatedOptions{Client: client, Jobs: -1}); !errors.Is(err, errs.ErrInvalidOption) {
		t.Errorf("Outdated(Jobs: -1) = %v, want errs.ErrInvalidOption", err)
	}
	if _, err := vendorimg.Outdated(ctx, cfg, vendorimg.OutdatedOptions{Client: client, Images: []string{"registry.example/other:1"}}); !errors.Is(err, errs.ErrConfig) {
		t.Errorf("Outdated(Images: an image not configured) = %v, want errs.ErrConfig", err)
	}
}

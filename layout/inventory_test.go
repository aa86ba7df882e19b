package layout_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
)

func digests(bs []layout.Blob) []digest.Digest {
	var out []digest.Digest
	for _, b := range bs {
		out = append(out, b.Digest)
	}
	slices.Sort(out)
	return out
}

func blobDigests(bs ...blob) []digest.Digest {
	var out []digest.Digest
	for _, b := range bs {
		out = append(out, b.Digest)
	}
	slices.Sort(out)
	return out
}

func TestInventory(t *testing.T) {
	tests := []struct {
		name      string
		fx        fixtureOptions
		selection []string
		// store says which blobs are stored (default all), damage breaks
		// some afterwards.
		store  func(fx *fixture) []blob
		damage func(t *testing.T, fx *fixture)
		// wantPresent, wantMissing and wantImages (platforms) are checked.
		wantPresent func(fx *fixture) []blob
		wantMissing func(fx *fixture) []blob
		wantImages  []string
	}{
		{
			name:        "complete, both platforms",
			selection:   []string{"linux/amd64", "linux/arm64"},
			wantPresent: func(fx *fixture) []blob { return fx.all() },
			wantImages:  []string{"linux/amd64", "linux/arm64"},
		},
		{
			name:        "all",
			selection:   []string{"all"},
			wantPresent: func(fx *fixture) []blob { return fx.all() },
			wantImages:  []string{"linux/amd64", "linux/arm64"},
		},
		{
			name:      "one platform of a full layout",
			selection: []string{"linux/arm64"},
			wantPresent: func(fx *fixture) []blob {
				return append([]blob{fx.top}, fx.image("linux/arm64").blobs()...)
			},
			wantImages: []string{"linux/arm64"},
		},
		{
			name:      "one platform stored, one selected",
			selection: []string{"linux/amd64"},
			store: func(fx *fixture) []blob {
				return append([]blob{fx.top}, fx.image("linux/amd64").blobs()...)
			},
			wantPresent: func(fx *fixture) []blob {
				return append([]blob{fx.top}, fx.image("linux/amd64").blobs()...)
			},
			wantImages: []string{"linux/amd64"},
		},
		{
			name:      "nothing stored",
			selection: []string{"linux/amd64"},
			store:     func(*fixture) []blob { return nil },
			wantMissing: func(fx *fixture) []blob {
				return []blob{fx.top}
			},
		},
		{
			name:      "only the index stored",
			selection: []string{"linux/amd64", "linux/arm64"},
			store:     func(fx *fixture) []blob { return []blob{fx.top} },
			wantPresent: func(fx *fixture) []blob {
				return []blob{fx.top}
			},
			wantMissing: func(fx *fixture) []blob {
				return []blob{fx.image("linux/amd64").manifest, fx.image("linux/arm64").manifest}
			},
		},
		{
			name:      "missing layer",
			selection: []string{"linux/amd64", "linux/arm64"},
			fx:        fixtureOptions{layers: 2},
			damage: func(t *testing.T, fx *fixture) {
				fx.remove(fx.image("linux/arm64").layers[1])
			},
			wantPresent: func(fx *fixture) []blob {
				arm := fx.image("linux/arm64")
				return append(append([]blob{fx.top}, fx.image("linux/amd64").blobs()...), arm.manifest, arm.config, arm.layers[0])
			},
			wantMissing: func(fx *fixture) []blob { return []blob{fx.image("linux/arm64").layers[1]} },
			// A manifest whose layers are missing is still listed: what is
			// missing says what to fetch.
			wantImages: []string{"linux/amd64", "linux/arm64"},
		},
		{
			name:      "layer of the wrong size",
			selection: []string{"linux/amd64"},
			damage: func(t *testing.T, fx *fixture) {
				l := fx.image("linux/amd64").layers[0]
				fx.replace(l, l.data[:10])
			},
			wantPresent: func(fx *fixture) []blob {
				im := fx.image("linux/amd64")
				return []blob{fx.top, im.manifest, im.config}
			},
			wantMissing: func(fx *fixture) []blob { return []blob{fx.image("linux/amd64").layers[0]} },
			wantImages:  []string{"linux/amd64"},
		},
		{
			name:      "manifest that does not hash to its digest",
			selection: []string{"linux/amd64"},
			damage: func(t *testing.T, fx *fixture) {
				fx.flip(fx.image("linux/amd64").manifest, 4)
			},
			wantPresent: func(fx *fixture) []blob { return []blob{fx.top} },
			wantMissing: func(fx *fixture) []blob { return []blob{fx.image("linux/amd64").manifest} },
		},
		{
			name:      "single manifest",
			fx:        fixtureOptions{single: true},
			selection: []string{"linux/amd64"},
			wantPresent: func(fx *fixture) []blob {
				return fx.all()
			},
			wantImages: []string{"linux/amd64"},
		},
		{
			name:      "single manifest without its config",
			fx:        fixtureOptions{single: true},
			selection: []string{"linux/amd64"},
			damage:    func(t *testing.T, fx *fixture) { fx.remove(fx.images[0].config) },
			wantPresent: func(fx *fixture) []blob {
				return append([]blob{fx.images[0].manifest}, fx.images[0].layers...)
			},
			wantMissing: func(fx *fixture) []blob { return []blob{fx.images[0].config} },
		},
		{
			name:      "docker manifest list",
			fx:        fixtureOptions{docker: true, platforms: []string{"linux/amd64", "linux/arm/v7", "linux/arm64/v8"}},
			selection: []string{"linux/arm", "linux/arm64"},
			wantPresent: func(fx *fixture) []blob {
				return append(append([]blob{fx.top}, fx.image("linux/arm/v7").blobs()...), fx.image("linux/arm64/v8").blobs()...)
			},
			wantImages: []string{"linux/arm/v7", "linux/arm64/v8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, tt.fx)
			stored := fx.all()
			if tt.store != nil {
				stored = tt.store(fx)
			}
			fx.write(stored...)
			if tt.damage != nil {
				tt.damage(t, fx)
			}
			inv, err := fx.l.Inventory(context.Background(), fx.top.Descriptor, layout.WalkOptions{Platforms: sel(t, tt.selection...)})
			if err != nil {
				t.Fatalf("Inventory(%s) = %v, want nil", tt.selection, err)
			}
			var wantPresent, wantMissing []blob
			if tt.wantPresent != nil {
				wantPresent = tt.wantPresent(fx)
			}
			if tt.wantMissing != nil {
				wantMissing = tt.wantMissing(fx)
			}
			if got, want := digests(inv.Present), blobDigests(wantPresent...); !slices.Equal(got, want) {
				t.Errorf("Inventory(%s).Present = %v, want %v", tt.selection, got, want)
			}
			if got, want := digests(inv.Missing), blobDigests(wantMissing...); !slices.Equal(got, want) {
				t.Errorf("Inventory(%s).Missing = %v, want %v", tt.selection, got, want)
			}
			if got := inv.Complete(); got != (len(wantMissing) == 0) {
				t.Errorf("Inventory(%s).Complete() = %v, want %v", tt.selection, got, len(wantMissing) == 0)
			}
			var platforms []string
			for _, p := range inv.Platforms() {
				platforms = append(platforms, platform.FromOCI(p).String())
			}
			if !slices.Equal(platforms, tt.wantImages) {
				t.Errorf("Inventory(%s).Platforms() = %q, want %q", tt.selection, platforms, tt.wantImages)
			}
			var size int64
			for _, b := range wantPresent {
				size += b.Size
			}
			if inv.Bytes() != size {
				t.Errorf("Inventory(%s).Bytes() = %d, want %d", tt.selection, inv.Bytes(), size)
			}
		})
	}
}

func TestInventoryRoles(t *testing.T) {
	fx := newFixture(t, fixtureOptions{layers: 2}).writeAll()
	inv, err := fx.l.Inventory(context.Background(), fx.top.Descriptor, layout.WalkOptions{Platforms: sel(t, "linux/amd64")})
	if err != nil {
		t.Fatal(err)
	}
	amd := fx.image("linux/amd64")
	want := map[digest.Digest]layout.Role{
		fx.top.Digest:        layout.RoleIndex,
		amd.manifest.Digest:  layout.RoleManifest,
		amd.config.Digest:    layout.RoleConfig,
		amd.layers[0].Digest: layout.RoleLayer,
		amd.layers[1].Digest: layout.RoleLayer,
	}
	for _, b := range inv.Present {
		if want[b.Digest] != b.Role {
			t.Errorf("Inventory: blob %s has role %q, want %q", b.Digest, b.Role, want[b.Digest])
		}
		if b.Role != layout.RoleIndex && (b.Platform == nil || b.Platform.Architecture != "amd64") {
			t.Errorf("Inventory: blob %s (%s) has platform %+v, want linux/amd64", b.Digest, b.Role, b.Platform)
		}
		if b.IsDocument() != (b.Role == layout.RoleIndex || b.Role == layout.RoleManifest) {
			t.Errorf("Blob{%s}.IsDocument() = %v", b.Role, b.IsDocument())
		}
	}
	if len(inv.Images) != 1 || inv.Images[0].Manifest.Digest != amd.manifest.Digest || inv.Images[0].Config.Digest != amd.config.Digest || len(inv.Images[0].Layers) != 2 {
		t.Errorf("Inventory().Images = %+v, want the amd64 image", inv.Images)
	}
}

// TestInventoryTopFromPin: only the pin is known before the first sync;
// the inventory fills in media type and size from the stored top blob.
func TestInventoryTopFromPin(t *testing.T) {
	fx := newFixture(t, fixtureOptions{docker: true}).writeAll()
	inv, err := fx.l.Inventory(context.Background(), ocispec.Descriptor{Digest: fx.top.Digest}, layout.WalkOptions{Platforms: sel(t, "linux/amd64")})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Top.MediaType != fx.top.MediaType || inv.Top.Size != fx.top.Size || !inv.Complete() {
		t.Errorf("Inventory(pin only).Top = %+v, complete %v, want %s of %d bytes, complete", inv.Top, inv.Complete(), fx.top.MediaType, fx.top.Size)
	}
}

func TestInventoryErrors(t *testing.T) {
	tests := []struct {
		name      string
		fx        fixtureOptions
		selection []string
		damage    func(t *testing.T, fx *fixture)
		wantErr   error // nil: any error
		wantIn    string
	}{
		{"platform not in the index", fixtureOptions{}, []string{"linux/amd64", "linux/s390x"}, nil, errs.ErrPlatformMissing, "linux/s390x not in the index (it has linux/amd64, linux/arm64)"},
		{"variant not in the index", fixtureOptions{platforms: []string{"linux/arm/v6"}}, []string{"linux/arm"}, nil, errs.ErrPlatformMissing, "linux/arm not in the index (it has linux/arm/v6)"},
		{"single manifest of another platform", fixtureOptions{single: true}, []string{"linux/arm64"}, nil, errs.ErrPlatformMissing, "single manifest for linux/amd64"},
		{"symlink in place of the index", fixtureOptions{}, []string{"linux/amd64"}, func(t *testing.T, fx *fixture) {
			p := fx.path(fx.top.rel())
			replaceWith(t, p, func() error { return os.Symlink("/etc/passwd", p) })
		}, errs.ErrInvalidLayout, "symlink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, tt.fx).writeAll()
			if tt.damage != nil {
				tt.damage(t, fx)
			}
			inv, err := fx.l.Inventory(context.Background(), fx.top.Descriptor, layout.WalkOptions{Platforms: sel(t, tt.selection...)})
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("Inventory(%s) = %+v, %v, want an error wrapping %v containing %q", tt.selection, inv, err, tt.wantErr, tt.wantIn)
			}
		})
	}
}

// TestInventoryUnparsableDocument: a stored blob that hashes right but is
// not a manifest is an error (fetching again cannot fix it), not "missing".
func TestInventoryUnparsableDocument(t *testing.T) {
	l := newLayout(t)
	junk := newBlob("application/vnd.oci.image.manifest.v1+json", []byte(`{"schemaVersion":2,"config":{"digest":"sha256:../x"}}`))
	if err := l.WriteBlobBytes(context.Background(), junk.Descriptor, junk.data); err != nil {
		t.Fatal(err)
	}
	inv, err := l.Inventory(context.Background(), junk.Descriptor, layout.WalkOptions{Platforms: platform.All})
	if !errors.Is(err, errs.ErrInvalidDigest) || !strings.Contains(err.Error(), junk.rel()) {
		t.Errorf("Inventory(junk manifest) = %+v, %v, want an error wrapping %v naming %s", inv, err, errs.ErrInvalidDigest, junk.rel())
	}
}

func TestInventoryCancelled(t *testing.T) {
	fx := newFixture(t, fixtureOptions{}).writeAll()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if inv, err := fx.l.Inventory(ctx, fx.top.Descriptor, layout.WalkOptions{Platforms: platform.All}); !errors.Is(err, context.Canceled) {
		t.Errorf("Inventory() with a cancelled ctx = %+v, %v, want %v", inv, err, context.Canceled)
	}
}

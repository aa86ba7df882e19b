package registrytest

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
)

// Format chooses the media types of generated images.
type Format int

// Formats.
const (
	OCI Format = iota
	Docker
)

// Image returns a random image for platform ("linux/arm64", "linux/arm/v7")
// with the given number of layers of size bytes each. seed makes it
// reproducible; images with different seeds share no layer.
func Image(t testing.TB, platform string, layers int, size int64, seed int64, f Format) v1.Image {
	t.Helper()
	layerType := types.DockerLayer
	if f == OCI {
		layerType = types.OCILayer
	}
	src := rand.NewSource(seed)
	var img v1.Image = empty.Image
	for i := 0; i < layers; i++ {
		l, err := random.Layer(size, layerType, random.WithSource(src))
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	parts := strings.Split(platform, "/")
	cf.OS, cf.Architecture = parts[0], parts[1]
	if len(parts) > 2 {
		cf.Variant = parts[2]
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	if f == OCI {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	return img
}

// Index returns an index (OCI) or manifest list (Docker) of random images,
// one per platform, each with the given layers.
func Index(t testing.TB, platforms []string, layers int, size int64, seed int64, f Format) v1.ImageIndex {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	if f == Docker {
		idx = mutate.IndexMediaType(idx, types.DockerManifestList)
	} else {
		idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	}
	for i, p := range platforms {
		img := Image(t, p, layers, size, seed*1000+int64(i), f)
		pl, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: pl}})
	}
	return idx
}

// Push writes an image or index to ref (e.g. "127.0.0.1:5000/x:1") and
// returns its digest. Extra options (auth, transport) go to
// go-containerregistry's remote package.
func Push(t testing.TB, ref string, img remote.Taggable, opts ...remote.Option) digest.Digest {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	switch v := img.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(r, v, opts...)
	case v1.Image:
		err = remote.Write(r, v, opts...)
	default:
		err = remote.Put(r, img, opts...)
	}
	if err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.FromBytes(raw)
}

// Raw is a manifest given as bytes, pushed exactly as they are.
type Raw struct {
	Bytes []byte
	Type  types.MediaType
}

// RawManifest implements remote.Taggable.
func (r Raw) RawManifest() ([]byte, error) { return r.Bytes, nil }

// MediaType implements the interface remote.Put uses for Content-Type.
func (r Raw) MediaType() (types.MediaType, error) { return r.Type, nil }

// Blobs are the digests of what vendoring idx for platforms stores: the
// index, and for each of those platforms its manifest, config and layers.
func Blobs(t testing.TB, idx v1.ImageIndex, platforms []string) map[digest.Digest]bool {
	t.Helper()
	out := map[digest.Digest]bool{}
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	out[digest.FromBytes(raw)] = true
	for _, p := range platforms {
		img := PlatformImage(t, idx, p)
		for _, f := range []func() (v1.Hash, error){img.Digest, img.ConfigName} {
			h, err := f()
			if err != nil {
				t.Fatal(err)
			}
			out[digest.Digest(h.String())] = true
		}
		for _, d := range Layers(t, idx, p) {
			out[d] = true
		}
	}
	return out
}

// Layers are the layer digests of idx's image for platform, in order.
func Layers(t testing.TB, idx v1.ImageIndex, platform string) []digest.Digest {
	t.Helper()
	m, err := PlatformImage(t, idx, platform).Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []digest.Digest
	for _, l := range m.Layers {
		out = append(out, digest.Digest(l.Digest.String()))
	}
	return out
}

// PlatformImage is the image that idx lists for platform ("linux/amd64");
// it fails t when there is none.
func PlatformImage(t testing.TB, idx v1.ImageIndex, platform string) v1.Image {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	want, err := v1.ParsePlatform(platform)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Equals(*want) {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("the index has no image for %s", platform)
	return nil
}

package layout_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/platform"
)

// The fixture is an image graph built by hand, byte for byte, so that a
// test can break exactly one blob and know every finding Verify must make.

// blob is a descriptor with its bytes.
type blob struct {
	ocispec.Descriptor
	data []byte
}

func newBlob(mediaType string, data []byte) blob {
	return blob{Descriptor: ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}, data: data}
}

func (b blob) rel() string { return layout.RelBlobPath(b.Digest) }

// image is one platform's manifest, config and layers.
type image struct {
	platform ocispec.Platform
	manifest blob
	config   blob
	layers   []blob
	diffIDs  []digest.Digest
}

func (im *image) blobs() []blob { return append([]blob{im.manifest, im.config}, im.layers...) }

type fixtureOptions struct {
	// platforms of the index, default linux/amd64 and linux/arm64.
	platforms []string
	// layers per image, default 1.
	layers int
	// docker builds a Docker manifest list and v2 manifests.
	docker bool
	// single makes the top-level blob the first platform's manifest, with
	// no index.
	single bool
	// editConfig, if set, changes an image's config before it is encoded
	// (to make diff_ids disagree with the layers).
	editConfig func(p string, cfg *manifest.Config)
	// plainLayers stores layers uncompressed under a gzip media type.
	plainLayers bool
}

type fixture struct {
	t      *testing.T
	l      *layout.Layout
	name   string
	top    blob
	images []*image
}

// tarGz is a gzipped tar holding one file: its bytes and diff_id.
func tarGz(t *testing.T, name, content string) ([]byte, digest.Digest) {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var gb bytes.Buffer
	zw := gzip.NewWriter(&gb)
	if _, err := zw.Write(tb.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return gb.Bytes(), digest.FromBytes(tb.Bytes())
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newFixture builds the graph in memory and an initialised, empty layout.
func newFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	if o.platforms == nil {
		o.platforms = []string{"linux/amd64", "linux/arm64"}
	}
	if o.layers == 0 {
		o.layers = 1
	}
	l := layout.New(filepath.Join(t.TempDir(), "images"))
	if err := l.Init(context.Background()); err != nil {
		t.Fatalf("Init() = %v, want nil", err)
	}
	fx := &fixture{t: t, l: l, name: "registry.example.test/team/app:v1"}
	manifestType, configType, layerType, indexType := manifest.MediaTypeOCIManifest, ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageLayerGzip, manifest.MediaTypeOCIIndex
	if o.docker {
		manifestType, configType, layerType, indexType = manifest.MediaTypeDockerV2, manifest.MediaTypeDockerConfig, manifest.MediaTypeDockerLayer, manifest.MediaTypeDockerList
	}
	var entries []ocispec.Descriptor
	for _, ps := range o.platforms {
		p, err := platform.Parse(ps)
		if err != nil {
			t.Fatal(err)
		}
		im := &image{platform: p.OCI()}
		for i := range o.layers {
			content := fmt.Sprintf("layer %d of %s\n", i, ps)
			data, diffID := tarGz(t, fmt.Sprintf("file%d", i), content)
			if o.plainLayers {
				data = []byte(content)
				diffID = digest.FromBytes(data)
			}
			im.layers = append(im.layers, newBlob(layerType, data))
			im.diffIDs = append(im.diffIDs, diffID)
		}
		cfg := manifest.Config{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
		cfg.RootFS.Type = "layers"
		cfg.RootFS.DiffIDs = append([]digest.Digest{}, im.diffIDs...)
		if o.editConfig != nil {
			o.editConfig(ps, &cfg)
		}
		im.config = newBlob(configType, mustJSON(t, cfg))
		layers := make([]ocispec.Descriptor, len(im.layers))
		for i, lb := range im.layers {
			layers[i] = lb.Descriptor
		}
		m := map[string]any{"schemaVersion": 2, "mediaType": manifestType, "config": im.config.Descriptor, "layers": layers}
		im.manifest = newBlob(manifestType, mustJSON(t, m))
		fx.images = append(fx.images, im)
		entry := im.manifest.Descriptor
		entry.Platform = &im.platform
		entries = append(entries, entry)
	}
	if o.single {
		fx.top = fx.images[0].manifest
	} else {
		fx.top = newBlob(indexType, mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": indexType, "manifests": entries}))
	}
	return fx
}

// image returns the image for platform p ("linux/amd64").
func (fx *fixture) image(p string) *image {
	fx.t.Helper()
	for _, im := range fx.images {
		if platform.FromOCI(im.platform).String() == p {
			return im
		}
	}
	fx.t.Fatalf("fixture has no image for %s", p)
	return nil
}

// all is every blob of the graph, the top first.
func (fx *fixture) all() []blob {
	if fx.top.Digest == fx.images[0].manifest.Digest {
		// A single manifest: the other images are not part of the graph.
		return fx.images[0].blobs()
	}
	out := []blob{fx.top}
	for _, im := range fx.images {
		out = append(out, im.blobs()...)
	}
	return out
}

func (fx *fixture) write(bs ...blob) {
	fx.t.Helper()
	for _, b := range bs {
		if err := fx.l.WriteBlobBytes(context.Background(), b.Descriptor, b.data); err != nil {
			fx.t.Fatalf("WriteBlobBytes(%s) = %v, want nil", b.Digest, err)
		}
	}
}

// writeIndex writes index.json with the one entry for the fixture's image.
func (fx *fixture) writeIndex() {
	fx.t.Helper()
	if _, err := fx.l.WriteIndex(context.Background(), []ocispec.Descriptor{layout.Entry(fx.top.Descriptor, fx.name)}); err != nil {
		fx.t.Fatalf("WriteIndex() = %v, want nil", err)
	}
}

// writeAll stores every blob and index.json.
func (fx *fixture) writeAll() *fixture {
	fx.write(fx.all()...)
	fx.writeIndex()
	return fx
}

// path is the absolute path of a file in the layout, from a path with slashes.
func (fx *fixture) path(rel string) string {
	return filepath.Join(fx.l.Root(), filepath.FromSlash(rel))
}

// replace overwrites a stored blob with other bytes (keeping its name).
func (fx *fixture) replace(b blob, data []byte) {
	fx.t.Helper()
	p := fx.path(b.rel())
	if err := os.Chmod(p, 0o644); err != nil {
		fx.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		fx.t.Fatal(err)
	}
}

// flip changes one byte of a stored blob and returns the digest it now has.
func (fx *fixture) flip(b blob, at int) digest.Digest {
	fx.t.Helper()
	data := bytes.Clone(b.data)
	data[at] ^= 0x01
	fx.replace(b, data)
	return digest.FromBytes(data)
}

func (fx *fixture) remove(bs ...blob) {
	fx.t.Helper()
	for _, b := range bs {
		if err := os.Remove(fx.path(b.rel())); err != nil {
			fx.t.Fatal(err)
		}
	}
}

func (fx *fixture) writeFile(rel string, data string) {
	fx.t.Helper()
	p := fx.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		fx.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		fx.t.Fatal(err)
	}
}

func (fx *fixture) expect(specs ...string) []layout.Expect {
	fx.t.Helper()
	return []layout.Expect{{Name: fx.name, Digest: fx.top.Digest, Platforms: sel(fx.t, specs...)}}
}

func sel(t *testing.T, specs ...string) platform.Selection {
	t.Helper()
	s, err := platform.ParseSelection(specs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// listFiles lists every file under dir, relative, with slashes, sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func hasTemp(files []string) bool {
	for _, f := range files {
		if strings.Contains(f, ".tmp-") {
			return true
		}
	}
	return false
}

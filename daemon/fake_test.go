package daemon

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// fakeEngine is a docker engine in memory, for fast tests of both image
// stores' identity rules without a real engine of each (load_engine_test.go
// runs against real ones: scripts/engines). It loads archives as the real stores do: the
// classic store from manifest.json, giving the config digest as ID and
// checking diff_ids; the containerd store from oci-layout and index.json,
// giving the manifest digest as ID.
type fakeEngine struct {
	store string
	arch  string
	// ignoreNames makes loads untagged, as an engine that ignores the
	// archive's names would.
	ignoreNames bool
	// firstOnly makes loads take only the first image of an archive that
	// holds several, as an engine that reads one image per archive would.
	firstOnly bool
	// podman makes removals report names and IDs as podman's
	// docker-compatible API does: untagged names in full
	// ("docker.io/library/x:1"), deleted IDs without "sha256:".
	podman bool
	// unverifiedSave makes save export what it holds without checking it
	// against the diff_ids (classic) or digests (containerd) as the real
	// stores do.
	unverifiedSave bool
	// fileChecksums makes the classic store's save refuse a changed layer
	// naming its first file, as docker's does when tar-split's per-file
	// checksums catch the change before the layer's digest does.
	fileChecksums bool
	// noDockerManifest makes the containerd store's save write the OCI
	// layout alone, without manifest.json.
	noDockerManifest bool

	mu     sync.Mutex
	images map[string]image.InspectResponse // by ID
	tags   map[string]string                // docker tag -> ID
	loads  int
	// saved is what ImageSave exports, by ID (fake_save_test.go).
	saved map[string]*fakeSaved
}

func newFakeEngine(store string) *fakeEngine {
	return &fakeEngine{store: store, arch: "x86_64", images: map[string]image.InspectResponse{}, tags: map[string]string{}, saved: map[string]*fakeSaved{}}
}

var _ Client = (*fakeEngine)(nil)

func notFound(name string) error {
	return fmt.Errorf("No such image: %s: %w", name, cerrdefs.ErrNotFound)
}

func (f *fakeEngine) Info(ctx context.Context) (system.Info, error) {
	info := system.Info{OSType: "linux", Architecture: f.arch, ServerVersion: "fake"}
	if f.store == StoreContainerd {
		info.DriverStatus = [][2]string{{"driver-type", "io.containerd.snapshotter.v1"}}
	}
	return info, nil
}

// resolve finds an image by tag or ID; the caller holds mu.
func (f *fakeEngine) resolve(name string) (image.InspectResponse, bool) {
	if id, ok := f.tags[name]; ok {
		name = id
	}
	im, ok := f.images[name]
	if !ok {
		return im, false
	}
	im.RepoTags = []string{}
	for tag, id := range f.tags {
		if id == im.ID {
			im.RepoTags = append(im.RepoTags, tag)
		}
	}
	return im, true
}

func (f *fakeEngine) ImageInspect(ctx context.Context, name string) (image.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	im, ok := f.resolve(name)
	if !ok {
		return image.InspectResponse{}, notFound(name)
	}
	return im, nil
}

func (f *fakeEngine) ImageTag(ctx context.Context, source, target string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	im, ok := f.resolve(source)
	if !ok {
		return notFound(source)
	}
	f.tags[target] = im.ID
	return nil
}

func (f *fakeEngine) ImageRemove(ctx context.Context, name string, force bool) ([]image.DeleteResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	im, ok := f.resolve(name)
	if !ok {
		return nil, notFound(name)
	}
	var res []image.DeleteResponse
	if _, isTag := f.tags[name]; isTag {
		delete(f.tags, name)
		untagged := name
		if f.podman {
			untagged = fullName(name)
		}
		res = append(res, image.DeleteResponse{Untagged: untagged})
		if len(im.RepoTags) > 1 {
			return res, nil
		}
	} else if len(im.RepoTags) > 0 && !force {
		return res, fmt.Errorf("image is referenced in multiple repositories: %w", cerrdefs.ErrConflict)
	}
	delete(f.images, im.ID)
	deleted := im.ID
	if f.podman {
		deleted = digest.Digest(im.ID).Encoded()
	}
	res = append(res, image.DeleteResponse{Deleted: deleted})
	return res, nil
}

// ImageLoad reads the whole archive, as the engine does, and loads nothing
// unless it is complete and consistent.
func (f *fakeEngine) ImageLoad(ctx context.Context, input io.Reader) (io.ReadCloser, error) {
	files := map[string][]byte{}
	tr := tar.NewReader(input)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the archive: %w", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", hdr.Name, err)
		}
		files[hdr.Name] = b
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	var msgs []string
	var err error
	if f.store == StoreContainerd {
		msgs, err = f.loadOCI(files)
	} else {
		msgs, err = f.loadDocker(files)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	if err != nil {
		enc.Encode(map[string]any{"errorDetail": map[string]string{"message": err.Error()}, "error": err.Error()})
	}
	for _, m := range msgs {
		enc.Encode(map[string]string{"stream": m + "\n"})
	}
	return io.NopCloser(&out), nil
}

func blobFile(files map[string][]byte, d digest.Digest) ([]byte, error) {
	b, ok := files[archiveBlobs+d.Encoded()]
	if !ok {
		return nil, fmt.Errorf("blob %s not in the archive", d)
	}
	if digest.FromBytes(b) != d {
		return nil, fmt.Errorf("blob %s does not hash to its name", d)
	}
	return b, nil
}

func diffIDs(files map[string][]byte, layers []string) ([]string, error) {
	var out []string
	for _, name := range layers {
		b, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("layer %s not in the archive", name)
		}
		// As docker does, a layer file may be compressed or a plain tar.
		raw := b
		if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			if raw, err = io.ReadAll(zr); err != nil {
				return nil, err
			}
		}
		out = append(out, digest.FromBytes(raw).String())
	}
	return out, nil
}

func (f *fakeEngine) loadDocker(files map[string][]byte) ([]string, error) {
	var mfs []dockerManifest
	if err := json.Unmarshal(files[archiveManifest], &mfs); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if f.firstOnly && len(mfs) > 1 {
		mfs = mfs[:1]
	}
	var msgs []string
	for _, m := range mfs {
		cfgRaw, ok := files[m.Config]
		if !ok {
			return nil, fmt.Errorf("config %s not in the archive", m.Config)
		}
		cfg, err := manifest.ParseConfig(cfgRaw)
		if err != nil {
			return nil, err
		}
		ids, err := diffIDs(files, m.Layers)
		if err != nil {
			return nil, err
		}
		if fmt.Sprint(ids) != fmt.Sprint(layersOf(cfg.RootFS.DiffIDs)) {
			return nil, fmt.Errorf("layers %v do not match diff_ids %v", ids, cfg.RootFS.DiffIDs)
		}
		id := digest.FromBytes(cfgRaw).String()
		f.images[id] = image.InspectResponse{ID: id, Architecture: cfg.Architecture, Os: cfg.OS, RootFS: image.RootFS{Type: "layers", Layers: ids}}
		f.saved[id] = savedDocker(files, cfgRaw, m.Layers, ids)
		for _, tag := range m.RepoTags {
			if f.ignoreNames {
				continue
			}
			// As docker does: a name is kept in its familiar form.
			if ref, err := reference.Parse(tag); err == nil {
				tag = ref.Familiar()
			}
			f.tags[tag] = id
			msgs = append(msgs, "Loaded image: "+tag)
		}
	}
	return msgs, nil
}

func (f *fakeEngine) loadOCI(files map[string][]byte) ([]string, error) {
	if _, ok := files[layout.LayoutFile]; !ok {
		return nil, fmt.Errorf("no oci-layout")
	}
	var idx ocispec.Index
	if err := json.Unmarshal(files[layout.IndexFile], &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	if f.firstOnly && len(idx.Manifests) > 1 {
		idx.Manifests = idx.Manifests[:1]
	}
	var msgs []string
	for _, d := range idx.Manifests {
		raw, err := blobFile(files, d.Digest)
		if err != nil {
			return nil, err
		}
		n, err := manifest.Parse(d.MediaType, raw)
		if err != nil {
			return nil, err
		}
		cfgRaw, err := blobFile(files, n.Config.Digest)
		if err != nil {
			return nil, err
		}
		cfg, err := manifest.ParseConfig(cfgRaw)
		if err != nil {
			return nil, err
		}
		var layers []string
		for _, l := range n.Layers {
			if _, err := blobFile(files, l.Digest); err != nil {
				return nil, err
			}
			layers = append(layers, archiveBlobs+l.Digest.Encoded())
		}
		ids, err := diffIDs(files, layers)
		if err != nil {
			return nil, err
		}
		id := d.Digest.String()
		f.images[id] = image.InspectResponse{ID: id, Architecture: cfg.Architecture, Os: cfg.OS, RootFS: image.RootFS{Type: "layers", Layers: ids}}
		f.saved[id] = savedOCI(files, d, raw, n.Config.Digest, n.Layers)
		if name := d.Annotations[layout.AnnotationContainerName]; name != "" && !f.ignoreNames {
			ref, err := reference.Parse(name)
			if err != nil {
				return nil, err
			}
			f.tags[ref.Familiar()] = id
			msgs = append(msgs, "Loaded image: "+ref.Familiar())
		}
	}
	return msgs, nil
}

func layersOf(ds []digest.Digest) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// writeImage stores img (a v1.Image or v1.ImageIndex) in a new layout
// under name, as sync would, and returns the layout and its configured
// image.
func writeImage(t testing.TB, name string, img any, platforms ...string) (*layout.Layout, config.Image) {
	t.Helper()
	l, images := writeImages(t, []namedImage{{name, img}}, platforms...)
	return l, images[0]
}

// namedImage is an image to store under a name (writeImages).
type namedImage struct {
	name string
	img  any
}

// writeImages stores each image in one new layout, as writeImage does.
func writeImages(t testing.TB, imgs []namedImage, platforms ...string) (*layout.Layout, []config.Image) {
	t.Helper()
	l := layout.New(filepath.Join(t.TempDir(), "images"))
	if err := l.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	var entries []ocispec.Descriptor
	var images []config.Image
	for _, ni := range imgs {
		top, im := storeImage(t, l, ni.name, ni.img, platforms...)
		entries = append(entries, layout.Entry(top, ni.name))
		images = append(images, im)
	}
	if _, err := l.WriteIndex(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	return l, images
}

// storeImage writes img's blobs into l and returns its top descriptor and
// its configured image.
func storeImage(t testing.TB, l *layout.Layout, name string, img any, platforms ...string) (ocispec.Descriptor, config.Image) {
	t.Helper()
	ctx := context.Background()
	put := func(mt string, b []byte) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
		if err := l.WriteBlobBytes(ctx, d, b); err != nil {
			t.Fatal(err)
		}
		return d
	}
	putImage := func(im v1.Image) ocispec.Descriptor {
		cfg, err := im.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		put("", cfg)
		layers, err := im.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, layer := range layers {
			rc, err := layer.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			put("", b)
		}
		raw, err := im.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		mt, err := im.MediaType()
		if err != nil {
			t.Fatal(err)
		}
		return put(string(mt), raw)
	}
	var top ocispec.Descriptor
	switch v := img.(type) {
	case v1.ImageIndex:
		im, err := v.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range im.Manifests {
			child, err := v.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			putImage(child)
		}
		raw, err := v.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		mt, err := v.MediaType()
		if err != nil {
			t.Fatal(err)
		}
		top = put(string(mt), raw)
	case v1.Image:
		top = putImage(v)
	default:
		t.Fatalf("writeImage(%T): not an image or index", img)
	}
	ref, err := reference.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := platform.ParseSelection(platforms)
	if err != nil {
		t.Fatal(err)
	}
	return top, config.Image{Ref: ref, Digest: top.Digest, Platforms: sel}
}

// fullName is a short docker name written in full, as podman writes it.
func fullName(name string) string {
	ref, err := reference.Parse(name)
	if err != nil {
		return name
	}
	return ref.String()
}

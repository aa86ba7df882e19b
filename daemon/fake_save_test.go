package daemon

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/layout"
)

// fakeSaved is what the fake engine holds of an image, to export it as the
// real stores do: the classic store the config and the layers as plain
// tars, the containerd store the blobs as they were loaded.
type fakeSaved struct {
	oci bool
	// The classic store's.
	config  []byte
	layers  [][]byte
	diffIDs []string
	// The containerd store's: the manifest's descriptor, then every blob
	// (manifest, config, layers) by digest, in order.
	top   ocispec.Descriptor
	names []digest.Digest
	blobs map[digest.Digest][]byte
	// missing are blobs the export leaves out (as containerd's does for a
	// blob its content store lacks).
	missing map[digest.Digest]bool
}

func savedDocker(files map[string][]byte, cfg []byte, layers, diffIDs []string) *fakeSaved {
	s := &fakeSaved{config: cfg, diffIDs: diffIDs}
	for _, name := range layers {
		s.layers = append(s.layers, plainTar(files[name]))
	}
	return s
}

func savedOCI(files map[string][]byte, top ocispec.Descriptor, raw []byte, cfg digest.Digest, layers []ocispec.Descriptor) *fakeSaved {
	s := &fakeSaved{oci: true, top: top, blobs: map[digest.Digest][]byte{}, missing: map[digest.Digest]bool{}}
	add := func(d digest.Digest, b []byte) {
		s.names = append(s.names, d)
		s.blobs[d] = b
	}
	add(top.Digest, raw)
	add(cfg, files[archiveBlobs+cfg.Encoded()])
	for _, l := range layers {
		add(l.Digest, files[archiveBlobs+l.Digest.Encoded()])
	}
	return s
}

// plainTar is a layer file decompressed, as the classic store keeps it.
func plainTar(b []byte) []byte {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return b
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return b
	}
	return raw
}

// changeLayer flips a byte of layer i of the image with ID id, as an edit
// of a file in the engine's storage would change what it exports.
func (f *fakeEngine) changeLayer(id string, i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.saved[id]
	var b []byte
	if s.oci {
		b = s.blobs[s.names[2+i]]
	} else {
		b = s.layers[i]
	}
	b[len(b)/2] ^= 0xff
}

// dropLayer makes the export of the image with ID id leave layer i out.
func (f *fakeEngine) dropLayer(id string, i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.saved[id]
	s.missing[s.names[2+i]] = true
}

// ImageSave writes the image's archive as the real stores do: the classic
// store (docker 20.10) a folder per layer with its layer.tar, the config
// as HEX.json and manifest.json, after checking every layer against its
// diff_id unless unverifiedSave; the containerd store an OCI layout of the
// blobs as loaded, with manifest.json naming them, checking each blob
// against its digest once it has streamed it (unless unverifiedSave),
// then ending the stream with a JSON error. Only one name.
func (f *fakeEngine) ImageSave(ctx context.Context, names []string, _ ...ocispec.Platform) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(names) != 1 {
		return nil, fmt.Errorf("the fake saves one image, not %d", len(names))
	}
	im, ok := f.resolve(names[0])
	if !ok {
		return nil, notFound(names[0])
	}
	s := f.saved[im.ID]
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	put := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b))})
		tw.Write(b)
	}
	putJSON := func(name string, v any) {
		b, _ := json.Marshal(v)
		put(name, b)
	}
	if s.oci {
		put(layout.LayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`))
		dm := dockerManifest{Config: archiveBlobs + s.names[1].Encoded(), RepoTags: im.RepoTags}
		for _, d := range s.names {
			if s.missing[d] {
				continue
			}
			put(archiveBlobs+d.Encoded(), s.blobs[d])
			if got := digest.FromBytes(s.blobs[d]); got != d && !f.unverifiedSave {
				// As the containerd store does: the stream has begun, so
				// it ends the tar and appends the error as a JSON message.
				tw.Close()
				json.NewEncoder(&buf).Encode(map[string]any{"errorMessage": "unexpected digest " + got.String() + " copied", "errorDetail": map[string]string{"message": "unexpected digest " + got.String() + " copied"}})
				return io.NopCloser(&buf), nil
			}
		}
		for _, d := range s.names[2:] {
			dm.Layers = append(dm.Layers, archiveBlobs+d.Encoded())
		}
		putJSON(layout.IndexFile, ocispec.Index{Manifests: []ocispec.Descriptor{s.top}})
		if !f.noDockerManifest {
			putJSON(archiveManifest, []dockerManifest{dm})
		}
	} else {
		dm := dockerManifest{Config: digest.FromBytes(s.config).Encoded() + ".json", RepoTags: im.RepoTags}
		for i, l := range s.layers {
			if !f.unverifiedSave && digest.FromBytes(l).String() != s.diffIDs[i] {
				if f.fileChecksums {
					hdr, err := tar.NewReader(bytes.NewReader(l)).Next()
					if err != nil {
						return nil, err
					}
					return nil, fmt.Errorf("Error response from daemon: file integrity checksum failed for %q", hdr.Name)
				}
				return nil, fmt.Errorf("Error response from daemon: could not verify layer data for: %s. This may be because internal files in the layer store were modified. Re-pulling or rebuilding this image may resolve the issue", s.diffIDs[i])
			}
			name := digest.FromString(fmt.Sprint(i, s.diffIDs[i])).Encoded() + "/layer.tar"
			put(name, l)
			dm.Layers = append(dm.Layers, name)
		}
		put(dm.Config, s.config)
		putJSON(archiveManifest, []dockerManifest{dm})
	}
	tw.Close()
	return io.NopCloser(&buf), nil
}

package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
)

// vendoredFor reads the linux/amd64 image of im from l, as Load does.
func vendoredFor(t testing.TB, l *layout.Layout, im config.Image) *vendored {
	t.Helper()
	idx, err := l.ReadIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	vs, err := readVendored(context.Background(), l, idx, im)
	if err != nil {
		t.Fatal(err)
	}
	v, err := pick(im.Name(), vs, platform.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.readConfig(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	return v
}

type tarEntry struct {
	name string
	size int64
	data []byte
	err  error
}

// readTar reads every entry it can; a cut archive ends with an entry
// whose err is set.
func readTar(r io.Reader) []tarEntry {
	var out []tarEntry
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			return append(out, tarEntry{err: err})
		}
		b, err := io.ReadAll(tr)
		out = append(out, tarEntry{name: hdr.Name, size: hdr.Size, data: b, err: err})
		if err != nil {
			return out
		}
	}
}

func TestWriteArchive(t *testing.T) {
	img := registrytest.Image(t, "linux/amd64", 3, 5000, 21, registrytest.Docker)
	l, im := writeImage(t, "docker.io/library/alpine:3.19.1", img, "linux/amd64")
	v := vendoredFor(t, l, im)
	var buf bytes.Buffer
	sent, err := writeArchive(context.Background(), &buf, l, []*vendored{v}, false, nil)
	if err != nil {
		t.Fatalf("writeArchive() = %v", err)
	}
	if n := sent[0]; n != v.size() {
		t.Errorf("writeArchive() wrote %d blob bytes, want %d", n, v.size())
	}
	entries := readTar(&buf)
	var names []string
	for _, e := range entries {
		if e.err != nil {
			t.Fatalf("reading the archive: %v", e.err)
		}
		names = append(names, e.name)
		if strings.HasPrefix(e.name, archiveBlobs) && len(e.name) > len(archiveBlobs) {
			if got := digest.FromBytes(e.data); got.Encoded() != strings.TrimPrefix(e.name, archiveBlobs) {
				t.Errorf("entry %s hashes to %s", e.name, got)
			}
		}
	}
	wantNames := []string{"blobs/", archiveBlobs, archiveBlobs + v.config.Digest.Encoded()}
	for _, d := range v.layers {
		wantNames = append(wantNames, archiveBlobs+d.Digest.Encoded())
	}
	wantNames = append(wantNames, archiveBlobs+v.manifest.Digest.Encoded(), "oci-layout", "index.json", "manifest.json")
	if strings.Join(names, " ") != strings.Join(wantNames, " ") {
		t.Errorf("archive entries = %v, want %v (manifest.json and index.json last)", names, wantNames)
	}

	var mf []dockerManifest
	if err := json.Unmarshal(entries[len(entries)-1].data, &mf); err != nil {
		t.Fatal(err)
	}
	if len(mf) != 1 || mf[0].Config != archiveBlobs+v.config.Digest.Encoded() || len(mf[0].Layers) != 3 || strings.Join(mf[0].RepoTags, ",") != "docker.io/library/alpine:3.19.1" {
		t.Errorf("manifest.json = %+v, want the config, 3 layers and the tag docker.io/library/alpine:3.19.1", mf)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(entries[len(entries)-2].data, &idx); err != nil {
		t.Fatal(err)
	}
	d := idx.Manifests[0]
	if len(idx.Manifests) != 1 || d.Digest != v.manifest.Digest || d.MediaType != v.manifest.MediaType || d.Size != v.manifest.Size ||
		d.Annotations[layout.AnnotationContainerName] != "docker.io/library/alpine:3.19.1" || d.Annotations[layout.AnnotationRefName] != "3.19.1" ||
		d.Platform == nil || d.Platform.Architecture != "amd64" {
		t.Errorf("index.json = %+v, want the amd64 manifest named docker.io/library/alpine:3.19.1", idx)
	}

	// The same image always streams the same bytes.
	var again bytes.Buffer
	if _, err := writeArchive(context.Background(), &again, l, []*vendored{v}, false, nil); err != nil {
		t.Fatal(err)
	}
	var first bytes.Buffer
	if _, err := writeArchive(context.Background(), &first, l, []*vendored{v}, false, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), again.Bytes()) {
		t.Errorf("writeArchive() is not deterministic")
	}
}

func TestWriteArchiveStopsAtABadBlob(t *testing.T) {
	for _, tc := range []struct {
		name      string
		layerSize int64
		tamper    func(b []byte) []byte
		want      error
		// sent is how many of the bad layer's bytes reach the engine.
		sent func(size int64) int64
	}{
		{"small layer, last byte", 1000, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, errs.ErrDigestMismatch, func(int64) int64 { return 0 }},
		{"large layer, last byte", 300_000, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, errs.ErrDigestMismatch, func(n int64) int64 { return n - holdBack }},
		{"large layer, first byte", 300_000, func(b []byte) []byte { b[0] ^= 1; return b }, errs.ErrDigestMismatch, func(n int64) int64 { return n - holdBack }},
		{"shorter", 300_000, func(b []byte) []byte { return b[:len(b)-1] }, errs.ErrSizeMismatch, func(int64) int64 { return 0 }},
		{"longer", 300_000, func(b []byte) []byte { return append(b, 1) }, errs.ErrSizeMismatch, func(int64) int64 { return 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := registrytest.Image(t, "linux/amd64", 2, tc.layerSize, 31, registrytest.OCI)
			l, im := writeImage(t, "registry.test/x:1", img, "linux/amd64")
			v := vendoredFor(t, l, im)
			bad := v.layers[0]
			path, err := l.BlobPath(bad.Digest)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.tamper(b), 0o644); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			_, err = writeArchive(context.Background(), &buf, l, []*vendored{v}, false, nil)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), layout.RelBlobPath(bad.Digest)) {
				t.Fatalf("writeArchive() with a bad layer = %v, want %v naming %s", err, tc.want, layout.RelBlobPath(bad.Digest))
			}
			badName := archiveBlobs + bad.Digest.Encoded()
			sent := int64(0)
			for _, e := range readTar(&buf) {
				if e.name == archiveManifest || e.name == layout.IndexFile {
					t.Errorf("the cut archive has %s", e.name)
				}
				if e.name == badName {
					if e.err == nil {
						t.Errorf("the cut archive has the whole bad layer")
					}
					sent = int64(len(e.data))
				}
			}
			if want := tc.sent(bad.Size); sent != want {
				t.Errorf("the engine got %d bytes of the bad layer, want %d (all but the held-back tail)", sent, want)
			}
		})
	}
}

func TestWriteArchiveCancelled(t *testing.T) {
	l, im := writeImage(t, "registry.test/x:1", registrytest.Image(t, "linux/amd64", 1, 500_000, 41, registrytest.OCI), "linux/amd64")
	v := vendoredFor(t, l, im)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := writeArchive(ctx, io.Discard, l, []*vendored{v}, false, func(int, int64) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("writeArchive() cancelled while streaming = %v, want context.Canceled", err)
	}
}

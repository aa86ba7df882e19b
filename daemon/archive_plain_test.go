package daemon

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
)

// TestWritePlainArchive: for the classic store, the layers go
// decompressed, each under its diff_id, with the config and manifest.json
// only; every entry hashes to its name.
func TestWritePlainArchive(t *testing.T) {
	img := registrytest.Image(t, "linux/amd64", 3, 200_000, 51, registrytest.Docker)
	l, im := writeImage(t, "docker.io/library/alpine:3.19.1", img, "linux/amd64")
	v := vendoredFor(t, l, im)
	if !plainable(v) {
		t.Fatalf("plainable(%s) = false, want true for gzip layers", v.name)
	}
	var buf bytes.Buffer
	var last int64
	sent, err := writeArchive(context.Background(), &buf, l, []*vendored{v}, true, func(_ int, n int64) { last = n })
	if err != nil {
		t.Fatalf("writeArchive(plain) = %v", err)
	}
	if n := sent[0]; n != v.size() || last != n {
		t.Errorf("writeArchive(plain) read %d stored bytes (progress %d), want every blob's, %d", n, last, v.size())
	}
	var names []string
	entries := readTar(&buf)
	for _, e := range entries {
		if e.err != nil {
			t.Fatal(e.err)
		}
		names = append(names, e.name)
		if enc, ok := strings.CutPrefix(e.name, archiveBlobs); ok && enc != "" {
			if got := digest.FromBytes(e.data); got.Encoded() != enc {
				t.Errorf("entry %s hashes to %s", e.name, got)
			}
		}
	}
	want := []string{"blobs/", archiveBlobs, archiveBlobs + v.config.Digest.Encoded()}
	for _, d := range v.diffIDs {
		want = append(want, archiveBlobs+d.Encoded())
	}
	want = append(want, archiveBlobs+v.manifest.Digest.Encoded(), archiveManifest)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("plain archive entries = %v, want %v", names, want)
	}
	var mf []dockerManifest
	if err := json.Unmarshal(entries[len(entries)-1].data, &mf); err != nil || len(mf) != 1 || len(mf[0].Layers) != 3 || mf[0].Layers[2] != archiveBlobs+v.diffIDs[2].Encoded() {
		t.Errorf("manifest.json = %+v (%v), want the layers by diff_id", mf, err)
	}
}

// TestWritePlainArchiveStopsAtABadLayer: a layer whose stored bytes changed
// (same size) never reaches the engine whole, decompressed or not, and
// manifest.json is never sent.
func TestWritePlainArchiveStopsAtABadLayer(t *testing.T) {
	img := registrytest.Image(t, "linux/amd64", 2, 300_000, 52, registrytest.OCI)
	l, im := writeImage(t, "registry.test/x:1", img, "linux/amd64")
	v := vendoredFor(t, l, im)
	bad := v.layers[1]
	path, _ := l.BlobPath(bad.Digest)
	b, _ := os.ReadFile(path)
	// A byte of the deflate data near the end: still inflates, to other bytes.
	b[len(b)-20] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err := writeArchive(context.Background(), &buf, l, []*vendored{v}, true, nil)
	if err == nil || !strings.Contains(err.Error(), layout.RelBlobPath(bad.Digest)) {
		t.Fatalf("writeArchive(plain) with a changed layer = %v, want an error naming %s", err, layout.RelBlobPath(bad.Digest))
	}
	if !errors.Is(err, errs.ErrDigestMismatch) {
		t.Errorf("writeArchive(plain) = %v, want a digest mismatch", err)
	}
	for _, e := range readTar(&buf) {
		if e.name == archiveManifest {
			t.Errorf("the cut plain archive has manifest.json")
		}
		if e.name == archiveBlobs+v.diffIDs[1].Encoded() && e.err == nil {
			t.Errorf("the cut plain archive has the whole changed layer")
		}
	}
}

// TestWritePlainArchiveTwoMembers: a layer of two gzip members (its
// trailer gives only the second's size) cannot go plain; the loader then
// sends the layers as stored.
func TestWritePlainArchiveTwoMembers(t *testing.T) {
	img := registrytest.Image(t, "linux/amd64", 1, 50_000, 53, registrytest.OCI)
	l, im := writeImage(t, "registry.test/x:1", img, "linux/amd64")
	v := vendoredFor(t, l, im)
	d := v.layers[0]
	path, _ := l.BlobPath(d.Digest)
	stored, _ := os.ReadFile(path)
	// Split the layer's tar into two members: same uncompressed bytes,
	// another blob.
	zr, err := gzip.NewReader(bytes.NewReader(stored))
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if _, err := plain.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	var two bytes.Buffer
	for _, part := range [][]byte{plain.Bytes()[:1000], plain.Bytes()[1000:]} {
		zw := gzip.NewWriter(&two)
		zw.Write(part)
		zw.Close()
	}
	nd := digest.FromBytes(two.Bytes())
	npath, _ := l.BlobPath(nd)
	if err := os.WriteFile(npath, two.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	v.layers[0].Digest, v.layers[0].Size = nd, int64(two.Len())
	_, err = writeArchive(context.Background(), &bytes.Buffer{}, l, []*vendored{v}, true, nil)
	if !errors.Is(err, errNotPlain) {
		t.Errorf("writeArchive(plain) of a two-member gzip layer = %v, want %v", err, errNotPlain)
	}
	var buf bytes.Buffer
	if _, err := writeArchive(context.Background(), &buf, l, []*vendored{v}, false, nil); err != nil {
		t.Errorf("writeArchive(as stored) of a two-member gzip layer = %v", err)
	}
}

func TestHoldBackWriter(t *testing.T) {
	for _, sizes := range [][]int{{10}, {holdBack}, {holdBack + 1}, {3, holdBack, 7}, {holdBack * 3}, {1, 1, 1, holdBack * 2, 5}} {
		var out bytes.Buffer
		h := &holdBackWriter{w: &out, tail: make([]byte, 0, holdBack)}
		var all []byte
		for i, n := range sizes {
			p := bytes.Repeat([]byte{byte('a' + i)}, n)
			all = append(all, p...)
			if _, err := h.Write(p); err != nil {
				t.Fatal(err)
			}
			if want := max(len(all)-holdBack, 0); out.Len() != want {
				t.Fatalf("holdBackWriter %v: after %d bytes, %d written, want %d", sizes, len(all), out.Len(), want)
			}
		}
		if err := h.flush(); err != nil || !bytes.Equal(out.Bytes(), all) {
			t.Errorf("holdBackWriter %v: wrote %d bytes (%v), want the %d given, in order", sizes, out.Len(), err, len(all))
		}
	}
}

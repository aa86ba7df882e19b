package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Epoch is the time written wherever an image has a timestamp (tar
// entries, the config's created, its history): the Unix epoch, so that the
// bytes depend on the inputs only, never on when they were built.
var Epoch = time.Unix(0, 0).UTC()

// Binary is where the program sits in the image's file system.
const Binary = "/probe"

// LayerTar returns the uncompressed tar of the image's only layer: the
// folder tmp/ (mode 1777, so that tests can write there) and the program
// at probe (mode 0755), in that name order, owned by 0:0, dated Epoch,
// with no user or group names and no extended headers.
func LayerTar(binary []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	entries := []struct {
		hdr  tar.Header
		body []byte
	}{
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: Binary[1:], Mode: 0o755, Size: int64(len(binary))}, body: binary},
		{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777}},
	}
	for _, e := range entries {
		h := e.hdr
		h.ModTime, h.Format = Epoch, tar.FormatUSTAR
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("writing layer entry %s: %w", h.Name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("writing layer entry %s: %w", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing layer: %w", err)
	}
	return buf.Bytes(), nil
}

// Gzip compresses b at the best compression level with a fixed header (no
// name, no comment, modification time 0), so that equal input gives equal
// output with a given Go version (compress/flate's output may change
// between Go releases).
func Gzip(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("compressing layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing layer: %w", err)
	}
	return buf.Bytes(), nil
}

// Layer returns the image's only layer holding binary (see LayerTar),
// gzip-compressed (see Gzip), with the OCI layer media type. The bytes are
// held in memory: the program is a couple of megabytes.
func Layer(binary []byte) (v1.Layer, error) {
	raw, err := LayerTar(binary)
	if err != nil {
		return nil, err
	}
	gz, err := Gzip(raw)
	if err != nil {
		return nil, err
	}
	// Given gzip bytes, tarball keeps them as the compressed blob and
	// gunzips them for the diff_id, rather than compressing again its way.
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

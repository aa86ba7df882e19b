package layout

import (
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Gzipped reports whether a layer of mediaType is stored gzip-compressed:
// OCI's +gzip suffix or Docker's .tar.gzip.
func Gzipped(mediaType string) bool {
	return strings.HasSuffix(mediaType, "+gzip") || strings.HasSuffix(mediaType, ".tar.gzip")
}

// Decompress returns the uncompressed bytes of a layer read from r and
// stored as mediaType: gunzipped (Gzipped), unzstd'ed (+zstd), or as they
// are for any other media type. Closing it releases the decompressor, not
// r.
func Decompress(r io.Reader, mediaType string) (io.ReadCloser, error) {
	switch {
	case Gzipped(mediaType):
		return gzip.NewReader(r)
	case strings.HasSuffix(mediaType, "+zstd"):
		zr, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}

package layout

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BenchmarkWriteBlob stores a 64 MiB blob: hashing, writing, fsync and
// rename, the path every downloaded layer takes. The source is a plain
// reader, as an HTTP body is (no WriterTo).
func BenchmarkWriteBlob(b *testing.B) {
	data := make([]byte, 64<<20)
	if _, err := rand.Read(data); err != nil {
		b.Fatal(err)
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(data), Size: int64(len(data))}
	l := New(b.TempDir())
	if err := l.Init(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := l.WriteBlob(context.Background(), desc, struct{ *bytes.Reader }{bytes.NewReader(data)}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

package daemon

import (
	"context"
	"io"
	"testing"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// BenchmarkWriteArchive measures building and rehashing the archive of a
// 4 x 16 MiB image, without an engine: the cost vendorimg load adds to the
// engine's own. The comparison with docker load is in scripts/bench.
// With plain, the layers are decompressed as the classic store gets them.
func BenchmarkWriteArchive(b *testing.B) {
	img := registrytest.Image(b, "linux/amd64", 4, 16<<20, 1, registrytest.OCI)
	l, im := writeImage(b, "registry.test/bench:1", img, "linux/amd64")
	v := vendoredFor(b, l, im)
	for _, plain := range []bool{false, true} {
		b.Run(archiveName(plain), func(b *testing.B) {
			b.SetBytes(v.size())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := writeArchive(context.Background(), io.Discard, l, []*vendored{v}, plain, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func archiveName(plain bool) string {
	if plain {
		return "plain"
	}
	return "as-stored"
}

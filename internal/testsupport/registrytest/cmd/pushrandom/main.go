// Command pushrandom pushes an image of random gzip-compressed tar layers
// to a registry, for benchmarks: pushrandom -ref 127.0.0.1:5000/bench:1
// -layers 4 -size 64MiB [-platforms linux/amd64,linux/arm64]. It prints
// the pushed digest. With -count N it pushes N different images, to -ref
// with its %d replaced by 0 to N-1 (-ref 127.0.0.1:5000/small/img%d:1),
// and prints one digest a line in that order. -compressible makes layers
// that gzip halves, like real ones, rather than incompressible random bytes.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func main() {
	ref := flag.String("ref", "", "where to push, e.g. 127.0.0.1:5000/bench:1")
	layers := flag.Int("layers", 4, "number of layers")
	size := flag.String("size", "64MiB", "size of each layer's file (KiB, MiB suffixes)")
	platforms := flag.String("platforms", "linux/amd64", "comma-separated platforms; more than one pushes an index")
	count := flag.Int("count", 1, "number of different images to push; -ref then needs a %d, replaced by 0 to count-1")
	flag.BoolVar(&compressible, "compressible", false, "fill layers with random letters of a 16-letter alphabet (gzip halves them) instead of random bytes (gzip cannot shrink them)")
	flag.Parse()
	if *count != 1 && !strings.Contains(*ref, "%d") {
		fmt.Fprintf(os.Stderr, "pushrandom: -count needs a %s in -ref\n", "%d")
		os.Exit(2)
	}
	for i := 0; i < *count; i++ {
		r := *ref
		if *count != 1 {
			r = fmt.Sprintf(*ref, i)
		}
		if err := run(r, *layers, *size, strings.Split(*platforms, ",")); err != nil {
			fmt.Fprintln(os.Stderr, "pushrandom:", err)
			os.Exit(1)
		}
	}
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "MiB"):
		mult, s = 1<<20, strings.TrimSuffix(s, "MiB")
	case strings.HasSuffix(s, "KiB"):
		mult, s = 1<<10, strings.TrimSuffix(s, "KiB")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}

// compressible is the -compressible flag: layers of real images compress,
// random bytes do not, and an engine's cost of decompressing differs.
var compressible bool

func layer(size int64) (v1.Layer, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "random.bin", Size: size, Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	chunk := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(chunk)) {
		n := min(left, int64(len(chunk)))
		if _, err := rand.Read(chunk[:n]); err != nil {
			return nil, err
		}
		if compressible {
			for i, c := range chunk[:n] {
				chunk[i] = 'a' + c&15
			}
		}
		if _, err := tw.Write(chunk[:n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	// tarball computes the diff_id from the uncompressed tar (static would
	// use the gzip's digest, which docker load rejects).
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, tarball.WithMediaType(types.OCILayer))
}

func image(p string, layers int, size int64) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i := 0; i < layers; i++ {
		l, err := layer(size)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return nil, err
		}
	}
	pl, err := v1.ParsePlatform(p)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = pl.OS, pl.Architecture, pl.Variant
	return mutate.ConfigFile(img, cf)
}

func run(ref string, layers int, sizeStr string, platforms []string) error {
	size, err := parseSize(sizeStr)
	if err != nil {
		return fmt.Errorf("-size %q: %w", sizeStr, err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	if len(platforms) == 1 {
		img, err := image(platforms[0], layers, size)
		if err != nil {
			return err
		}
		if err := remote.Write(r, img); err != nil {
			return err
		}
		d, _ := img.Digest()
		fmt.Println(d)
		return nil
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		img, err := image(p, layers, size)
		if err != nil {
			return err
		}
		pl, _ := v1.ParsePlatform(p)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: pl}})
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		return err
	}
	d, _ := idx.Digest()
	fmt.Println(d)
	return nil
}

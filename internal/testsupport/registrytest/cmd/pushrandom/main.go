// Command pushrandom pushes an image of random gzip-compressed tar layers
// to a registry, for benchmarks: pushrandom -ref 127.0.0.1:5000/bench:1
// -layers 4 -size 64MiB [-platforms linux/amd64,linux/arm64]. It prints
// the pushed digest. With -count N it pushes N different images, to -ref
// with its %d replaced by 0 to N-1 (-ref 127.0.0.1:5000/small/img%d:1),
// and prints one digest a line in that order. -compressible makes layers
// that gzip halves, like real ones, rather than incompressible random bytes.
//
// For a realistic set of many images (scripts/bench's scale group):
// -layers MIN-MAX gives image i of -count MIN + i%(MAX-MIN+1) layers, and
// -shared K makes the first half of each image's layers (at most K) come
// from a base of K layers per platform that every image of the run shares,
// as images built on one base image do.
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
	layersFlag := flag.String("layers", "4", "number of layers, or MIN-MAX: image i of -count gets MIN + i%(MAX-MIN+1)")
	shared := flag.Int("shared", 0, "size of a base of layers per platform shared by every image of the run: each image's first half of layers (at most this many) come from it")
	size := flag.String("size", "64MiB", "size of each layer's file (KiB, MiB suffixes)")
	platforms := flag.String("platforms", "linux/amd64", "comma-separated platforms; more than one pushes an index")
	count := flag.Int("count", 1, "number of different images to push; -ref then needs a %d, replaced by 0 to count-1")
	flag.BoolVar(&compressible, "compressible", false, "fill layers with random letters of a 16-letter alphabet (gzip halves them) instead of random bytes (gzip cannot shrink them)")
	flag.Parse()
	if *count != 1 && !strings.Contains(*ref, "%d") {
		fmt.Fprintf(os.Stderr, "pushrandom: -count needs a %s in -ref\n", "%d")
		os.Exit(2)
	}
	lo, hi, err := parseRange(*layersFlag)
	if err != nil || *shared < 0 {
		fmt.Fprintf(os.Stderr, "pushrandom: -layers %q -shared %d: want N or MIN-MAX with 1 <= MIN <= MAX, and -shared >= 0\n", *layersFlag, *shared)
		os.Exit(2)
	}
	layerSize, err := parseSize(*size)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pushrandom: -size %q: %v\n", *size, err)
		os.Exit(2)
	}
	base := map[string][]v1.Layer{}
	for i := 0; i < *count; i++ {
		r := *ref
		if *count != 1 {
			r = fmt.Sprintf(*ref, i)
		}
		layers := lo + i%(hi-lo+1)
		if err := run(r, layers, min(layers/2, *shared), *shared, layerSize, strings.Split(*platforms, ","), base); err != nil {
			fmt.Fprintln(os.Stderr, "pushrandom:", err)
			os.Exit(1)
		}
	}
}

// parseRange parses N or MIN-MAX.
func parseRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = strconv.Atoi(a); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = strconv.Atoi(b); err != nil {
			return 0, 0, err
		}
	}
	if lo < 1 || hi < lo {
		return 0, 0, fmt.Errorf("bad range %q", s)
	}
	return lo, hi, nil
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

// image makes an image of platform p with layers layers of size bytes,
// the first fromBase of them the platform's shared base layers (made on
// first use, baseSize of them, and kept in base).
func image(p string, layers, fromBase, baseSize int, size int64, base map[string][]v1.Layer) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for len(base[p]) < baseSize {
		l, err := layer(size)
		if err != nil {
			return nil, err
		}
		base[p] = append(base[p], l)
	}
	for i := 0; i < layers; i++ {
		var l v1.Layer
		var err error
		if i < fromBase {
			l = base[p][i]
		} else if l, err = layer(size); err != nil {
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

// run pushes one image (one platform) or index (several) to ref.
func run(ref string, layers, fromBase, baseSize int, size int64, platforms []string, base map[string][]v1.Layer) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	if len(platforms) == 1 {
		img, err := image(platforms[0], layers, fromBase, baseSize, size, base)
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
		img, err := image(p, layers, fromBase, baseSize, size, base)
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

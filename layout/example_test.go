package layout_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
)

// Example stores a one-layer image by hand: each blob is verified as it
// is written, index.json is written last, and Verify rehashes everything.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "vendorimg-layout-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	l := layout.New(filepath.Join(dir, "testdata", "images"))
	if err := l.Init(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	put := func(mediaType string, data []byte) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
		if err := l.WriteBlobBytes(ctx, d, data); err != nil {
			fmt.Println(err)
		}
		return d
	}
	layer := put(ocispec.MediaTypeImageLayer, []byte("not really a tar, but verify only hashes it"))
	config := put(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["`+layer.Digest.String()+`"]}}`))
	top := put(ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"`+config.MediaType+`","digest":"`+config.Digest.String()+`","size":`+fmt.Sprint(config.Size)+`},"layers":[{"mediaType":"`+layer.MediaType+`","digest":"`+layer.Digest.String()+`","size":`+fmt.Sprint(layer.Size)+`}]}`))

	const name = "registry.example.test/demo:v1"
	if _, err := l.WriteIndex(context.Background(), []ocispec.Descriptor{layout.Entry(top, name)}); err != nil {
		fmt.Println(err)
		return
	}

	amd64, _ := platform.ParseSelection([]string{"linux/amd64"})
	report, err := l.Verify(ctx, layout.VerifyOptions{Images: []layout.Expect{{Name: name, Digest: top.Digest, Platforms: amd64}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ok:", report.OK(), "blobs:", report.Blobs, "platforms:", report.Images[0].Platforms)

	// One changed byte is found, with the file it is in.
	path, _ := l.BlobPath(layer.Digest)
	if err := os.WriteFile(path, []byte("Not really a tar, but verify only hashes it"), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	report, err = l.Verify(ctx, layout.VerifyOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range report.Findings {
		fmt.Println(f.Kind, f.Path == layout.RelBlobPath(layer.Digest), f.Expected == layer.Digest.String())
	}
	// Output:
	// ok: true blobs: 3 platforms: [linux/amd64]
	// digest true true
}

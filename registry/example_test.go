package registry_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/vendorimg/vendorimg/reference"
	"github.com/vendorimg/vendorimg/registry"
)

// Resolve turns a tag into the digest to pin. Here an in-process registry on
// 127.0.0.1 stands in for a real one (plain http is allowed to loopback
// hosts), holding a one-layer image pushed under demo/hello:1.
func ExampleNewClient() {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	if err := pushHello(host + "/demo/hello:1"); err != nil {
		log.Fatal(err)
	}

	// This registry needs no credentials; by default the client reads them
	// from the docker config, as docker does.
	client := registry.NewClient(registry.WithKeychain(authn.NewMultiKeychain()))
	ref, err := reference.Parse(host + "/demo/hello:1")
	if err != nil {
		log.Fatal(err)
	}
	desc, err := client.Resolve(context.Background(), ref)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(desc.MediaType)
	fmt.Println(desc.Digest)
	fmt.Println(desc.Size, "bytes")
	// Output:
	// application/vnd.oci.image.manifest.v1+json
	// sha256:4b630cafb2f68ac083f91ed1e4787b41003a6e172c6eb743237d60be39fad657
	// 395 bytes
}

// pushHello pushes a small, reproducible OCI image to ref.
func pushHello(ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer([]byte("hello from vendorimg\n"), types.OCIUncompressedLayer))
	if err != nil {
		return err
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	return remote.Write(r, img)
}

package registry_test

import (
	"context"
	"fmt"
	"log"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/reference"
	"github.com/vendorimg/vendorimg/registry"
)

// Resolve turns a tag into the digest to pin. Here an in-process registry on
// 127.0.0.1 stands in for a real one (plain http is allowed to loopback
// hosts), holding a one-layer image pushed under demo/hello:1.
func ExampleNewClient() {
	host, stop := registrytest.Serve()
	defer stop()
	if _, err := registrytest.PushFile(host+"/demo/hello:1", "amd64", "hello.txt", []byte("hello from vendorimg\n")); err != nil {
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
	// sha256:ba1410aba0d2bd76994ac8c352c1535f1b043c4902ce44508c5740c131b8ed5f
	// 397 bytes
}

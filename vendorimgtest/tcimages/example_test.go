package tcimages_test

import (
	"fmt"
	"log"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/vendorimgtest/tcimages"
)

// Every form of a vendored image's name becomes the tag vendorimg load
// gives it; anything else is refused.
func ExampleSubstitutor_Substitute() {
	cfg, err := config.Parse("/src/project/vendorimg.yaml", []byte(`
images:
  - ref: docker.io/library/alpine:3.19.1
    digest: sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b
    platforms: [linux/amd64, linux/arm64]
`))
	if err != nil {
		log.Fatal(err)
	}
	sub, err := tcimages.NewSubstitutor(cfg)
	if err != nil {
		log.Fatal(err)
	}
	for _, image := range []string{
		"alpine:3.19.1",
		"docker.io/library/alpine:3.19.1",
		"alpine:3.19.1@sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b",
		"alpine:3.20",
	} {
		tag, err := sub.Substitute(image)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(tag)
	}
	// Output:
	// alpine:3.19.1
	// alpine:3.19.1
	// alpine:3.19.1
	// error: image alpine:3.20 is not vendored in /src/project/vendorimg.yaml, and offline it cannot be pulled (vendor it with: vendorimg add docker.io/library/alpine:3.20)
}

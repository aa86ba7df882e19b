package tcimages_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

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

// Start a container from a vendored image named by its pin, and terminate
// it (without the reaper, nothing else will). The image must be loaded
// first (vendorimg load, daemon.Load, or the vendorimgtest package's Main),
// and the package's TestMain turns the reaper off:
//
//	func TestMain(m *testing.M) {
//		if err := tcimages.DisableReaper(); err != nil {
//			log.Fatal(err)
//		}
//		os.Exit(m.Run())
//	}
func Example_genericContainer() {
	ctx := context.Background()
	sub, err := tcimages.FindSubstitutor(".")
	if err != nil {
		log.Fatal(err)
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:             "alpine:3.19.1@sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b",
			Cmd:               []string{"echo", "ready"},
			ImageSubstitutors: []testcontainers.ImageSubstitutor{sub},
			WaitingFor:        wait.ForExit(),
		},
		Started: true,
	})
	defer testcontainers.TerminateContainer(ctr)
	if err != nil {
		log.Fatal(err)
	}
	logs, err := ctr.Logs(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer logs.Close()
	io.Copy(os.Stdout, logs)
}

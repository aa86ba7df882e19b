package daemon_test

import (
	"context"
	"fmt"
	"log"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/layout"
)

func ExampleEnginePlatform() {
	// What docker's /info reports on a Raspberry Pi and on a server.
	for _, arch := range []string{"armv7l", "x86_64", "aarch64"} {
		p, err := daemon.EnginePlatform("linux", arch)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(arch, "->", p)
	}
	// Output:
	// armv7l -> linux/arm/v7
	// x86_64 -> linux/amd64
	// aarch64 -> linux/arm64
}

// Load every image of vendorimg.yaml into docker before the tests, and
// check after them that docker still holds exactly those images.
func ExampleLoad() {
	ctx := context.Background()
	cfg, err := config.Load(ctx, "vendorimg.yaml")
	if err != nil {
		log.Fatal(err)
	}
	c, err := daemon.NewClient()
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	l := layout.New(cfg.LayoutDir())
	rep, err := daemon.Load(ctx, c, l, cfg.Images, daemon.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, im := range rep.Images {
		fmt.Println(im.Tag, im.Platform, im.Action, im.ImageID)
	}

	// ... run the tests ...

	vr, err := daemon.Verify(ctx, c, l, cfg.Images, daemon.VerifyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range vr.Findings {
		fmt.Println(f)
	}
}

package daemon_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/registry"
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

// Load vendored images into docker before the tests, prove after them
// that docker still holds exactly those images, and take them out again.
// Here the layout is made on the spot from an in-process registry; a
// project loads the one it commits (config.Load of its vendorimg.yaml).
func ExampleLoad() {
	ctx := context.Background()
	cfg, stop := exampleLayout(ctx)
	defer stop()
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
		fmt.Println(im.Tag, im.Action)
	}

	// ... run the tests ...

	check, err := daemon.Check(ctx, c, cfg, daemon.CheckOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("intact:", check.OK)

	un, err := daemon.Unload(ctx, c, l, cfg.Images, daemon.UnloadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, im := range un.Images {
		fmt.Println(im.Tag, im.Action)
	}
	// Output:
	// example.vendorimg.test/hello:1 loaded
	// intact: true
	// example.vendorimg.test/hello:1 removed
}

// exampleLayout vendors a one-layer image, example.vendorimg.test/hello:1,
// unique to this run, into a new folder, through an in-process registry
// that stands in for the real one (a mirror of the .test name).
func exampleLayout(ctx context.Context) (*config.Config, func()) {
	host, stop := registrytest.Serve()
	nonce := fmt.Sprintf("hello from vendorimg, run %d\n", time.Now().UnixNano())
	d, err := registrytest.PushFile(host+"/hello:1", runtime.GOARCH, "hello.txt", []byte(nonce))
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "vendorimg-daemon-example-")
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, config.FileName), []byte(fmt.Sprintf("images:\n  - ref: example.vendorimg.test/hello:1\n    digest: %s\n    platforms: [linux/%s]\n", d, runtime.GOARCH)))
	if err != nil {
		log.Fatal(err)
	}
	client := registry.NewClient(registry.WithKeychain(authn.NewMultiKeychain()), registry.WithMirrors(map[string]string{"example.vendorimg.test": host}))
	if _, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Client: client}); err != nil {
		log.Fatal(err)
	}
	return cfg, func() { stop(); os.RemoveAll(dir) }
}

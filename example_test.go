package vendorimg_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
	"github.com/vendorimg/vendorimg/registry"
	"github.com/vendorimg/vendorimg/sigverify"
)

// exampleRegistry serves a small, reproducible linux/amd64 image as
// demo/hello:1 from an in-process registry on 127.0.0.1, standing in for a
// real one (loopback registries may be plain http). It returns the
// registry's host, the image's digest, a client that needs no
// credentials, and a function that stops the registry.
func exampleRegistry() (host string, pin digest.Digest, client *registry.Client, stop func()) {
	host, stop = registrytest.Serve()
	pin, err := registrytest.PushFile(host+"/demo/hello:1", "amd64", "hello.txt", []byte("hello from vendorimg\n"))
	if err != nil {
		log.Fatal(err)
	}
	// By default vendorimg reads credentials from the docker config.
	client = registry.NewClient(registry.WithKeychain(authn.NewMultiKeychain()))
	return host, pin, client, stop
}

// exampleProject is a vendorimg.yaml pinning demo/hello:1 in a new
// folder, as a project would commit it.
func exampleProject(host string, pin digest.Digest) *config.Config {
	dir, err := os.MkdirTemp("", "vendorimg-example-")
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, config.FileName)
	cfg, err := config.Parse(path, []byte(fmt.Sprintf(`layout: testdata/images
images:
  - ref: %s/demo/hello:1
    digest: %s
    platforms: [linux/amd64]
`, host, pin)))
	if err != nil {
		log.Fatal(err)
	}
	return cfg
}

// Add resolves a tag to the digest the registry serves, pins it in
// vendorimg.yaml (created here) and vendors the image.
func ExampleAdd() {
	ctx := context.Background()
	host, _, client, stop := exampleRegistry()
	defer stop()
	dir, err := os.MkdirTemp("", "vendorimg-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cfg, err := config.New(filepath.Join(dir, config.FileName))
	if err != nil {
		log.Fatal(err)
	}
	ref, err := reference.Parse(host + "/demo/hello:1")
	if err != nil {
		log.Fatal(err)
	}
	amd64, err := platform.ParseSelection([]string{"linux/amd64"})
	if err != nil {
		log.Fatal(err)
	}
	res, err := vendorimg.Add(ctx, cfg, vendorimg.AddOptions{Ref: ref, Platforms: amd64, SyncOptions: vendorimg.SyncOptions{Client: client}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pinned", strings.TrimPrefix(res.Name, host+"/"), "at", res.Digest)
	fmt.Println(res.MediaType, res.Platforms)
	fmt.Println("fetched", res.Sync.Fetched, "blobs")
	// Output:
	// pinned demo/hello:1 at sha256:ba1410aba0d2bd76994ac8c352c1535f1b043c4902ce44508c5740c131b8ed5f
	// application/vnd.oci.image.manifest.v1+json [linux/amd64]
	// fetched 3 blobs
}

// Sync vendors what vendorimg.yaml pins; on a complete layout it is a
// no-op that makes no request at all.
func ExampleSync() {
	ctx := context.Background()
	host, pin, client, stop := exampleRegistry()
	defer stop()
	cfg := exampleProject(host, pin)
	defer os.RemoveAll(cfg.Dir())

	res, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Client: client})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("fetched", res.Fetched, "blobs,", res.FetchedBytes, "bytes")
	again, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Offline: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("offline again: up to date", again.UpToDate)
	// Output:
	// fetched 3 blobs, 2688 bytes
	// offline again: up to date true
}

// Verify rehashes every blob and checks the layout against the pins.
func ExampleVerify() {
	ctx := context.Background()
	host, pin, client, stop := exampleRegistry()
	defer stop()
	cfg := exampleProject(host, pin)
	defer os.RemoveAll(cfg.Dir())
	if _, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Client: client}); err != nil {
		log.Fatal(err)
	}

	rep, err := vendorimg.Verify(ctx, cfg, vendorimg.VerifyOptions{Deep: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ok", rep.OK(), "blobs", rep.Blobs)

	// One flipped byte in the layer is found, and named.
	layer := filepath.Join(cfg.LayoutDir(), "blobs", "sha256", "5551eb0f05e98667ee3d7a989adb58df4f7124fb8c229baa47c72fe269ea07fc")
	b, err := os.ReadFile(layer)
	if err != nil {
		log.Fatal(err)
	}
	b[0] ^= 1
	if err := os.WriteFile(layer, b, 0o644); err != nil {
		log.Fatal(err)
	}
	rep, err = vendorimg.Verify(ctx, cfg, vendorimg.VerifyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range rep.Findings {
		fmt.Println(f.Kind, f.Path)
	}
	// Output:
	// ok true blobs 3
	// digest blobs/sha256/5551eb0f05e98667ee3d7a989adb58df4f7124fb8c229baa47c72fe269ea07fc
}

// Status says, without the network and without rehashing layers, what
// the layout holds of each pinned image.
func ExampleStatus() {
	ctx := context.Background()
	host, pin, client, stop := exampleRegistry()
	defer stop()
	cfg := exampleProject(host, pin)
	defer os.RemoveAll(cfg.Dir())

	before, err := vendorimg.Status(ctx, cfg, vendorimg.StatusOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Client: client}); err != nil {
		log.Fatal(err)
	}
	after, err := vendorimg.Status(ctx, cfg, vendorimg.StatusOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, st := range []*vendorimg.StatusReport{before, after} {
		im := st.Images[0]
		fmt.Println("complete", im.Complete, "missing", len(im.Missing), "vendored", im.Vendored)
	}
	// Output:
	// complete false missing 1 vendored []
	// complete true missing 0 vendored [linux/amd64]
}

// GC deletes blobs nothing in the layout references; with dryRun it only
// says what it would delete.
func ExampleGC() {
	ctx := context.Background()
	host, pin, client, stop := exampleRegistry()
	defer stop()
	cfg := exampleProject(host, pin)
	defer os.RemoveAll(cfg.Dir())
	if _, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Client: client}); err != nil {
		log.Fatal(err)
	}
	// A blob left by an image that is no longer vendored.
	stray := []byte("an old layer\n")
	path := filepath.Join(cfg.LayoutDir(), "blobs", "sha256", digest.FromBytes(stray).Encoded())
	if err := os.WriteFile(path, stray, 0o644); err != nil {
		log.Fatal(err)
	}

	plan, err := vendorimg.GC(ctx, cfg, vendorimg.GCOptions{DryRun: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, g := range plan.Remove {
		fmt.Println("would remove", g.Path, g.Reason, g.Size, "bytes")
	}
	fmt.Println("kept", plan.Kept)
	// Output:
	// would remove blobs/sha256/454d84d36962e86e62fb51443d7a71033885f4826b60ec3b7dfac36bf6b0026f unreferenced 13 bytes
	// kept 3
}

// Check runs the vendorimg-sigverify program for the verify: policies by
// default; with Signatures set to sigverify.Verify it checks them in this
// process instead (which links the Sigstore libraries into the caller).
// Here the policy's key signed nothing that was vendored.
func ExampleCheck_signatures() {
	ctx := context.Background()
	host, pin, client, stop := exampleRegistry()
	defer stop()
	dir, err := os.MkdirTemp("", "vendorimg-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cosign.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		log.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, config.FileName), []byte(fmt.Sprintf(`layout: testdata/images
referrers: [signatures]
verify: {key: cosign.pub}
images:
  - ref: %s/demo/hello:1
    digest: %s
    platforms: [linux/amd64]
`, host, pin)))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Client: client}); err != nil {
		log.Fatal(err)
	}

	rep, err := vendorimg.Check(ctx, cfg, vendorimg.CheckOptions{Signatures: sigverify.Verify})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ok", rep.OK)
	for _, f := range rep.Layout.Findings {
		fmt.Println(f.Kind, f.Message)
	}
	// Output:
	// ok false
	// signature no valid signature: sha256:ba1410aba0d2bd76994ac8c352c1535f1b043c4902ce44508c5740c131b8ed5f: no signature is vendored
}

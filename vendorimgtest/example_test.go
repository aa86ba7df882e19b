package vendorimgtest_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// A package's TestMain, in its main_test.go: load the vendored images into
// docker once, run the tests, and fail the run if a test changed an image.
func ExampleMain() {
	var m *testing.M // TestMain(m *testing.M) receives it
	os.Exit(vendorimgtest.Main(m, vendorimgtest.Options{
		Images: []string{"alpine:3.19.1"}, // default: every image of vendorimg.yaml
		Deep:   true,                      // also check layers against diff_ids after the tests
	}))
}

// A test that runs a container from a vendored image, never pulling it.
func ExampleImage() {
	testGreeting := func(t *testing.T) {
		alpine := vendorimgtest.Image(t, "alpine:3.19.1") // skips without a docker engine
		out, err := exec.Command("docker", "run", "--rm", "--pull", "never", alpine.Ref, "echo", "hello").Output()
		if err != nil {
			t.Fatalf("docker run %s: %v", alpine.Ref, err)
		}
		if string(out) != "hello\n" {
			t.Errorf("docker run %s echo hello = %q, want %q", alpine.Ref, out, "hello\n")
		}
	}
	_ = testGreeting
}

// Lookup finds the image this package's TestMain loaded, by any name that
// normalises to its reference; docker knows it under probe.Ref, with the ID
// its image store gives it (docker run --pull never probe.Ref runs it).
func ExampleLookup() {
	probe, err := vendorimgtest.Lookup(context.Background(), "registry.vendorimg.test/probe:1")
	if err != nil {
		log.Fatal(err)
	}
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", probe.Ref).Output()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(probe.Ref, probe.Name)
	fmt.Println(strings.TrimSpace(string(out)) == probe.ID)
	// Output:
	// registry.vendorimg.test/probe:1 registry.vendorimg.test/probe:1
	// true
}

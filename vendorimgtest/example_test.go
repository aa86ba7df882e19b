package vendorimgtest_test

import (
	"context"
	"fmt"
	"log"
	"os/exec"
	"strings"

	"github.com/vendorimg/vendorimg/vendorimgtest"
)

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

package vendorimgtest_test

import (
	"context"
	"fmt"
	"log"
	"os/exec"

	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// Lookup finds the image this package's TestMain loaded, by any name that
// normalises to its reference, and a container runs from it without a pull.
func ExampleLookup() {
	probe, err := vendorimgtest.Lookup(context.Background(), "registry.vendorimg.test/probe:1")
	if err != nil {
		log.Fatal(err)
	}
	out, err := exec.Command("docker", "run", "--rm", "--pull", "never", probe.Ref, "echo", "hello").Output()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(probe.Ref, probe.Name)
	fmt.Print(string(out))
	// Output:
	// registry.vendorimg.test/probe:1 registry.vendorimg.test/probe:1
	// hello
}

package systemtest_test

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the system tests from the module's root, where they
// find cmd/vendorimg, scripts/ and renovate/ as a user's checkout has
// them.
func TestMain(m *testing.M) {
	if err := os.Chdir(".."); err != nil {
		fmt.Fprintln(os.Stderr, "systemtest:", err)
		os.Exit(1)
	}
	if _, err := os.Stat("go.mod"); err != nil {
		fmt.Fprintln(os.Stderr, "systemtest: the folder above systemtest is not the module's root:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

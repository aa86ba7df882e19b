package vendorimgtest_test

import (
	"os"
	"testing"

	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// TestMain dogfoods the package: the repository's vendorimg.yaml (found
// from this folder upwards) is loaded once for every test and example
// here, and checked after them. Some tests change docker's copy of the
// image on purpose (and restore it), hence the exclusive lock. A scenario
// process that a test starts (VENDORIMGTEST_HELPER set) takes no lock: its
// parent holds it.
func TestMain(m *testing.M) {
	opts := vendorimgtest.Options{Deep: true, DeepDaemon: true, Lock: vendorimgtest.LockExclusive}
	if os.Getenv("VENDORIMGTEST_HELPER") != "" {
		opts.Lock = vendorimgtest.LockNone
		// A scenario may change the layout: it runs on a copy.
		opts.Config = os.Getenv("VENDORIMGTEST_CONFIG")
	}
	os.Exit(vendorimgtest.Main(m, opts))
}

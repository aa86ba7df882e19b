package e2e_test

import (
	"os"
	"testing"

	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// TestMain loads the vendored image once for the whole suite and, after
// it, proves that neither the layout (rehashed, layers decompressed) nor
// docker's image changed. The lock is exclusive: several tests break
// docker's copy of the image on purpose (and restore it).
func TestMain(m *testing.M) {
	os.Exit(vendorimgtest.Main(m, vendorimgtest.Options{Deep: true, Lock: vendorimgtest.LockExclusive}))
}

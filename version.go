package vendorimg

import "github.com/vendorimg/vendorimg/internal/version"

// Version is the module version vendorimg was built from ("(devel)" in a
// work tree).
func Version() string { return version.Module() }

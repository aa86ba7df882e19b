// Package version says which module version this build of vendorimg came
// from, for the root package's Version and the registry client's
// User-Agent.
package version

import "runtime/debug"

// Module is the module version vendorimg was built from ("(devel)" in a
// work tree).
func Module() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == "github.com/vendorimg/vendorimg" {
				return dep.Version
			}
		}
		if bi.Main.Path == "github.com/vendorimg/vendorimg" && bi.Main.Version != "" {
			return bi.Main.Version
		}
	}
	return "(devel)"
}

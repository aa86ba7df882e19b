package vendorimg

import "runtime/debug"

// Version is the module version vendorimg was built from ("(devel)" in a
// work tree).
func Version() string {
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

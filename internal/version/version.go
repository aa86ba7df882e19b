// Package version says which version and commit this build of vendorimg
// came from, for the root package's Version and Commit and the registry
// client's User-Agent.
package version

import "runtime/debug"

// version and commit are set by the release build (scripts/release) with
// -ldflags "-X github.com/vendorimg/vendorimg/internal/version.version=v1.2.3
// -X github.com/vendorimg/vendorimg/internal/version.commit=HASH": a release
// is built with -buildvcs=false so that its bytes do not depend on the
// checkout's state, and so carries no VCS stamps to read them from.
var version, commit string

// Module is the version vendorimg was built from: the release's
// ("v1.2.3"), else the module version go install recorded, else
// "(devel)" (a build in a work tree).
func Module() string {
	if version != "" {
		return version
	}
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

// Commit is the git commit vendorimg was built from: the release's, else
// the one go build stamped from a checkout ("-dirty" appended when the
// checkout had changes), else "" (go install of a module version records
// none).
func Commit() string {
	if commit != "" {
		return commit
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}

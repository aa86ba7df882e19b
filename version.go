package vendorimg

import "github.com/vendorimg/vendorimg/internal/version"

// Version is the version vendorimg was built from: the release's
// ("v1.2.3", set by scripts/release), else the module version go install
// recorded, else "(devel)" (a build in a work tree).
func Version() string { return version.Module() }

// Commit is the git commit vendorimg was built from: the release's, else
// the one go build stamped from a checkout ("-dirty" appended when the
// checkout had changes), else "" (go install of a module version records
// none).
func Commit() string { return version.Commit() }

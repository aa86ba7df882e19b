// Package systemtest holds vendorimg's system tests: the scenarios that
// start the real components (the distribution registry, the vendorimg
// binary, docker engines, skopeo, umoci, crane, regctl, strace) and check
// the promises of DESIGN.md end to end, from the outside. It has no code
// of its own; the fast tests of each package are beside that package's
// code, and the tests of the engine-facing harness are in e2e and
// vendorimgtest.
//
// The tests find the module's root (scripts/, cmd/vendorimg, renovate/)
// one folder up from this one.
package systemtest

// Package pytest holds no Go code: its folder is the pytest example, a
// conftest.py whose session-scoped fixture runs "vendorimg load" before a
// pytest session and "vendorimg verify --daemon" after it, failing the
// session if a vendored image changed, and a test module that runs
// containers from the vendored image offline (see README.md there).
//
// Its Go test runs the example with Debian's python3-pytest, as part of
// go test ./..., and proves that a session which moves the vendored image's
// tag fails, naming the tag.
package pytest

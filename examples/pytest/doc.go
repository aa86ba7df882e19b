// Package pytest holds no Go code: its folder is the pytest example, a
// small project whose tests run containers from the vendored image through
// the pytest-vendorimg plugin (python/pytest-vendorimg), switched on by one
// line of pytest.ini (see README.md there).
//
// Its Go test, part of go test ./..., installs the plugin from the checkout
// into a virtual environment made with Debian's python3 and runs, with
// Debian's pytest and pytest-xdist: the plugin's own tests; the example
// with -n 2, which must load the image once for both workers; a suite
// whose tests change the image, which must fail naming the tag and the
// blob; a suite whose code under test pulls its image by a Docker Hub
// name, which must get the vendored bytes from vendorimg serve as the
// engine's registry mirror; and the example with no engine, whose tests
// must skip, or fail under VENDORIMG_REQUIRE_DOCKER=1.
package pytest

// Package vendorimgtest is the session-scoped fixture for Go tests that run
// containers from vendored images: a package's TestMain loads the images of
// vendorimg.yaml into docker once, before the package's tests, and after
// them proves that neither the layout nor docker's images changed.
//
// In a package's main_test.go:
//
//	func TestMain(m *testing.M) {
//		os.Exit(vendorimgtest.Main(m, vendorimgtest.Options{}))
//	}
//
// and in its tests:
//
//	func TestGreeting(t *testing.T) {
//		alpine := vendorimgtest.Image(t, "alpine:3.19.1")
//		out, err := exec.Command("docker", "run", "--rm", "--pull", "never", alpine.Ref, "echo", "hi").Output()
//		...
//	}
//
// Main finds vendorimg.yaml like the vendorimg command and go.mod are found:
// in the current folder (a test binary runs in its package's folder) or the
// nearest parent. It loads the configured images (all, or Options.Images)
// with daemon.Load, from the layout on disk and never from a registry; an
// image already in docker under its tag is skipped in milliseconds. A load
// that fails runs no test: Main prints which image failed and why, and
// returns 1. After the tests it rehashes every blob of the layout
// (vendorimg.Verify, Options.Deep to also decompress layers) and checks that
// each loaded image's tag still points to the vendored image
// (daemon.Verify; Options.DeepDaemon to also export each image from docker
// and rehash it, which finds a file changed inside the engine's storage);
// if anything changed (a blob, a re-tag, a docker commit
// onto the tag, a removed image) it prints every finding to stderr and
// returns 1, even when every test passed.
//
// # Without a docker engine
//
// When no docker engine answers (DOCKER_HOST, or the local socket), the run
// does not fail: the tests run, and Image skips each test that asks for an
// image, with the message "no docker engine at ADDRESS: vendorimgtest skips
// tests that need images". The layout is still verified after the tests.
// Set the environment variable VENDORIMG_REQUIRE_DOCKER=1 (CI should) to
// make a missing engine an error instead: Main then prints the reason and
// returns 1 before any test runs. Only a failed connection counts as no
// engine; an engine that answers with an error always fails the run.
//
// # Several packages at once
//
// go test ./... runs packages' test binaries in parallel, and they share
// the engine. Main holds an advisory lock on a file in os.TempDir named
// after the engine's address (vendorimgtest-HASH.lock) from before the load
// until after the check: shared by default, so suites that only use the
// images run together; exclusive with Options.Lock = LockExclusive, for a
// suite whose tests change the images on purpose (and restore them), so
// that no other suite sees, or reports, the change. A test in a package
// without Main takes the same lock with LockEngine; other tools that tamper
// with the same engine's images can take the same flock(2) lock.
//
// # Parallel tests
//
// Within a package, tests that call Image hold the vendored images shared
// until after their check, and a test that changes them on purpose calls
// LockEngine(t, LockExclusive) first: it then runs while no other test of
// the package uses them, and its change is pinned on it alone. When an
// unmarked test changes an image while another that called Image runs
// (t.Parallel), the failure names both: the change cannot be pinned on
// one. LockEngine says how parents and subtests share the lock.
//
// # A registry for tests
//
// Serve starts vendorimg serve over the vendored layout on a free port of
// 127.0.0.1 for the length of a test and returns its address, for tests
// that need the images from a registry rather than an engine (a Dockerfile
// FROM, podman, containerd, a second machine's client): pull
// ADDRESS/REPOSITORY:TAG. It holds the layout's shared lock while it serves.
//
// Like the rest of vendorimg, the package never pulls and never talks to a
// registry. Main and Image are the only functions that print, and only
// through the test's output or Options.Stderr.
package vendorimgtest

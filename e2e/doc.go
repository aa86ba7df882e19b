// Package e2e is vendorimg's end-to-end suite, in Go: the request that
// started the project, run against the repository's own pinned image
// (registry.vendorimg.test/probe:1 in the root vendorimg.yaml, vendored in
// testdata/images) and a real engine: the one DOCKER_HOST names (the
// machine's docker, a docker with the containerd image store, podman; see
// scripts/engines), or the local socket.
//
// Its TestMain is vendorimgtest.Main (the session-scoped fixture): the image
// is loaded into docker once, from the layout on disk, before the tests,
// and after them the layout is rehashed and decompressed and docker's image
// is checked against it, so that the run fails if any test changed it. The
// tests run containers with "docker run --pull never", as users' suites
// do, and never pull: they check a command's output, that files a
// container writes never reach the image, that daemon.Verify names the tag
// after a docker commit onto it or a re-tag, that removing the image and
// loading it again gives the same ID (and that a second load skips), that
// a layout with a tampered layer loads nothing, and that "vendorimg load"
// and "vendorimg verify --daemon" work in a network namespace with no
// network at all. The tests ask the engine which image store it has (for
// the ID it gives the image) and whether it can run a container here; those
// that must run one skip where it cannot, naming the engine and the
// reason (and fail under VENDORIMG_REQUIRE_DOCKER=1: scripts/engines gives
// every engine of the matrix a runtime that works), and the others (load,
// identity, commit and re-tag detection, tamper refusal) run on every
// engine. TestRunHostPlatformOfTwo checks that, from a layout holding the
// image for two platforms, the container runs the host platform's program. Tests that break docker's copy of
// the image restore it before the next test starts, and the suite takes
// vendorimgtest's exclusive engine lock, so that no other package's tests
// see the breakage.
//
// The package's only non-test code is its go:generate directive
// (generate.go), which runs vendorimg sync; TestGoGenerateOffline proves
// that "go generate ./..." is an offline no-op on a complete layout.
package e2e

// Package testsupport is the home of the code that exists only for
// vendorimg's tests and benchmarks, kept apart from the production helpers
// beside it in internal/ (disk, flock, version, release):
//
//   - registrytest: registries for tests, real (/usr/bin/docker-registry)
//     and in process, and the one fault-injecting, throttling proxy;
//   - testimage: the repository's own runnable probe image, its
//     reproducible builder (go generate -tags mkprobe), and checkouts that
//     vendor it under other names (Checkout);
//   - enginetest: which engine a test talks to, and the docker, layout-copy
//     and byte-flip helpers the engine tests share;
//   - testbin: the one builder of the vendorimg binary for tests (with
//     vendorimg-sigverify beside it), and its serve command run as a
//     process (Serve), in an engine's network namespace if need be;
//   - bench: the benchmarks' tools and findings (scripts/bench runs them).
//
// No production package imports anything below this folder.
package testsupport

// Package registrytest runs real registries for tests: the CNCF
// distribution registry binary (Debian's docker-registry) on 127.0.0.1 with
// a temporary storage folder, its access log captured so that tests can
// count requests; go-containerregistry's in-process registry, plain
// (Serve) or behind a fault injector (Fault) that records requests,
// demands tokens and misbehaves on chosen requests; a TCP proxy (Proxy)
// that cuts, resets, stalls, slows or holds responses at a byte count, the
// one such proxy of the tests; and it pushes generated images into any
// registry.
//
// It is for tests and examples only.
package registrytest

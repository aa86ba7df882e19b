// Package registrytest runs real registries for tests: the CNCF
// distribution registry binary (Debian's docker-registry) on 127.0.0.1 with
// a temporary storage folder, its access log captured so that tests can
// count requests; and pushes generated images into any registry.
//
// It is for tests only.
package registrytest

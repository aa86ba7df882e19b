// Package testimage builds vendorimg's own small runnable test image,
// registry.vendorimg.test/probe:1, from the probe program in
// internal/testsupport/testimage/probe, for linux/amd64 and linux/arm64.
//
// This repository's CI cannot reach Docker Hub, so its vendorimg.yaml and
// testdata/images hold this image instead of a pulled one, under a name in
// the reserved .test top-level domain so that it can never be mistaken for
// a real registry's image. The cmd/mkprobe command builds it, pushes it to
// a registry it serves in process on 127.0.0.1, and vendors it with the
// real vendorimg.Add and Sync through a client that mirrors
// registry.vendorimg.test to that registry (the mirror is not written into
// vendorimg.yaml). The recipe, from the repository root:
//
//	go generate -tags mkprobe ./internal/testsupport/testimage
//
// The go:generate directive sits in a file built only with the mkprobe tag,
// so a plain "go generate ./..." never rebuilds the image: it stays an
// offline no-op that changes nothing.
//
// # Reproducibility
//
// The image is built reproducibly: the program is compiled with
// CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w
// -buildid=" in an environment where neither the caller's GOFLAGS,
// GOWORK, GOEXPERIMENT and instruction-set levels nor the go env file can
// change the output; its one
// layer is a tar of /probe (0755) and /tmp (1777) owned by 0:0, dated
// 1970-01-01, in name order, gzip-compressed with no name and no
// timestamp; the config and history carry the same fixed date; the index
// is an OCI index of OCI manifests with no annotations.
//
// The bytes are reproducible for a given Go version only: the binary
// depends on the Go toolchain that compiles it (and the gzip stream on its
// compress/flate), and the config's history records that version. With
// another Go version the digests change, and running the recipe re-pins
// vendorimg.yaml and replaces the blobs (deleting the old ones); with the
// same version a second run changes no byte.
package testimage

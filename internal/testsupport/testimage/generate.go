//go:build mkprobe

package testimage

// Rebuild registry.vendorimg.test/probe:1 and vendor it into the repository
// root's vendorimg.yaml and testdata/images (see the package doc). Only
// "go generate -tags mkprobe ./internal/testsupport/testimage" runs this.

//go:generate go run ./cmd/mkprobe -C ../../..

package e2e

// "go generate ./..." makes testdata/images match vendorimg.yaml (the
// repository root's, found from this folder upwards). On a complete layout
// vendorimg sync sends no request and writes nothing, so it is safe offline
// and in air-gapped CI (TestGoGenerateOffline proves it); after a pin
// changes, it fetches only the missing blobs, each verified by digest. -q
// prints errors only.
//
//go:generate go run github.com/vendorimg/vendorimg/cmd/vendorimg sync -q

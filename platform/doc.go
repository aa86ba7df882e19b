// Package platform parses, prints and matches image platforms
// (os/architecture[/variant], image-spec v1.1's platform object) and the
// selections vendorimg.yaml makes of them ("all", or a list).
//
// Matching follows containerd's normalisation: a missing variant means
// the architecture's default (arm64 is arm64/v8, arm is arm/v7, amd64 is
// amd64/v1), and the kernel's spellings (x86_64, aarch64, armel) are
// mapped to Go's names and their variants by one table (FromKernel).
package platform

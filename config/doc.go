// Package config reads, validates and edits vendorimg.yaml, the file that
// states which images a project vendors, pinned by digest, and for which
// platforms.
//
// Parsing is strict: an unknown or duplicated key, a malformed reference,
// digest or platform is an error that names the file, the line and the
// value. Editing (used by "vendorimg add") goes through the YAML node tree so
// that comments and the order of keys and images survive.
//
// The file format is documented in the project's docs/config.md and DESIGN.md:
//
//	layout: testdata/images
//	mirrors:
//	  docker.io: registry.internal:5000
//	insecure: [registry.internal:5000]
//	images:
//	  - ref: docker.io/library/alpine:3.19.1
//	    digest: sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b
//	    platforms: [linux/amd64, linux/arm64]
package config

// Package reference is how vendorimg names images: references such as
// "docker.io/library/alpine:3.19.1@sha256:...", their digests, and registry
// hosts. It opens no connection and links no networking code.
//
// Parsing is github.com/distribution/reference's, the grammar docker and
// containerd use, so "alpine:3.19" is "docker.io/library/alpine:3.19"; on
// top of it vendorimg accepts only sha256 digests and, when it refuses a
// reference, says which part is wrong (the tag, the registry host, a path
// component, the digest).
package reference

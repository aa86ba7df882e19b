// Package reference is how vendorimg names images: references such as
// "docker.io/library/alpine:3.19.1@sha256:...", their digests, and registry
// hosts. It opens no connection and links no networking code.
//
// The grammar is docker's, as github.com/distribution/reference defines
// it and containerd uses it, so "alpine:3.19" is
// "docker.io/library/alpine:3.19". It is implemented here by hand rather
// than linked, because that package compiles its regexps at init, the
// costliest init of the binary; FuzzParseMatchesDistribution checks it
// against distribution's parser. On top of it vendorimg accepts only
// sha256 digests and, when it refuses a reference, says which part is
// wrong (the tag, the registry host, a path component, the digest).
package reference

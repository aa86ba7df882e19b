// Package oci is the registry side of vendorimg: image references
// and the client that resolves tags and fetches manifests and blobs over the
// OCI distribution API (distribution-spec v1.1).
//
// References are normalised the way docker and containerd name images:
// "alpine:3.19" is "docker.io/library/alpine:3.19".
//
// The Client never converts or re-marshals what a registry serves: a
// manifest's bytes are checked against the digest they were asked for and
// returned as they are, and blobs are returned as streams for the caller to
// hash while it stores them.
package oci

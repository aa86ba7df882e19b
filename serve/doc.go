// Package serve serves an OCI image layout, in place, as a read-only
// registry over the OCI distribution API (distribution-spec v1.1, the pull
// and content-discovery endpoints): New builds an http.Handler over a
// layout that docker, podman, containerd, skopeo or crane pull from.
//
// Every image of index.json is served under its repository path with and
// without its registry host ("docker.io/library/alpine" and
// "library/alpine"), so that the handler is also a docker.io mirror for
// docker's registry-mirrors and containerd's hosts.toml (whose ns= query
// names the upstream registry). Manifests are served byte for byte with
// their own media type; blobs are streamed from their files with Range
// support and rehashed as they go: when the bytes on disk do not hash to
// their digest the connection is cut before the last bytes leave, so no
// client can accept them. Manifests of platforms that were not vendored
// answer MANIFEST_UNKNOWN saying so; writes answer UNSUPPORTED.
//
// The handler never writes to the layout and never opens a connection. It
// reads index.json once, in New: the caller holds the layout's shared lock
// for as long as it serves (Run does), so that no sync changes
// the layout under it.
package serve

// Package pusher is the push engine: it copies the vendored images from
// an OCI image layout into a registry byte for byte, blobs first (skipped
// when the registry has them, mounted across repositories, uploaded and
// rehashed as they are read otherwise), then manifests children first and
// the top one by tag. An index vendored for only some platforms is
// completed from upstream (upstream.go): what the layout lacks is fetched
// by digest from the image's registry or its mirror and streamed to the
// target, never stored.
//
// It is the engine behind vendorimg.Push; the registry client comes from
// registry.ForConfig unless Options.Client is given. It never writes the
// layout and never links the docker client.
package pusher

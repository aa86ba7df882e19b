// Package daemon loads vendored images from an OCI layout into a docker
// engine, checks that the images the engine holds under their tags are
// still the vendored ones, and removes what it loaded.
//
// Its calls take a Client and a layout; the root package's Load, Unload,
// Status and Check are the commands over them, and Check is where the
// layout's verification and the engine's are composed, once.
//
// It is the only vendorimg package that imports the docker client
// (github.com/moby/moby/client); a test enforces it. It talks to the engine
// through its HTTP API (never by running the docker command), with the API
// version negotiated, so that engines as old as 20.10 (API 1.41) work.
//
// Loading streams a docker-loadable archive, built on the fly from the
// layout's blobs, through an io.Pipe into the engine's /images/load: no
// temporary archive, and memory that does not grow with layer size. The
// archive is what docker 25+ "docker save" writes, so that both image
// stores load it: the classic store reads manifest.json (Config, RepoTags,
// Layers), the containerd store reads oci-layout and index.json. Every blob
// is rehashed as it streams and the last bytes of each are held back until
// its digest is checked; manifest.json and index.json come last. A blob
// that does not match aborts the stream, so the engine never completes the
// archive and loads nothing. The images one Load sends go in one archive,
// each blob once (load_batch.go); if it fails, each is sent alone, so that
// one image's failure is its own.
//
// Identity: the classic store reports an image's config digest as its ID,
// the containerd store the digest of the manifest (or index) it was loaded
// from. An image in the engine is the vendored one when its ID is one of
// those digests and its RootFS layers equal the config's diff_ids.
package daemon

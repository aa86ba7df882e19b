// Package daemon loads vendored images from an OCI layout into a docker
// engine, checks that the images the engine holds under their tags are
// still the vendored ones, and removes what it loaded.
//
// Its calls take a Client and a layout; the root package's Load, Unload,
// Status and Check are the commands over them, and Check is where the
// layout's verification and the engine's are composed, once.
//
// It is the only vendorimg package that talks to engines, through their
// HTTP API (never by running the docker command), with a client of its own
// (APIClient, apiclient.go: the ten endpoints it needs, from DOCKER_HOST as
// docker finds the engine) rather than the docker project's, whose package
// init was most of every vendorimg command's start-up; a test keeps that
// client out of vendorimg. The API version is negotiated, so that engines
// as old as 20.10 (API 1.41) work.
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

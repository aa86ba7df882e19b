// Package syncer is the sync engine: it makes an OCI image layout match
// vendorimg.yaml. For each configured image it walks what is stored,
// fetches the missing documents and then the missing layers from the
// registry, each by digest and verified while it streams into a stage in
// the layout's folder, and only when every image is complete moves them
// into place, rewrites index.json and prunes what no image uses.
//
// It is the engine behind vendorimg.Sync, Add, Update and Remove; the
// registry client comes from registry.ForConfig unless Options.Client is
// given (a fake Registry fits it). It never links the docker client.
package syncer

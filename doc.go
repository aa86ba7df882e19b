// Package vendorimg vendors container images into a repository: it pulls
// images pinned by digest from any registry over the distribution API into
// an OCI image layout committed next to the code, keeps that layout in
// step with vendorimg.yaml, verifies it, and collects its garbage.
//
// It is the library behind the vendorimg command; every command is one
// call here:
//
//	cfg, _ := config.Load(ctx, "vendorimg.yaml")
//	res, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{})
//
// It composes the packages that each own one idea: reference (image
// names), platform, manifest (documents), config (vendorimg.yaml), layout
// (the layout on disk) and registry (the distribution API). Loading images
// into an engine and proving what the engine holds live in package daemon,
// so that only programs that need the docker client link it; this package
// never does (a test enforces it).
//
// The package never prints: progress comes through a callback, logs
// through an injected *slog.Logger that defaults to discarding.
package vendorimg

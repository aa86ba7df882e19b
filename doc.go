// Package vendorimg vendors container images into a repository: it pulls
// images pinned by digest from any registry over the distribution API into
// an OCI image layout committed next to the code, keeps that layout in
// step with vendorimg.yaml, loads it into engines offline, and proves the
// images did not change.
//
// It is the library behind the vendorimg command, and its facade: every
// command is one call of the same shape,
//
//	X(ctx, cfg, XOptions) (*XResult, error)
//
// where images are chosen by XOptions.Images, in any form
// config.Config.Select takes (default: all):
//
//	Add, Update, Remove, Outdated  pins in vendorimg.yaml (then a sync)
//	Sync                           the layout made to match vendorimg.yaml
//	Status, Verify, Check, GC      what the layout (and the engine) holds
//	Load, Unload                   the engine, offline
//	Push, Serve                    a registry fed, or served, from the layout
//
// For example:
//
//	cfg, _ := config.Load(ctx, "vendorimg.yaml")
//	res, err := vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{})
//
// The work is done by the packages that each own one idea: syncer (the
// sync engine), pusher (the push engine), registry (the distribution API
// client, its retries and restarts), layout (the layout on disk, its
// verification and its pruning plan), daemon (engines), serve (the
// read-only registry), config, reference, platform and manifest. Only
// package daemon talks to engines, with its own Engine API client, and the
// sync side (registry, syncer, pusher, serve) never links it (a test
// enforces it). Nor does this package link sigverify and the Sigstore
// libraries, half of the packages of a binary that links them and their
// init at every start: Check runs the vendorimg-sigverify program for the
// verify: policies, unless CheckOptions.Signatures is set (to
// sigverify.Verify, say).
//
// The package never prints: progress comes through a callback, logs
// through an injected *slog.Logger that defaults to discarding.
package vendorimg

// Package sigexec runs signature verification in a program of its own,
// vendorimg-sigverify (cmd/vendorimg-sigverify), and owns both ends of
// the protocol between vendorimg and that program: Verifier, the side
// vendorimg runs, and Main, the program's whole body.
//
// Why a second program: package sigverify links the Sigstore libraries
// (sigstore-go, rekor's models, go-openapi, grpc, protobuf registries),
// about half of the packages of a binary that links it, and Go runs every
// linked package's init at every start. Only "vendorimg verify" of a
// configuration with a verify: policy needs them, so vendorimg does not
// link them and runs vendorimg-sigverify then, and only then. This
// package links neither package sigverify nor Sigstore (deps_test.go
// checks it): Main takes the verification function from its caller.
//
// # Finding the program
//
// Find looks, in order, at the path in $VENDORIMG_SIGVERIFY (when set, it
// must be the program: no other place is tried), the folder of the running
// vendorimg (os.Executable, symbolic links resolved: where the release
// archive, the vendorimg wheel and "go build -o DIR/" put both), then
// PATH. None: an error wrapping errs.ErrNoSigverify that says where it
// looked and how to get the program.
//
// # The protocol
//
// vendorimg runs
//
//	vendorimg-sigverify --vendorimg-version=VERSION [--vendorimg-commit=COMMIT] --config=/abs/vendorimg.yaml --layout=/abs/layout
//
// with the configuration's bytes (config.Config.Encode) on its stdin.
// config.Parse of those bytes under that path gives the configuration
// vendorimg holds in memory, relative key and trusted root paths resolved
// against the configuration's folder as vendorimg resolved them (the
// paths are absolute when the configuration was loaded with config.Load;
// a relative one resolves against the working directory, which the
// program inherits). Verifier checks that it does before it starts the
// program. The program
// checks the signatures of every image of that configuration that has a
// verify: policy, in the layout at --layout, and prints one JSON document
// on stdout:
//
//	{"findings": [{"kind": "signature", "path": "index.json", "image": ..., "expected": ..., "message": ...}]}
//
// (layout.Finding's encoding; an empty list when every policy is met), and
// exits 0. It exits 1 with an error on stderr when it cannot check (an
// unreadable index.json, a configuration it cannot parse), 2 on a usage
// error, and 3 when its version is not vendorimg's: VERSION (and COMMIT,
// when both builds have one) must be its own internal/version.Module
// (and Commit), so that a stale vendorimg-sigverify on PATH never
// verifies with other rules. vendorimg reports exit 3, and a program it
// cannot start, as errs.ErrNoSigverify.
//
// The program takes no lock: vendorimg holds the layout's shared lock for
// the program's whole run (vendorimg.Check), so that no sync changes the
// layout under it. It never uses the network. A cancelled context kills
// it (it holds nothing that needs cleaning up); what it wrote on stderr,
// bounded, goes into vendorimg's error when it fails.
package sigexec

// Package cli is the vendorimg command line: it parses flags, calls the
// library (package vendorimg, and daemon for the engine), and prints results.
// Nothing about OCI semantics lives here.
//
// Exit codes: 0 success, 1 failure (including verification findings), 2
// usage error (unknown flag, wrong arguments, malformed reference, digest
// or platform on the command line).
package cli

// Package cli is the vendorimg command line: it parses flags, calls the
// library (package vendorimg, and daemon for the engine), and prints results.
// Nothing about OCI semantics lives here.
//
// Progress is drawn here too (progress.go), from the progress.Events the
// library emits: bars by mpb on a terminal (term.go keeps them inside the
// terminal's width and out of its scrollback), plain lines otherwise,
// nothing with -q.
//
// Exit codes: 0 success, 1 failure (including verification findings), 2
// usage error (unknown flag, wrong arguments, malformed reference, digest
// or platform on the command line).
package cli

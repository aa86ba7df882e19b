// Package release builds vendorimg's release files (scripts/release): the
// binaries cross-compiled for each supported platform, reproducibly
// (vendorimg, and vendorimg-sigverify, which vendorimg runs from its own
// folder to check verify: policies); a .tar.gz archive per platform with
// both, the README and the licence; platform wheels that carry the same
// binaries for pip and uv (the "vendorimg" distribution, both installed
// into the environment's bin folder), and the pytest-vendorimg wheel that
// depends on it; and a SHA256SUMS file naming them all.
//
// Every file is a function of the source tree, the version, the commit and
// one timestamp (the commit's time, or SOURCE_DATE_EPOCH): archives and
// wheels carry that time on every entry, fixed owners and modes, and their
// entries in a fixed order, so that two runs with the same Go toolchain
// give identical bytes.
//
// Wheels follow the binary distribution format (PEP 427, with the platform
// tags of PEP 600 manylinux, PEP 656 musllinux and macOS's
// macosx_MAJOR_MINOR_ARCH) and core metadata 2.1.
package release

// Package layout owns the OCI image layout on disk (image-spec v1.1,
// image-layout.md): the oci-layout file, index.json and blobs/sha256. It
// writes blobs atomically (a temporary file in the layout's folder, hashed
// while it is written, renamed only when digest and size match), writes a
// deterministic index.json last, verifies every byte, collects garbage on
// request and serialises writers with a lock.
//
// What it writes survives a power loss, not only a kill, through package
// internal/disk: a blob's bytes are synced before it is renamed into
// blobs/sha256, the folder is synced once after a stage's renames and
// before index.json is renamed into place, and every folder it creates is
// synced into its parent. A failed sync is an error naming the path. A
// stage starts each blob's writeback as its bytes arrive and fsyncs all
// its blobs together before the first rename, so that durability costs
// little more than the disk's own time.
//
// Walk is the one walk of an image graph: it yields every blob under an
// index.json entry with its role, platform, selection and what is stored,
// reading and hashing documents and image configs on the way (and, for
// sync, fetching missing ones through a callback). Inventory, the gc
// reach and Verify are its visitors.
//
// Deleting is planned first, for gc and for sync alike: PlanGC (what
// index.json does not reach) and PlanPrune (what sync's keep set does not
// hold) change nothing, and ApplyGC carries either plan out. Holdings is
// what status reports: each configured image's state, by size.
//
// Lookup is how every reader finds an image's index.json entry: by the
// image's name, or, when no entry has it, an entry another tool (regctl,
// crane, skopeo) wrote for the pin under a bare tag or no name, which sync
// then renames.
//
// The layout is meant to be committed to git, so everything it writes is
// reproducible: sorted index.json with fixed indentation and a trailing
// newline, no timestamps, 0644 files and 0755 folders, and no temporary
// file left behind.
//
// It trusts nothing it reads: digests are checked before they become
// paths, symlinks are never followed, sizes read from disk are compared and
// size a buffer only below a fixed limit, and documents are read with that
// limit.
//
// This package opens no network connection and imports no networking code;
// a test enforces it.
package layout

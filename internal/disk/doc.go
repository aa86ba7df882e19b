// Package disk makes changes to files and folders durable, in the order a
// crash cannot undo: a name becomes durable only once the folder holding
// it is synced, so a file's bytes are synced before it is renamed into
// place, the folder is synced after the rename, and a new folder is synced
// into its parent. The layout and vendorimg.yaml are written through it.
//
// Every error names the path, and none is ignored: an fsync that fails
// means the change may not survive a power loss, so the command fails.
//
// Tests may watch (and fail) every operation through SetHook; nothing else
// sets it. This package opens no network connection.
package disk

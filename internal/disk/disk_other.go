//go:build !unix

package disk

// syncDir does nothing where a folder cannot be opened for syncing
// (Windows): there a rename is made durable by the file system's own
// journal, not by the caller.
func syncDir(string) error { return nil }

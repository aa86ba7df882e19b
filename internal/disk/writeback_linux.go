//go:build linux

package disk

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback starts writing f's dirty pages in [off, off+n) to disk
// (to the end of the file when n is 0) and returns without waiting for
// them. Its error is left to the fsync that follows (see Writer).
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

package disk

import (
	"fmt"
	"os"
)

// WritebackChunk is how many bytes a Writer lets pile up before it asks
// the kernel to start writing them to disk.
const WritebackChunk = 8 << 20

// Writer writes to a file and, every WritebackChunk bytes, asks the kernel
// to start writing what came since the last time to disk, without waiting
// for it (sync_file_range's SYNC_FILE_RANGE_WRITE on Linux; elsewhere it
// only writes). A layer's bytes then go to disk while the rest of it is
// still coming from the network, and the fsync that must come before its
// rename has little left to wait for: a fresh sync of 4 x 64 MiB layers is
// about a quarter faster (scripts/bench, issue 9).
//
// It changes no guarantee: only SyncFile makes the bytes durable. A failed
// request is not an error here, since the kernel reports a failed write
// again to the fsync that follows, which the caller does not skip.
type Writer struct {
	f       *os.File
	name    string
	written int64
	started int64
}

// NewWriter returns a Writer appending to f, an empty file just created
// (CreateTemp), whose name is path.
func NewWriter(f *os.File, path string) *Writer { return &Writer{f: f, name: path} }

func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.started >= WritebackChunk {
		off, size := w.started, w.written-w.started
		startWriteback(w.f, off, size)
		w.started = w.written
		if herr := after(Event{Op: OpWriteback, Path: w.name, Target: fmt.Sprintf("%d+%d", off, size)}); err == nil {
			err = herr
		}
	}
	return n, err
}

// StartWriteback asks the kernel to start writing all of f's bytes that
// are not on disk yet, without waiting: a blob just finished goes to disk
// while the next downloads, and the fsync that must come before its rename
// (later, with the others') has little left to wait for.
func StartWriteback(f *os.File) { startWriteback(f, 0, 0) }

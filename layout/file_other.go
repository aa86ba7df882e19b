//go:build !unix

package layout

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// openRegular opens path for reading, refusing symlinks and anything but a
// regular file. Without O_NOFOLLOW the check is an Lstat before the open.
func openRegular(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("opening %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	return os.Open(path)
}

// rawFile is a file open for reading.
type rawFile struct{ f *os.File }

// openStat opens path for reading without following a symlink (the error
// is then errSymlink) and returns its type (0 for a regular file) and
// size. Without O_NOFOLLOW the check is an Lstat before the open.
func openStat(path string) (rawFile, fs.FileMode, int64, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return rawFile{}, 0, 0, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return rawFile{}, 0, 0, errSymlink
	}
	f, err := os.Open(path)
	if err != nil {
		return rawFile{}, 0, 0, err
	}
	return rawFile{f}, fi.Mode().Type(), fi.Size(), nil
}

func (f rawFile) close() { f.f.Close() }

// readAll reads the file to its end, failing with errs.ErrTooLarge past
// limit bytes.
func (f rawFile) readAll(size, limit int64) ([]byte, error) {
	return readAtMost(f.f, limit, size)
}

// readAtMost reads r to its end, failing with errs.ErrTooLarge past limit
// bytes. hint, when positive, is the size the caller expects (a file's, a
// descriptor's): the buffer starts at min(hint, limit) bytes and a little, so that a
// small document is read in one call, and memory still grows only with
// what is read, never past limit.
func readAtMost(r io.Reader, limit, hint int64) ([]byte, error) {
	var buf bytes.Buffer
	if hint > 0 {
		// ReadFrom wants MinRead bytes free before each read, EOF's too.
		buf.Grow(int(min(hint, limit)) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, tooLarge(limit)
	}
	return buf.Bytes(), nil
}

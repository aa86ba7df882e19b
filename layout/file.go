package layout

import (
	"errors"
	"fmt"
	"io/fs"
)

// symlinkError and notRegularError are what a layout reader says of a
// path it refuses.
func symlinkError(path string) error {
	return fmt.Errorf("opening %s: is a symlink, which a layout must not hold", path)
}

func notRegularError(path string, typ fs.FileMode) error {
	return fmt.Errorf("opening %s: not a regular file (%s)", path, typ)
}

// readRegular reads the whole regular file path, of at most limit bytes,
// with openRegular's refusals; opened says whether err came after the
// open. On unix it costs what a document allows, open, fstat, one read
// sized from fstat, close (os.File costs a poller registration and a read
// more per file, and a no-op sync of 100 images reads 200 documents).
func readRegular(path string, limit int64) (b []byte, opened bool, err error) {
	f, typ, size, err := openStat(path)
	if err != nil {
		if errors.Is(err, errSymlink) {
			err = symlinkError(path)
		}
		return nil, false, err
	}
	defer f.close()
	if typ != 0 {
		return nil, false, notRegularError(path, typ)
	}
	b, err = f.readAll(size, limit)
	return b, true, err
}

// errSymlink is openStat's error for a symlink, which it does not follow.
var errSymlink = errors.New("is a symlink")

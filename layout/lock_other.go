//go:build !unix

package layout

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vendorimg/vendorimg/internal/flock"
)

// lockFileName is used where flock on a folder is not available. It is
// created exclusively and removed on unlock; shared locks are exclusive
// here, which is correct if slower.
const lockFileName = ".vendorimg.lock"

func tryLock(dir string, _ bool) (func() error, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, FileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil, flock.ErrBusy
	}
	if err != nil {
		return nil, err
	}
	f.Close()
	return func() error { return os.Remove(path) }, nil
}

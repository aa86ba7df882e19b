//go:build !unix

package layout

import (
	"fmt"
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

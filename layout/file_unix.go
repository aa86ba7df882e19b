//go:build unix

package layout

import (
	"fmt"
	"os"
	"syscall"
)

// openRegular opens path for reading without following a symlink in its
// last element, and refuses anything but a regular file, so that a hostile
// layout cannot make vendorimg read /dev/zero or a file outside the layout.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok && pe.Err == syscall.ELOOP {
			return nil, fmt.Errorf("opening %s: is a symlink, which a layout must not hold", path)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("opening %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	return f, nil
}

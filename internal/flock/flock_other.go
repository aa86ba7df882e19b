//go:build !unix

package flock

import (
	"errors"
	"fmt"
	"runtime"
)

// Try fails where flock(2) does not exist: vendorimg supports Linux and
// macOS, and a lock file instead would be one more file in a layout
// committed to git, left behind by any crash. The error wraps
// errors.ErrUnsupported.
func Try(path string, create, exclusive bool) (func() error, error) {
	return nil, fmt.Errorf("locking %s: %w: flock(2) is not available on %s (vendorimg supports Linux and macOS)", path, errors.ErrUnsupported, runtime.GOOS)
}

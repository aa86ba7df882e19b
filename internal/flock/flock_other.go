//go:build !unix

package flock

import "errors"

// Try is not available without flock(2): it fails with
// errors.ErrUnsupported, and callers choose their own fallback.
func Try(path string, create, exclusive bool) (func() error, error) {
	return nil, errors.ErrUnsupported
}

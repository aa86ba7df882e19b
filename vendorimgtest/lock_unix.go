//go:build unix

package vendorimgtest

import "github.com/vendorimg/vendorimg/internal/flock"

// tryLock takes an advisory flock on file, creating it.
func tryLock(file string, exclusive bool) (func() error, error) {
	return flock.Try(file, true, exclusive)
}

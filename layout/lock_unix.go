//go:build unix

package layout

import "github.com/vendorimg/vendorimg/internal/flock"

// tryLock flocks the layout's folder itself.
func tryLock(dir string, exclusive bool) (func() error, error) {
	return flock.Try(dir, false, exclusive)
}

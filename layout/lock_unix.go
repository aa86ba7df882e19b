//go:build unix

package layout

import (
	"errors"
	"os"
	"syscall"
)

func tryLock(dir string, exclusive bool) (func() error, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errWouldBlock
		}
		return nil, err
	}
	return func() error {
		// Closing the last descriptor releases the flock.
		return f.Close()
	}, nil
}

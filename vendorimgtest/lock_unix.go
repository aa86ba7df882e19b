//go:build unix

package vendorimgtest

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes an advisory flock on file, creating it (mode 0666 less
// the umask, so that other users can open it to lock it too).
func tryLock(file string, exclusive bool) (func(), error) {
	f, err := os.OpenFile(file, os.O_RDONLY|os.O_CREATE, 0o666)
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
			return nil, errLockBusy
		}
		return nil, err
	}
	// Closing the descriptor releases the flock.
	return func() { f.Close() }, nil
}

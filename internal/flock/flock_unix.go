//go:build unix

package flock

import (
	"errors"
	"os"
	"syscall"
)

// Try takes a non-blocking flock on path, exclusive or shared. With create
// the file is created if missing (mode 0666 less the umask, so that other
// users can open it to lock it too); without, path may be a folder. The
// returned function releases the lock by closing the descriptor (and a
// process that dies releases it with its last descriptor). A lock another
// process holds is ErrBusy.
func Try(path string, create, exclusive bool) (func() error, error) {
	flag := os.O_RDONLY
	if create {
		flag |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, 0o666)
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
			return nil, ErrBusy
		}
		return nil, err
	}
	return f.Close, nil
}

package vendorimgtest

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/vendorimg/vendorimg/internal/flock"
)

// TestLockEngine takes the engine lock of an address no suite uses (this
// package's Main holds the machine engine's) and checks it is the lock Main
// takes, held for exactly the length of the test that asked for it.
func TestLockEngine(t *testing.T) {
	host := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	t.Setenv("DOCKER_HOST", host)
	file := lockFile(host)
	try := func(exclusive bool) error {
		release, err := flock.Try(file, true, exclusive)
		if err == nil {
			_ = release()
		}
		return err
	}
	for name, mode := range map[string]LockMode{"exclusive": LockExclusive, "shared": LockShared} {
		t.Run(name, func(t *testing.T) {
			LockEngine(t, mode)
			if err := try(true); !errors.Is(err, flock.ErrBusy) {
				t.Errorf("an exclusive lock of %s while LockEngine(%v) holds it: %v, want busy", file, mode, err)
			}
			if err := try(false); mode == LockExclusive && !errors.Is(err, flock.ErrBusy) || mode == LockShared && err != nil {
				t.Errorf("a shared lock of %s while LockEngine(%v) holds it: %v", file, mode, err)
			}
		})
		if err := try(true); err != nil {
			t.Errorf("after the test that took LockEngine(%v): %v, want the lock free", mode, err)
		}
	}
	t.Run("none", func(t *testing.T) {
		LockEngine(t, LockNone)
		if err := try(true); err != nil {
			t.Errorf("LockEngine(LockNone) holds %s: %v", file, err)
		}
	})
}

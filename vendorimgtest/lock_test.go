package vendorimgtest

import (
	"errors"
	"path/filepath"
	"strings"
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

// TestLockEngineUnderMain: in a binary whose Main holds the engine's flock,
// LockEngine takes the binary's own lock among its tests (the flock would
// wait for Main's until the deadline), with the test's name, and refuses
// the exclusive lock to a test that holds the images shared.
func TestLockEngineUnderMain(t *testing.T) {
	held := func(t *testing.T) (bool, bool) {
		l := &getCurrent().tests
		l.mu.Lock()
		defer l.mu.Unlock()
		x, ok := l.holds[t.Name()]
		return x, ok
	}
	t.Run("exclusive-then-image", func(t *testing.T) {
		LockEngine(t, LockExclusive)
		Image(t, probeRef) // inside the test's own exclusive hold
		if x, ok := held(t); !ok || !x {
			t.Errorf("after LockEngine(t, LockExclusive) and Image, the test's hold is (exclusive %v, held %v), want exclusive", x, ok)
		}
	})
	t.Run("image-holds-shared", func(t *testing.T) {
		Image(t, probeRef)
		LockEngine(t, LockShared)
		if x, ok := held(t); !ok || x {
			t.Errorf("after Image and LockEngine(t, LockShared), the test's hold is (exclusive %v, held %v), want shared", x, ok)
		}
	})
	refused := func(t *testing.T, want ...string) {
		t.Helper()
		r := &recorder{TB: t}
		LockEngine(r, LockExclusive)
		for _, w := range append([]string{"vendorimgtest.LockEngine: the vendored images are already held shared: "}, want...) {
			if !strings.Contains(r.fatal, w) {
				t.Errorf("LockEngine(t, LockExclusive) failed the test with %q, want it to contain %q", r.fatal, w)
			}
		}
	}
	t.Run("image-then-exclusive", func(t *testing.T) {
		Image(t, probeRef)
		refused(t, t.Name()+" called Image or LockEngine(t, LockShared) before LockEngine(t, LockExclusive)")
	})
	t.Run("under-a-parent-that-called-image", func(t *testing.T) {
		Image(t, probeRef)
		parent := t.Name()
		t.Run("parallel-subtest", func(t *testing.T) {
			t.Parallel()
			Image(t, probeRef) // beside its parent's hold
			refused(t, t.Name()+" runs under "+parent+", which called Image")
		})
	})
	l := &getCurrent().tests
	l.mu.Lock()
	defer l.mu.Unlock()
	for name := range l.holds {
		if runsUnder(name, t.Name()) {
			t.Errorf("%s's hold outlived it", name)
		}
	}
}

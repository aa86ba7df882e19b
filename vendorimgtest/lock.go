package vendorimgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/internal/flock"
)

// lockPoll is how often a waiting lockEngine tries again.
const lockPoll = 100 * time.Millisecond

// lockFile is the lock shared by every suite using the engine at host. It
// lives in os.TempDir, so it is shared by the processes of one machine
// (or container); it is left there, empty, for the next run.
func lockFile(host string) string {
	sum := sha256.Sum256([]byte(host))
	return filepath.Join(os.TempDir(), "vendorimgtest-"+hex.EncodeToString(sum[:8])+".lock")
}

// lockEngine takes the engine's lock, waiting until it is free or ctx is
// done; waiting, if not nil, is called once if it is busy. It returns the
// function that releases it.
func lockEngine(ctx context.Context, host string, exclusive bool, waiting func(file string)) (func(), error) {
	file := lockFile(host)
	release, err := flock.Wait(ctx, func() (func() error, error) { return flock.Try(file, true, exclusive) }, lockPoll, func() {
		if waiting != nil {
			waiting(file)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", file, err)
	}
	return func() { _ = release() }, nil
}

// LockEngine takes, for the rest of the test, the lock that Main takes on
// the engine DOCKER_HOST names (shared or exclusive as mode says; LockNone
// takes none), so that a test outside a Main-run suite that adds, moves or
// removes tags of the vendored images never runs while a suite that relies
// on them does. It waits for the lock as Main does, up to the test's
// deadline, and fails the test if it cannot take it. A test binary whose
// Main already holds the lock must not call it: the lock is not re-entrant.
func LockEngine(tb testing.TB, mode LockMode) {
	tb.Helper()
	if mode == LockNone {
		return
	}
	c, err := newClient()
	if err != nil {
		tb.Fatal(err)
	}
	host := c.DaemonHost()
	_ = c.Close()
	ctx := context.Background()
	if t, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := t.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, d)
			defer cancel()
		}
	}
	unlock, err := lockEngine(ctx, host, mode == LockExclusive, func(file string) {
		tb.Logf("vendorimgtest: waiting for another test suite using docker at %s (lock %s)", host, file)
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(unlock)
}

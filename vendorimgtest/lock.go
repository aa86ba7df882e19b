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

// LockEngine holds the vendored images for the rest of the test, shared
// or exclusive as mode says (LockNone takes nothing). A test that changes
// them on purpose (adds, moves or removes their tags, commits onto them)
// takes LockExclusive: it then runs while no other test uses them, so its
// change is pinned on it alone and is put back before they see it. It
// waits as Main does, up to the test's deadline, and fails the test if it
// cannot take the lock.
//
// In a test binary whose Main runs against the engine DOCKER_HOST names,
// it takes the binary's own lock among its tests: tests that call Image
// hold it shared until after their check, so an exclusive test waits for
// those running and they wait for it. It also registers Image's check
// after the test. Call it first in the test: a test that holds the images
// shared (it called Image, or the test it runs under did, which holds them
// until its subtests end) cannot wait for them exclusive, and LockEngine
// fails it at once rather than deadlock. Subtests of an exclusive test use
// the images inside its hold, shared or, with LockEngine, exclusive among
// themselves. A test that waits keeps its place among go test's -parallel
// tests, and parallel subtests still to run need places: give an
// exclusive test no parallel subtests, and run none beside a parent that
// called Image and has parallel subtests, or the run can stall until
// -timeout. Other test binaries are kept away by the flock Main holds:
// Options.Lock = LockExclusive for a package whose tests change images.
//
// Elsewhere (no Main, or Main on another engine) it takes the flock Main
// takes on that engine, so that the test never runs while a suite that
// relies on the images does.
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
	if s := getCurrent(); s != nil && s.host == host {
		if err := s.hold(tb, mode == LockExclusive); err != nil {
			tb.Fatalf("vendorimgtest.LockEngine: %v", err)
			return
		}
		if s.noEngine == nil {
			if _, err := s.watch(tb); err != nil {
				tb.Fatalf("vendorimgtest.LockEngine: %v", err)
			}
		}
		return
	}
	ctx, cancel := testContext(tb)
	defer cancel()
	unlock, err := lockEngine(ctx, host, mode == LockExclusive, func(file string) {
		tb.Logf("vendorimgtest: waiting for another test suite using docker at %s (lock %s)", host, file)
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(unlock)
}

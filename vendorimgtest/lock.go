package vendorimgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
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

package vendorimgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// errLockBusy is what a try-lock returns when another process holds it.
var errLockBusy = errors.New("lock held by another process")

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
	for first := true; ; first = false {
		release, err := tryLock(file, exclusive)
		if err == nil {
			return release, nil
		}
		if !errors.Is(err, errLockBusy) {
			return nil, fmt.Errorf("locking %s: %w", file, err)
		}
		if first && waiting != nil {
			waiting(file)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("locking %s: %w", file, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

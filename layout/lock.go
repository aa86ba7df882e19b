package layout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vendorimg/vendorimg/internal/flock"
	"github.com/vendorimg/vendorimg/progress"
)

// Lock is a held lock on a layout; Unlock releases it.
type Lock struct {
	release func() error
}

// Unlock releases the lock. It is safe to call more than once.
func (lk *Lock) Unlock() error {
	if lk == nil || lk.release == nil {
		return nil
	}
	r := lk.release
	lk.release = nil
	return r()
}

// lockPoll is how often a waiting Lock tries again.
const lockPoll = 50 * time.Millisecond

// Lock takes the layout's lock, waiting until it is free or ctx is done.
// Writers (sync, gc) take it exclusive; readers (verify, status, load) take
// it shared, so that they never see a half-finished sync and never block
// each other. If the lock is busy, Lock reports a progress.Waiting event
// once to report (which may be nil), so that a command can say why it
// pauses.
//
// The lock is an advisory flock on the layout's own folder, which must
// exist: no lock file is created, so none can be left behind or committed
// by mistake, and a crashed holder releases it with its last descriptor.
func (l *Layout) Lock(ctx context.Context, exclusive bool, report progress.Func) (*Lock, error) {
	try := func() (func() error, error) { return flock.Try(l.root, false, exclusive) }
	release, err := flock.Wait(ctx, try, lockPoll, func() { report.Emit(progress.Event{Kind: progress.Waiting}) })
	switch {
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return nil, fmt.Errorf("locking %s: waiting for another vendorimg: %w", l.root, err)
	case err != nil:
		return nil, fmt.Errorf("locking %s: %w", l.root, err)
	}
	return &Lock{release: release}, nil
}

// Package flock takes advisory flock(2) locks and waits for them. The
// layout's writer lock and vendorimgtest's engine lock are both built on
// it.
package flock

import (
	"context"
	"errors"
	"time"
)

// ErrBusy is what a try-lock returns when another process holds the lock.
var ErrBusy = errors.New("lock held by another process")

// Wait calls try until it succeeds, fails with an error other than
// ErrBusy, or ctx is done, pausing poll between attempts. waiting, if not
// nil, is called once, the first time the lock is busy. It returns what
// try returned: the function that releases the lock.
func Wait(ctx context.Context, try func() (func() error, error), poll time.Duration, waiting func()) (func() error, error) {
	for first := true; ; first = false {
		release, err := try()
		if !errors.Is(err, ErrBusy) {
			return release, err
		}
		if first && waiting != nil {
			waiting()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

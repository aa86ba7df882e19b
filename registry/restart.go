package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vendorimg/vendorimg/errs"
)

// Restarts says how a transfer whose body was cut short, reset or stalled
// once it had begun is started again from its start. It completes
// RetryPolicy, which the client applies to what fails before a
// response's body (429, 5xx, headers that never come): a body cannot be
// replayed by the transport, so sync's downloads and push's uploads are
// restarted whole, through Do.
type Restarts struct {
	// Attempts is the total number of tries, at least 1. Default 4.
	Attempts int
	// Backoff is the wait after the first failed try; after try n it is n
	// times Backoff. Default 200ms.
	Backoff time.Duration
}

// DefaultRestarts are the restarts sync and push use.
var DefaultRestarts = Restarts{Attempts: 4, Backoff: 200 * time.Millisecond}

// Validate says what is wrong with r: a negative field. Zero fields take
// DefaultRestarts'.
func (r Restarts) Validate() error {
	if r.Attempts < 0 || r.Backoff < 0 {
		return fmt.Errorf("%w: restarts: %d attempts and a backoff of %s: neither may be negative", errs.ErrInvalidOption, r.Attempts, r.Backoff)
	}
	return nil
}

func (r Restarts) withDefaults() Restarts {
	if r.Attempts <= 0 {
		r.Attempts = DefaultRestarts.Attempts
	}
	if r.Backoff <= 0 {
		r.Backoff = DefaultRestarts.Backoff
	}
	return r
}

// Do calls try until it returns nil, or an error restartable refuses, or
// Attempts tries were made, and returns try's last error. Before each new
// try it calls before, if not nil, with the number of that try and the
// error of the one before, then waits; if ctx ends during the wait, Do
// returns ctx's error at once. A nil restartable is Restartable.
func (r Restarts) Do(ctx context.Context, try func() error, restartable func(error) bool, before func(next int, err error)) error {
	r = r.withDefaults()
	if restartable == nil {
		restartable = Restartable
	}
	for n := 1; ; n++ {
		err := try()
		if err == nil || ctx.Err() != nil || n >= r.Attempts || !restartable(err) {
			return err
		}
		if before != nil {
			before(n+1, err)
		}
		t := time.NewTimer(time.Duration(n) * r.Backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Restartable reports whether a transfer that failed with err may be
// started again: the stream was cut, reset or stalled (Transient), and
// the bytes it carried were not wrong (a digest mismatch is final).
func Restartable(err error) bool {
	return !errors.Is(err, errs.ErrDigestMismatch) && Transient(err)
}

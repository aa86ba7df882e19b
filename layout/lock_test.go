package layout_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/progress"
)

// lockAsync takes the lock in the background: got receives Lock's error,
// waiting is signalled when Lock finds it busy, and release stops the
// attempt (so that a failing test cannot hang) and releases the lock if it
// was taken.
func lockAsync(t *testing.T, l *layout.Layout, ctx context.Context, exclusive bool) (got <-chan error, waiting <-chan struct{}, release func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	gotc := make(chan error, 1)
	waitc := make(chan struct{}, 1)
	lkc := make(chan *layout.Lock, 1)
	go func() {
		lk, err := l.Lock(ctx, exclusive, func(progress.Event) { waitc <- struct{}{} })
		lkc <- lk
		gotc <- err
	}()
	return gotc, waitc, func() {
		cancel()
		if lk := <-lkc; lk != nil {
			if err := lk.Unlock(); err != nil {
				t.Error(err)
			}
		}
	}
}

func TestLock(t *testing.T) {
	tests := []struct {
		name              string
		first, second     bool // exclusive?
		wantSecondBlocked bool
	}{
		{"exclusive blocks exclusive", true, true, true},
		{"exclusive blocks shared", true, false, true},
		{"shared blocks exclusive", false, true, true},
		{"shared and shared", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			ctx := context.Background()
			first, err := l.Lock(ctx, tt.first, func(progress.Event) { t.Error("first Lock() waited on a free lock") })
			if err != nil {
				t.Fatalf("Lock(exclusive=%v) = %v, want nil", tt.first, err)
			}
			// A second handle on the same folder, as another process has.
			other := layout.New(l.Root())
			got, waiting, release := lockAsync(t, other, ctx, tt.second)
			defer release()
			if !tt.wantSecondBlocked {
				select {
				case err := <-got:
					if err != nil {
						t.Fatalf("second Lock(exclusive=%v) = %v, want nil", tt.second, err)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("second Lock(exclusive=%v) is still waiting, want it granted at once", tt.second)
				}
				if err := first.Unlock(); err != nil {
					t.Fatal(err)
				}
				return
			}
			select {
			case <-waiting:
			case err := <-got:
				t.Fatalf("second Lock(exclusive=%v) = %v while the first is held, want it to wait", tt.second, err)
			case <-time.After(5 * time.Second):
				t.Fatal("second Lock() never called waiting")
			}
			select {
			case err := <-got:
				t.Fatalf("second Lock(exclusive=%v) = %v while the first is held, want it to wait", tt.second, err)
			case <-time.After(150 * time.Millisecond):
			}
			if err := first.Unlock(); err != nil {
				t.Fatalf("Unlock() = %v, want nil", err)
			}
			select {
			case err := <-got:
				if err != nil {
					t.Fatalf("second Lock() after Unlock = %v, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("second Lock() still waiting after the first was released")
			}
		})
	}
}

func TestLockCancelledWhileWaiting(t *testing.T) {
	l := newLayout(t)
	held, err := l.Lock(context.Background(), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	got, waiting, release := lockAsync(t, layout.New(l.Root()), ctx, true)
	defer release()
	select {
	case <-waiting:
	case <-time.After(5 * time.Second):
		t.Fatal("Lock() never called waiting")
	}
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Lock() after cancel = %v, want an error wrapping %v", err, context.Canceled)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Lock() did not return after its ctx was cancelled")
	}
}

func TestLockDeadline(t *testing.T) {
	l := newLayout(t)
	held, err := l.Lock(context.Background(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	lk, err := layout.New(l.Root()).Lock(ctx, true, nil)
	if !errors.Is(err, context.DeadlineExceeded) || lk != nil {
		t.Errorf("Lock(exclusive) under a shared lock = %v, %v, want an error wrapping %v", lk, err, context.DeadlineExceeded)
	}
}

func TestUnlockTwice(t *testing.T) {
	l := newLayout(t)
	lk, err := l.Lock(context.Background(), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := lk.Unlock(); err != nil {
		t.Errorf("Unlock() = %v, want nil", err)
	}
	if err := lk.Unlock(); err != nil {
		t.Errorf("second Unlock() = %v, want nil", err)
	}
	var none *layout.Lock
	if err := none.Unlock(); err != nil {
		t.Errorf("(*Lock)(nil).Unlock() = %v, want nil", err)
	}
	// Released: it can be taken again at once.
	again, err := l.Lock(context.Background(), true, func(progress.Event) { t.Error("Lock() waited on a released lock") })
	if err != nil {
		t.Fatal(err)
	}
	again.Unlock()
}

func TestLockNeedsFolder(t *testing.T) {
	l := layout.New(filepath.Join(t.TempDir(), "absent"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if lk, err := l.Lock(ctx, true, nil); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock() on a missing folder = %v, %v, want an immediate error", lk, err)
	}
}

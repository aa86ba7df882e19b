//go:build unix

package flock

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestTryAndWait(t *testing.T) {
	file := filepath.Join(t.TempDir(), "lock")
	for _, tc := range []struct {
		name           string
		first, second  bool // exclusive?
		wantSecondBusy bool
	}{
		{"shared-shared", false, false, false},
		{"shared-exclusive", false, true, true},
		{"exclusive-shared", true, false, true},
		{"exclusive-exclusive", true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release, err := Try(file, true, tc.first)
			if err != nil {
				t.Fatalf("Try(first) = %v", err)
			}
			r2, err := Try(file, true, tc.second)
			if busy := errors.Is(err, ErrBusy); busy != tc.wantSecondBusy {
				t.Fatalf("Try(second) = %v, want busy %v", err, tc.wantSecondBusy)
			}
			if r2 != nil {
				r2()
			}
			if tc.wantSecondBusy {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
				defer cancel()
				waited := 0
				_, err := Wait(ctx, func() (func() error, error) { return Try(file, true, tc.second) }, 5*time.Millisecond, func() { waited++ })
				if !errors.Is(err, context.DeadlineExceeded) || waited != 1 {
					t.Errorf("Wait() on a held lock = %v after %d waiting calls, want DeadlineExceeded after 1", err, waited)
				}
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}
			r3, err := Try(file, true, true)
			if err != nil {
				t.Fatalf("Try() after release = %v, want the lock", err)
			}
			r3()
		})
	}
}

func TestTryFolderWithoutCreate(t *testing.T) {
	dir := t.TempDir()
	release, err := Try(dir, false, true)
	if err != nil {
		t.Fatalf("Try(folder) = %v", err)
	}
	release()
	if _, err := Try(filepath.Join(dir, "missing"), false, true); err == nil {
		t.Errorf("Try(missing, create=false) = nil, want an error")
	}
}

package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/errs"
)

func TestRestartsDo(t *testing.T) {
	cut := fmt.Errorf("reading blob: %w", io.ErrUnexpectedEOF)
	wrong := fmt.Errorf("blob: %w", errs.ErrDigestMismatch)
	for _, tc := range []struct {
		name     string
		restarts Restarts
		errs     []error // what each try returns, the last one repeated
		wantErr  error
		wantN    int
	}{
		{"first try succeeds", Restarts{}, []error{nil}, nil, 1},
		{"cut twice then whole", Restarts{Attempts: 4, Backoff: time.Nanosecond}, []error{cut, cut, nil}, nil, 3},
		{"cut every time: attempts bound the tries", Restarts{Attempts: 3, Backoff: time.Nanosecond}, []error{cut}, io.ErrUnexpectedEOF, 3},
		{"a wrong digest is final", Restarts{Attempts: 4, Backoff: time.Nanosecond}, []error{wrong}, errs.ErrDigestMismatch, 1},
		{"a refused request is final", Restarts{Attempts: 4, Backoff: time.Nanosecond}, []error{errs.ErrNotFound}, errs.ErrNotFound, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			var befores []int
			err := tc.restarts.Do(context.Background(), func() error {
				e := tc.errs[min(n, len(tc.errs)-1)]
				n++
				return e
			}, nil, func(next int, err error) { befores = append(befores, next) })
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("Do() = %v, want %v", err, tc.wantErr)
			}
			if n != tc.wantN {
				t.Errorf("Do() made %d tries, want %d", n, tc.wantN)
			}
			if len(befores) != tc.wantN-1 || len(befores) > 0 && befores[0] != 2 {
				t.Errorf("Do() announced tries %v, want 2..%d", befores, tc.wantN)
			}
		})
	}
}

// TestRestartsDoStopsWithContext: a context that ends while Do waits ends
// Do at once with its error, with no further try (the wait is an hour).
func TestRestartsDoStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := Restarts{Attempts: 5, Backoff: time.Hour}.Do(ctx, func() error {
		n++
		return io.ErrUnexpectedEOF
	}, nil, func(int, error) { cancel() })
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Errorf("Do() with ctx cancelled during the wait = %v after %d tries, want context.Canceled after 1", err, n)
	}
}

func TestRestartsValidate(t *testing.T) {
	for _, r := range []Restarts{{Attempts: -1}, {Backoff: -time.Second}} {
		if err := r.Validate(); !errors.Is(err, errs.ErrInvalidOption) {
			t.Errorf("%+v.Validate() = %v, want errs.ErrInvalidOption", r, err)
		}
	}
	if err := (Restarts{}).Validate(); err != nil {
		t.Errorf("Restarts{}.Validate() = %v, want nil (defaults)", err)
	}
}

package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/reference"
)

// TestBadRetryPolicyIsAnError: a negative field of the retry policy is an
// error the client returns from Err and from every call, before any
// request, instead of being replaced by a default.
func TestBadRetryPolicyIsAnError(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	ref, err := reference.Parse(strings.TrimPrefix(srv.URL, "http://") + "/app:1")
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]RetryPolicy{
		"attempts":   {Attempts: -1},
		"backoff":    {MinBackoff: -time.Second},
		"retryAfter": {MaxRetryAfter: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			c := NewClient(WithRetry(p))
			if err := c.Err(); !errors.Is(err, errs.ErrInvalidOption) {
				t.Errorf("NewClient(WithRetry(%+v)).Err() = %v, want errs.ErrInvalidOption", p, err)
			}
			if _, err := c.Resolve(context.Background(), ref); !errors.Is(err, errs.ErrInvalidOption) {
				t.Errorf("Resolve() with a bad retry policy = %v, want errs.ErrInvalidOption", err)
			}
		})
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("clients with bad options made %d requests, want none", n)
	}
	if err := NewClient(WithRetry(RetryPolicy{Attempts: 2})).Err(); err != nil {
		t.Errorf("NewClient(WithRetry(Attempts: 2)).Err() = %v, want nil", err)
	}
}

package systemtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// TestSyncWaitsForServe: serve holds the layout's shared lock, so a sync
// (a writer) waits, says so once, and goes on when serve stops.
func TestSyncWaitsForServe(t *testing.T) {
	t.Parallel() // its own registry and folders: it overlaps the package's long tests
	cfgPath := hubCheckout(t)
	cfg, err := config.Load(context.Background(), cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	vendorimgtest.Serve(t, vendorimgtest.ServeOptions{Config: cfgPath})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	waits := 0
	_, err = vendorimg.Sync(ctx, cfg, vendorimg.SyncOptions{Offline: true, Progress: func(e progress.Event) {
		if e.Kind == progress.Waiting {
			waits++
		}
	}})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for another vendorimg") || waits != 1 {
		t.Errorf("Sync while serve runs = %v after %d waiting events; want it to wait, say so once, and give up with ctx", err, waits)
	}
	// Readers share the lock with serve.
	if _, err := vendorimg.Verify(context.Background(), cfg, vendorimg.VerifyOptions{}); err != nil {
		t.Errorf("Verify while serve runs: %v", err)
	}
}

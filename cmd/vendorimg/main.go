// Command vendorimg vendors container images pinned by digest into an OCI
// image layout in your repository, loads them into docker offline, and
// proves they did not change. See "vendorimg --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/vendorimg/vendorimg/internal/cli"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// A command lives for milliseconds to seconds on a heap of a few
		// MiB: collecting at three times the live heap rather than twice
		// spares a no-op sync of 100 images its one collection (an eighth
		// of its time) for at most a few MiB more. GOGC, if set, wins.
		debug.SetGCPercent(200)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Command vendorimg vendors container images pinned by digest into an OCI
// image layout in your repository, loads them into docker offline, and
// proves they did not change. See "vendorimg --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vendorimg/vendorimg/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

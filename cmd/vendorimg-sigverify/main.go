// Command vendorimg-sigverify checks, offline, the signatures vendored in
// an OCI layout against the verify: policies of vendorimg.yaml (package
// sigverify, which links the Sigstore libraries). "vendorimg verify" runs
// it, beside itself or from PATH, when an image has a verify: policy, so
// that vendorimg itself does not carry those libraries; its protocol is
// package internal/sigexec's. It is released with vendorimg and refuses to
// run for a vendorimg of another version.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vendorimg/vendorimg/internal/sigexec"
	"github.com/vendorimg/vendorimg/sigverify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := sigexec.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, sigverify.Verify)
	stop()
	os.Exit(code)
}

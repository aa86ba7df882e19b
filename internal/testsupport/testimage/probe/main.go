// Command probe is the entrypoint of vendorimg's own test image
// (registry.vendorimg.test/probe:1): a tiny static program that end-to-end
// tests run in a container to see that the image starts, reads and writes
// files, sees its environment, and exits as told. It uses only the
// standard library, so that its binary is small and reproducible.
//
// Usage:
//
//	probe echo [ARG]...        print the arguments, separated by spaces
//	probe cat FILE...          print the files' contents
//	probe write FILE CONTENT   write CONTENT (no newline added) to FILE
//	probe sha256 FILE...       print "HEX  FILE" per file, as sha256sum does
//	probe ls [DIR]             list DIR (default "."), sorted, folders with "/"
//	probe env                  print the environment, sorted
//	probe sleep SECONDS        sleep (fractions allowed); SIGTERM or SIGINT end it early
//	probe exit N               exit with status N (0-255)
//
// A failure prints "probe: message" on stderr and exits 1; a usage error
// exits 2.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

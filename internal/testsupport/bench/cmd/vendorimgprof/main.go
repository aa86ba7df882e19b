// Command vendorimgprof is vendorimg's CLI (internal/cli, exactly what
// cmd/vendorimg runs) with a pprof CPU profile of the whole run, for the
// profiles of issue 9: VENDORIMG_CPUPROFILE=FILE writes it, and
// VENDORIMG_CPUPROFILE_HZ (default 100) raises the sampling rate, since a
// sync lasts well under a second. Profiles of several runs merge with
// "go tool pprof -proto A B ... > merged". Its start-up also pays for
// runtime/pprof; time vendorimg itself, not this.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"

	"github.com/vendorimg/vendorimg/internal/cli"
)

func main() {
	var prof *os.File
	if path := os.Getenv("VENDORIMG_CPUPROFILE"); path != "" {
		var err error
		if prof, err = os.Create(path); err != nil {
			fmt.Fprintln(os.Stderr, "vendorimgprof:", err)
			os.Exit(1)
		}
		if hz, err := strconv.Atoi(os.Getenv("VENDORIMG_CPUPROFILE_HZ")); err == nil && hz > 0 {
			// Set before StartCPUProfile, which then keeps this rate (and
			// says on stderr that it cannot set its own).
			runtime.SetCPUProfileRate(hz)
		}
		if err := pprof.StartCPUProfile(prof); err != nil {
			fmt.Fprintln(os.Stderr, "vendorimgprof:", err)
			os.Exit(1)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if prof != nil {
		pprof.StopCPUProfile()
		prof.Close()
	}
	os.Exit(code)
}

// Command release builds vendorimg's release files; scripts/release runs
// it (see there for its usage and environment).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/vendorimg/vendorimg/internal/release"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: scripts/release VERSION [OUTDIR]")
		os.Exit(2)
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	opts := release.Options{Version: args[0], Root: root, OutDir: "dist", Log: os.Stderr}
	if len(args) == 2 {
		opts.OutDir = args[1]
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", s)
		}
		opts.Time = time.Unix(sec, 0).UTC()
	}
	if _, err := os.Stat("LICENSE"); err != nil && os.Getenv("RELEASE_WITHOUT_LICENSE") != "1" {
		return fmt.Errorf("no LICENSE file in %s: a release's archives and wheels carry the licence; add one, or set RELEASE_WITHOUT_LICENSE=1 for a build that is not to be published", root)
	}
	res, err := release.Run(ctx, opts)
	if err != nil {
		return err
	}
	if len(res.Commit) > 6 && res.Commit[len(res.Commit)-6:] == "-dirty" {
		fmt.Fprintf(os.Stderr, "release: warning: built from a work tree with changes (commit %s)\n", res.Commit)
	}
	for _, a := range res.Artifacts {
		fmt.Printf("%s  %s  %d\n", a.SHA256, a.Name, a.Size)
	}
	return nil
}

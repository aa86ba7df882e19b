// Command mkprobe rebuilds vendorimg's own test image and vendors it into
// the repository, through the same Add and Sync a user runs:
//
//  1. it builds registry.vendorimg.test/probe:1 from internal/testsupport/testimage/probe
//     for linux/amd64 and linux/arm64, reproducibly (see package testimage);
//  2. it pushes the index to a registry it serves in process on 127.0.0.1;
//  3. it runs vendorimg.Add with a client that mirrors
//     registry.vendorimg.test to that registry, which resolves the tag,
//     pins the digest in vendorimg.yaml and syncs the layout;
//  4. it deletes blobs a previous pin left (gc) and verifies the layout
//     deeply.
//
// The mirror lives only in the client: vendorimg.yaml keeps the honest
// name and no mirrors: key. Run it through its go generate recipe, from
// the repository root:
//
//	go generate -tags mkprobe ./internal/testsupport/testimage
//
// or directly:
//
//	go run ./internal/testsupport/testimage/cmd/mkprobe -C .
//
// With the same Go version a second run changes no byte; with another one
// the binaries differ, so the digest changes and the run re-pins.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/testimage"
	"github.com/vendorimg/vendorimg/reference"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args, builds, vendors and prints a summary; it returns the
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mkprobe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("C", "", "the folder holding vendorimg.yaml and go.mod (default: the nearest folder with a vendorimg.yaml, from the current one up)")
	ref := fs.String("ref", testimage.Ref, "the image's name")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mkprobe [-C DIR] [-ref REF]\n\nRebuilds the probe image and vendors it with vendorimg add (see go doc ./internal/testsupport/testimage/cmd/mkprobe).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mkprobe: unexpected arguments %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	r, err := reference.Parse(*ref)
	if err != nil {
		fmt.Fprintf(stderr, "mkprobe: %s\n", err)
		return 2
	}
	if err := mkprobe(ctx, *dir, r, stdout); err != nil {
		fmt.Fprintf(stderr, "mkprobe: %s\n", err)
		return 1
	}
	return 0
}

func mkprobe(ctx context.Context, dir string, ref reference.Reference, stdout io.Writer) error {
	path, err := configPath(dir)
	if err != nil {
		return err
	}
	opts := testimage.Options{Dir: filepath.Dir(path)}
	goVersion, err := testimage.GoVersion(ctx, opts)
	if err != nil {
		return err
	}
	idx, err := testimage.Index(ctx, testimage.Platforms, opts)
	if err != nil {
		return err
	}
	res, err := vendor(ctx, path, ref, idx)
	if err != nil {
		return err
	}
	res.GoVersion = goVersion
	return res.print(stdout)
}

// configPath is DIR/vendorimg.yaml, or the nearest one.
func configPath(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(filepath.Join(dir, config.FileName))
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return config.Find(wd)
}

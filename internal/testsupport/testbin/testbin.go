// Package testbin builds the vendorimg command for the tests that run it
// as a separate process (to kill it, to watch its system calls, to run it
// from pytest or go generate), with vendorimg-sigverify beside it as the
// release ships them (vendorimg runs it for verify: policies): one
// builder, so that every such test runs the same binaries built the same
// way; and runs its serve command for a test (Serve), in the test's network
// namespace or an engine's. It is test support, not linked by vendorimg
// itself.
package testbin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Package is the import path of the vendorimg command.
const Package = "github.com/vendorimg/vendorimg/cmd/vendorimg"

// SigverifyPackage is the import path of vendorimg-sigverify, the program
// vendorimg runs to check verify: policies (internal/sigexec).
const SigverifyPackage = "github.com/vendorimg/vendorimg/cmd/vendorimg-sigverify"

// Sigverify is the file name of vendorimg-sigverify.
const Sigverify = "vendorimg-sigverify"

// Build compiles the vendorimg command and vendorimg-sigverify into the
// folder dir (dir/vendorimg and dir/vendorimg-sigverify, where vendorimg
// finds it), creating dir if need be, with the go command of the PATH and
// flags added to go build's (say "-ldflags=-X ..."). It works from any
// folder of the module.
func Build(ctx context.Context, dir string, flags ...string) error {
	return build(ctx, dir, flags, Package, SigverifyPackage)
}

// BuildSigverify compiles vendorimg-sigverify alone into the folder dir,
// with flags added to go build's (a test builds one of another version so).
func BuildSigverify(ctx context.Context, dir string, flags ...string) error {
	return build(ctx, dir, flags, SigverifyPackage)
}

func build(ctx context.Context, dir string, flags []string, pkgs ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := append(append([]string{"build", "-o", dir + string(filepath.Separator)}, flags...), pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %v: %v\n%s", args, err, b)
	}
	return nil
}

var (
	once    sync.Once
	binPath string
	binErr  error
)

// Path returns the vendorimg command built once per test process into a
// temporary folder (left for the process's later tests; the OS's temporary
// folder cleaning removes it), with vendorimg-sigverify beside it (see
// SigverifyPath), and fails t if they cannot be built.
func Path(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		dir, err := os.MkdirTemp("", "vendorimg-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "vendorimg")
		binErr = Build(context.Background(), dir)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// SigverifyPath returns the vendorimg-sigverify built beside Path's
// vendorimg, and fails t if they cannot be built.
func SigverifyPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(filepath.Dir(Path(t)), Sigverify)
}

// Package testbin builds the vendorimg command for the tests that run it
// as a separate process (to kill it, to watch its system calls, to run it
// from pytest or go generate): one builder, so that every such test runs
// the same binary built the same way; and runs its serve command for a
// test (Serve), in the test's network namespace or an engine's. It is test
// support, not linked by vendorimg itself.
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

// Build compiles the vendorimg command into out with the go command of the
// PATH. It works from any folder of the module.
func Build(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, Package)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", Package, err, b)
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
// folder cleaning removes it), and fails t if it cannot be built.
func Path(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		dir, err := os.MkdirTemp("", "vendorimg-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "vendorimg")
		binErr = Build(context.Background(), binPath)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

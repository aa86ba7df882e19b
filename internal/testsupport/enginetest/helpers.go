package enginetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Docker runs the docker command against the engine under test and
// returns its trimmed stdout; it fails t, with docker's stderr, if the
// command fails. It is the one docker helper of the engine-facing suites.
func Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := docker(args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// DockerErr runs the docker command against the engine under test and
// returns its trimmed stdout and an error naming the command and docker's
// stderr when it fails, for a test that expects a command may fail (a
// cleanup, a check that an image is gone).
func DockerErr(args ...string) (string, error) {
	out, err := docker(args...)
	return strings.TrimSpace(out), err
}

// CopyLayout copies the layout folder at src into a temporary folder of t
// and returns the copy's path, for a test that changes a layout.
func CopyLayout(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "images")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// FlipByte inverts the byte in the middle of the file at path: a blob
// whose size is right and whose digest is not.
func FlipByte(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

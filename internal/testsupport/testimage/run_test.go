package testimage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCommittedProbeRuns proves the vendored image runs without docker:
// it takes /probe for the host's architecture out of the committed layer
// and executes it.
func TestCommittedProbeRuns(t *testing.T) {
	c := loadCommitted(t, runtime.GOARCH)
	cf := c.config(t)
	if !slices.Equal(cf.Config.Entrypoint, []string{"/probe"}) {
		t.Errorf("entrypoint = %q, want [/probe]", cf.Config.Entrypoint)
	}
	headers, bodies := c.files(t)
	if h := headers["tmp/"]; h == nil || h.FileInfo().Mode()&os.ModeSticky == 0 || h.FileInfo().Mode().Perm() != 0o777 {
		t.Errorf("layer entry tmp/ = %+v, want a folder with mode 1777", h)
	}
	h := headers["probe"]
	if h == nil {
		t.Fatalf("layer %s has no probe entry (entries %v)", c.image.Layers[0].Digest, slices.Sorted(maps.Keys(headers)))
	}
	if h.Mode != 0o755 || h.Uid != 0 || h.Gid != 0 || h.ModTime.Unix() != 0 {
		t.Errorf("probe entry: mode %o, owner %d:%d, mtime %v; want 0755, 0:0, 1970", h.Mode, h.Uid, h.Gid, h.ModTime)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "probe")
	if err := os.WriteFile(bin, bodies["probe"], 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bodies["probe"])

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{name: "default command", args: cf.Config.Cmd, wantOut: "hello from probe\n"},
		{name: "echo", args: []string{"echo", "hi"}, wantOut: "hi\n"},
		{name: "sha256 of itself", args: []string{"sha256", bin}, wantOut: hex.EncodeToString(sum[:]) + "  " + bin + "\n"},
		{name: "write", args: []string{"write", filepath.Join(dir, "out"), "written"}},
		{name: "cat what it wrote", args: []string{"cat", filepath.Join(dir, "out")}, wantOut: "written"},
		{name: "ls", args: []string{"ls", dir}, wantOut: "out\nprobe\n"},
		{name: "exit 7", args: []string{"exit", "7"}, wantCode: 7},
		{name: "no command", args: nil, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tt.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("running probe %s: %v", strings.Join(tt.args, " "), err)
			}
			if code != tt.wantCode || stdout.String() != tt.wantOut {
				t.Errorf("probe %s = %d, %q; want %d, %q (stderr %q)", strings.Join(tt.args, " "), code, stdout.String(), tt.wantCode, tt.wantOut, stderr.String())
			}
		})
	}
}

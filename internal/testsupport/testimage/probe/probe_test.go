package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	hello := filepath.Join(dir, "hello.txt")
	if err := os.WriteFile(hello, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PROBE_TEST_VAR", "42")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string // exact, unless contains
		contains   bool
		wantErrSub string
	}{
		{name: "echo", args: []string{"echo", "hello", "from probe"}, wantOut: "hello from probe\n"},
		{name: "echo no args", args: []string{"echo"}, wantOut: "\n"},
		{name: "cat", args: []string{"cat", hello, hello}, wantOut: "hello\nhello\n"},
		{name: "cat missing", args: []string{"cat", filepath.Join(dir, "nope")}, wantCode: 1, wantErrSub: "no such file"},
		{name: "cat no args", args: []string{"cat"}, wantCode: 2, wantErrSub: "want FILE..."},
		{name: "sha256", args: []string{"sha256", hello}, wantOut: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  " + hello + "\n"},
		{name: "sha256 folder", args: []string{"sha256", dir}, wantCode: 1, wantErrSub: "is a directory"},
		{name: "ls", args: []string{"ls", dir}, wantOut: "hello.txt\nsub/\n"},
		{name: "ls missing", args: []string{"ls", filepath.Join(dir, "nope")}, wantCode: 1, wantErrSub: "no such file"},
		{name: "ls two args", args: []string{"ls", dir, dir}, wantCode: 2, wantErrSub: "want [DIR]"},
		{name: "env", args: []string{"env"}, wantOut: "PROBE_TEST_VAR=42\n", contains: true},
		{name: "env args", args: []string{"env", "x"}, wantCode: 2, wantErrSub: "want no arguments"},
		{name: "write no content", args: []string{"write", filepath.Join(dir, "w")}, wantCode: 2, wantErrSub: "want FILE CONTENT"},
		{name: "write into missing folder", args: []string{"write", filepath.Join(dir, "no", "w"), "x"}, wantCode: 1, wantErrSub: "no such file"},
		{name: "sleep zero", args: []string{"sleep", "0"}},
		{name: "sleep fraction", args: []string{"sleep", "0.01"}},
		{name: "sleep negative", args: []string{"sleep", "-1"}, wantCode: 2, wantErrSub: "must be a number"},
		{name: "sleep word", args: []string{"sleep", "soon"}, wantCode: 2, wantErrSub: "must be a number"},
		{name: "exit 0", args: []string{"exit", "0"}},
		{name: "exit 3", args: []string{"exit", "3"}, wantCode: 3},
		{name: "exit 255", args: []string{"exit", "255"}, wantCode: 255},
		{name: "exit 256", args: []string{"exit", "256"}, wantCode: 2, wantErrSub: "from 0 to 255"},
		{name: "exit word", args: []string{"exit", "x"}, wantCode: 2, wantErrSub: "from 0 to 255"},
		{name: "help", args: []string{"help"}, wantOut: usage},
		{name: "no command", args: nil, wantCode: 2, wantErrSub: "usage: probe COMMAND"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantErrSub: `unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d (stderr %q)", tt.args, code, tt.wantCode, stderr.String())
			}
			if tt.contains {
				if !strings.Contains(stdout.String(), tt.wantOut) {
					t.Errorf("run(%q) stdout = %q, want it to contain %q", tt.args, stdout.String(), tt.wantOut)
				}
			} else if stdout.String() != tt.wantOut {
				t.Errorf("run(%q) stdout = %q, want %q", tt.args, stdout.String(), tt.wantOut)
			}
			if tt.wantErrSub == "" && stderr.Len() > 0 {
				t.Errorf("run(%q) stderr = %q, want nothing", tt.args, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErrSub) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tt.args, stderr.String(), tt.wantErrSub)
			}
		})
	}
}

func TestWriteThenCat(t *testing.T) {
	file := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"write", file, "written by probe"}, &stdout, &stderr); code != 0 {
		t.Fatalf("run(write) = %d, want 0 (stderr %q)", code, stderr.String())
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "written by probe" {
		t.Errorf("file = %q, want %q", got, "written by probe")
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o644 != 0o644 {
		t.Errorf("mode = %v, want at least 0644", perm)
	}
	if code := run(context.Background(), []string{"cat", file}, &stdout, &stderr); code != 0 || stdout.String() != "written by probe" {
		t.Errorf("run(cat) = %d, %q; want 0, %q", code, stdout.String(), "written by probe")
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as a SIGTERM would
	start := time.Now()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"sleep", "60"}, &stdout, &stderr); code != 0 {
		t.Errorf("run(sleep 60) after cancel = %d, want 0 (stderr %q)", code, stderr.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("run(sleep 60) after cancel took %v, want it to return at once", d)
	}
}

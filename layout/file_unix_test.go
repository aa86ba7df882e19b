//go:build unix

package layout

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vendorimg/vendorimg/errs"
)

func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := bytes.Repeat([]byte("x"), 300_000)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(write("target", []byte("t")), link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		limit    int64
		want     []byte
		opened   bool
		wantErr  error  // errors.Is
		wantText string // in the error
	}{
		{name: "document", path: write("doc", []byte(`{"a":1}`)), limit: 100, want: []byte(`{"a":1}`), opened: true},
		{name: "empty", path: write("empty", nil), limit: 100, want: []byte{}, opened: true},
		{name: "exactly the limit", path: write("big", big), limit: int64(len(big)), want: big, opened: true},
		{name: "one byte over the limit", path: filepath.Join(dir, "big"), limit: int64(len(big)) - 1, opened: true, wantErr: errs.ErrTooLarge},
		{name: "missing", path: filepath.Join(dir, "missing"), limit: 100, wantErr: fs.ErrNotExist},
		{name: "symlink", path: link, limit: 100, wantText: "is a symlink"},
		{name: "fifo, not waited for", path: fifo, limit: 100, wantText: "not a regular file"},
		{name: "folder", path: dir, limit: 100, wantText: "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, opened, err := readRegular(tt.path, tt.limit)
			failing := tt.wantErr != nil || tt.wantText != ""
			switch {
			case !failing && err != nil:
				t.Fatalf("readRegular(%q) = %v, want no error", tt.path, err)
			case failing && err == nil:
				t.Fatalf("readRegular(%q) = %d bytes, want an error", tt.path, len(got))
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("readRegular(%q) = %v, want %v", tt.path, err, tt.wantErr)
			case tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText):
				t.Errorf("readRegular(%q) = %v, want it to say %q", tt.path, err, tt.wantText)
			}
			if opened != tt.opened {
				t.Errorf("readRegular(%q) opened = %v, want %v", tt.path, opened, tt.opened)
			}
			if !failing && !bytes.Equal(got, tt.want) {
				t.Errorf("readRegular(%q) = %d bytes, want %d", tt.path, len(got), len(tt.want))
			}
		})
	}
}

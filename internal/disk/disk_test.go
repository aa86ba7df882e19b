package disk

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// record installs a hook that keeps every event under root (and fails
// the ones fail picks) for the rest of the test.
func record(t *testing.T, root string, fail func(Event) error) func() []string {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	restore := SetHook(func(e Event) error {
		if !strings.HasPrefix(e.Path, root) {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		// Temporary names are random: keep their pattern's prefix.
		s := strings.ReplaceAll(e.String(), root, "ROOT")
		if i := strings.Index(s, ".tmp-"); i >= 0 {
			if j := strings.IndexAny(s[i:], " "); j >= 0 {
				s = s[:i] + ".tmp-*" + s[i+j:]
			} else {
				s = s[:i] + ".tmp-*"
			}
		}
		seen = append(seen, s)
		if fail != nil {
			return fail(e)
		}
		return nil
	})
	t.Cleanup(restore)
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

func TestMkdirAllSyncsEachNewFolderIntoItsParent(t *testing.T) {
	root := t.TempDir()
	events := record(t, root, nil)
	created, err := MkdirAll(filepath.Join(root, "a", "b", "c"), 0o755)
	if err != nil {
		t.Fatalf("MkdirAll() = %v", err)
	}
	if want := []string{filepath.Join(root, "a"), filepath.Join(root, "a", "b"), filepath.Join(root, "a", "b", "c")}; !slices.Equal(created, want) {
		t.Errorf("MkdirAll() created %v, want %v", created, want)
	}
	want := []string{"mkdir ROOT/a", "mkdir ROOT/a/b", "mkdir ROOT/a/b/c", "dirsync ROOT", "dirsync ROOT/a", "dirsync ROOT/a/b"}
	if got := events(); !slices.Equal(got, want) {
		t.Errorf("MkdirAll() did\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, d := range created {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("Stat(%s) = %v, %v; want a 0755 folder", d, fi, err)
		}
	}
	// Nothing to create: nothing done.
	if created, err := MkdirAll(filepath.Join(root, "a", "b"), 0o755); err != nil || len(created) != 0 {
		t.Errorf("MkdirAll(existing) = %v, %v; want nothing created", created, err)
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(root, "file"), filepath.Join(root, "file", "x")} {
		if _, err := MkdirAll(dir, 0o755); err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("MkdirAll(%s) = %v, want an error naming it", dir, err)
		}
	}
}

func TestWriteFileSyncsBytesThenNameThenFolder(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "index.json")
	events := record(t, root, nil)
	if err := WriteFile(path, []byte("new\n"), 0o644, ".tmp-index.json-*"); err != nil {
		t.Fatalf("WriteFile() = %v", err)
	}
	want := []string{"create ROOT/.tmp-*", "fsync ROOT/.tmp-*", "rename ROOT/.tmp-* -> ROOT/index.json", "dirsync ROOT"}
	if got := events(); !slices.Equal(got, want) {
		t.Errorf("WriteFile() did\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "new\n" {
		t.Errorf("ReadFile() = %q, %v; want %q", b, err, "new\n")
	}
}

// Every failure is returned, naming the path; one before the rename leaves
// the old file and no temporary file.
func TestWriteFileReturnsEveryFailure(t *testing.T) {
	boom := errors.New("injected I/O error")
	for _, tc := range []struct {
		op      Op
		keepOld bool
	}{{OpCreate, true}, {OpSync, true}, {OpRename, false}, {OpSyncDir, false}} {
		t.Run(string(tc.op), func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, "vendorimg.yaml")
			if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			record(t, root, func(e Event) error {
				if e.Op == tc.op {
					return boom
				}
				return nil
			})
			err := WriteFile(path, []byte("new\n"), 0o644, ".vendorimg.yaml.tmp-*")
			if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
				t.Fatalf("WriteFile() with a failing %s = %v, want the injected error naming %s", tc.op, err, path)
			}
			b, _ := os.ReadFile(path)
			if tc.keepOld && string(b) != "old\n" {
				t.Errorf("after a failed %s the file holds %q, want the old bytes", tc.op, b)
			}
			entries, _ := os.ReadDir(root)
			if len(entries) != 1 {
				t.Errorf("after a failed %s the folder holds %v, want only the file", tc.op, entries)
			}
		})
	}
}

func TestSyncDirNamesTheFolder(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	if err := SyncDir(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("SyncDir(%s) = %v, want an error naming it", missing, err)
	}
}

func TestWriterStartsWritebackEveryChunk(t *testing.T) {
	root := t.TempDir()
	events := record(t, root, nil)
	path := filepath.Join(root, "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f, path)
	block := make([]byte, 1<<20)
	var want []byte
	for i := range 20 {
		for j := range block {
			block[j] = byte(i + j)
		}
		if n, err := w.Write(block); n != len(block) || err != nil {
			t.Fatalf("Write() = %d, %v, want %d, nil", n, err, len(block))
		}
		want = append(want, block...)
	}
	if got := events(); !slices.Equal(got, []string{"writeback ROOT/f 0+8388608", "writeback ROOT/f 8388608+8388608"}) {
		t.Errorf("20 MiB through a Writer asked for writeback of\n  %s\nwant the first two 8 MiB chunks", strings.Join(got, "\n  "))
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the file holds %d bytes that differ from the %d written", len(got), len(want))
	}
}

func TestWriterReportsHookFailure(t *testing.T) {
	root := t.TempDir()
	boom := errors.New("boom")
	record(t, root, func(e Event) error {
		if e.Op == OpWriteback {
			return boom
		}
		return nil
	})
	f, err := os.Create(filepath.Join(root, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f, f.Name())
	if _, err := w.Write(make([]byte, WritebackChunk)); !errors.Is(err, boom) {
		t.Errorf("Write() of a chunk whose writeback failed = %v, want %v", err, boom)
	}
}

package disk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
)

// Op is a kind of file system operation, as a Hook sees it.
type Op string

// The operations a Hook sees.
const (
	// OpCreate: a temporary file was created (Path).
	OpCreate Op = "create"
	// OpSync: a file's bytes were synced (Path: its name now).
	OpSync Op = "fsync"
	// OpRename: Path was renamed to Target.
	OpRename Op = "rename"
	// OpMkdir: a folder was created (Path).
	OpMkdir Op = "mkdir"
	// OpSyncDir: a folder was synced (Path), making the names in it durable.
	OpSyncDir Op = "dirsync"
	// OpWriteback: a Writer asked the kernel to start writing a range of
	// the file Path to disk (Target: "OFFSET+LENGTH"); it makes nothing
	// durable.
	OpWriteback Op = "writeback"
)

// Event is one operation.
type Event struct {
	Op     Op
	Path   string
	Target string // OpRename's new name; OpWriteback's range
}

func (e Event) String() string {
	if e.Op == OpWriteback {
		return fmt.Sprintf("%s %s %s", e.Op, e.Path, e.Target)
	}
	if e.Target != "" {
		return fmt.Sprintf("%s %s -> %s", e.Op, e.Path, e.Target)
	}
	return fmt.Sprintf("%s %s", e.Op, e.Path)
}

// Hook is called after each operation that succeeded, in the goroutine
// that did it; an error it returns becomes the operation's error, as an
// fsync that did its work and then reported an I/O error would.
type Hook func(Event) error

var hook atomic.Pointer[Hook]

// SetHook installs h for every operation of the process until restore is
// called. It is for tests only (recording the order of operations,
// injecting a failure); with none, an operation costs one atomic load
// more.
func SetHook(h Hook) (restore func()) {
	old := hook.Swap(&h)
	return func() { hook.Store(old) }
}

func after(e Event) error {
	if h := hook.Load(); h != nil && *h != nil {
		return (*h)(e)
	}
	return nil
}

// CreateTemp is os.CreateTemp(dir, pattern).
func CreateTemp(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	if err := after(Event{Op: OpCreate, Path: f.Name()}); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// SyncFile flushes f's bytes to disk; path is f's name now (it may have
// been renamed since it was opened). The error names path.
func SyncFile(f *os.File, path string) error {
	err := f.Sync()
	if err == nil {
		err = after(Event{Op: OpSync, Path: path})
	}
	if err != nil {
		return fmt.Errorf("syncing %s to disk: %w", path, err)
	}
	return nil
}

// Rename renames src to dst. The new name is durable only once dst's
// folder is synced (SyncDir); src's bytes should be synced before.
func Rename(src, dst string) error {
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	if err := after(Event{Op: OpRename, Path: src, Target: dst}); err != nil {
		return &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
	}
	return nil
}

// SyncDir syncs the folder dir, which makes the names created, renamed or
// removed in it durable. The error names dir.
func SyncDir(dir string) error {
	err := syncDir(dir)
	if err == nil {
		err = after(Event{Op: OpSyncDir, Path: dir})
	}
	if err != nil {
		return fmt.Errorf("syncing folder %s to disk: %w", dir, err)
	}
	return nil
}

// MkdirAll creates dir and its missing parents, each with exactly mode
// (whatever the umask), and syncs the parent of each folder it created, so
// that the new folders survive a crash. It returns the folders it created,
// outermost first. An existing dir, or a parent, that is not a folder is
// an error.
func MkdirAll(dir string, mode fs.FileMode) ([]string, error) {
	dir = filepath.Clean(dir)
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return nil, fmt.Errorf("creating %s: %s exists and is not a folder", dir, d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("creating %s: %w", dir, err)
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	slices.Reverse(missing)
	var created []string
	for _, d := range missing {
		err := os.Mkdir(d, mode)
		if errors.Is(err, fs.ErrExist) {
			// Another process made it first; it syncs it.
			continue
		}
		if err == nil {
			// Mkdir honours the umask.
			err = os.Chmod(d, mode)
		}
		if err == nil {
			err = after(Event{Op: OpMkdir, Path: d})
		}
		if err != nil {
			return created, fmt.Errorf("creating %s: %w", dir, err)
		}
		created = append(created, d)
	}
	// Each new folder's name lives in its parent.
	for _, d := range created {
		if err := SyncDir(filepath.Dir(d)); err != nil {
			return created, fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	return created, nil
}

// WriteFile replaces path with content, atomically and durably: through a
// temporary file in path's folder named after pattern (as os.CreateTemp
// takes it), given mode, synced, renamed over path, and then the folder
// synced. Readers see the old bytes or the new, never part, and after a
// crash path holds one or the other. The folder must exist.
func WriteFile(path string, content []byte, mode fs.FileMode, pattern string) error {
	dir := filepath.Dir(path)
	f, err := CreateTemp(dir, pattern)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails, harmlessly, after the rename
	if _, err := f.Write(content); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := Finish(f, tmp, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Finish gives the open file f, named path, its mode, syncs it and closes
// it, also on error.
func Finish(f *os.File, path string, mode fs.FileMode) error {
	err := func() error {
		if err := f.Chmod(mode); err != nil {
			return err
		}
		return SyncFile(f, path)
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

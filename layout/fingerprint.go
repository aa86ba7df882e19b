package layout

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// Fingerprint watches a set of the layout's files cheaply: it remembers
// each file's size, modification and change times and inode, and Changes
// rehashes only the files whose record moved. It is the per-test check of
// a test suite (a stat per file), not a verification: a change that keeps
// the size, both times and the inode is not seen (Verify sees it).
// A Fingerprint is not safe for concurrent use.
type Fingerprint struct {
	l     *Layout
	files []*watchedFile
}

// watchedFile is one file of a Fingerprint.
type watchedFile struct {
	// rel is the path relative to the layout's root.
	rel string
	// want is the digest the file must hash to: its name for a blob, the
	// first hash of index.json.
	want digest.Digest
	// stat is the file's record when it was last hashed (or seen gone).
	stat fileStat
	// got is what the file hashed to then ("" when it was missing).
	got digest.Digest
}

// FileChange is a watched file that no longer hashes to what it should,
// or that is back to it.
type FileChange struct {
	// Path is the file's path relative to the layout's root
	// ("blobs/sha256/...", "index.json").
	Path string `json:"path"`
	// Expected is the digest it must have; Actual what it has now
	// ("" when it is gone).
	Expected string `json:"expected"`
	Actual   string `json:"actual,omitempty"`
	// Restored: the file hashes to Expected again (someone put it back).
	Restored bool `json:"restored,omitempty"`
}

// String says what changed, for messages.
func (c FileChange) String() string {
	switch {
	case c.Restored:
		return fmt.Sprintf("%s is back to %s", c.Path, c.Expected)
	case c.Actual == "":
		return fmt.Sprintf("%s was removed (it should hash to %s)", c.Path, c.Expected)
	default:
		return fmt.Sprintf("%s changed: it hashes to %s, not %s", c.Path, c.Actual, c.Expected)
	}
}

// Fingerprint rehashes index.json and the blobs ds name, once, and returns
// the Fingerprint that watches them, with the files that are already
// wrong (missing, or not hashing to their digest): Changes reports those
// again only if they change again. A blob named twice is watched once.
func (l *Layout) Fingerprint(ctx context.Context, ds []digest.Digest) (*Fingerprint, []FileChange, error) {
	f := &Fingerprint{l: l}
	seen := map[digest.Digest]bool{}
	idx := &watchedFile{rel: IndexFile}
	f.files = append(f.files, idx)
	for _, d := range ds {
		if seen[d] {
			continue
		}
		seen[d] = true
		if _, err := l.BlobPath(d); err != nil {
			return nil, nil, err
		}
		f.files = append(f.files, &watchedFile{rel: RelBlobPath(d), want: d})
	}
	var bad []FileChange
	for _, w := range f.files {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if err := f.rehash(w); err != nil {
			return nil, nil, err
		}
		if w == idx {
			if w.got == "" {
				return nil, nil, fmt.Errorf("reading %s: %w", filepath.Join(l.root, IndexFile), fs.ErrNotExist)
			}
			w.want = w.got
		}
		if w.got != w.want {
			bad = append(bad, w.change())
		}
	}
	return f, bad, nil
}

// Files is how many files f watches.
func (f *Fingerprint) Files() int { return len(f.files) }

// Changes stats every watched file and rehashes those whose record moved
// since the last call; it returns each file whose verdict changed: a file
// that now hashes to something else or is gone, or (Restored) one that is
// back to its digest. Calling it again without a change returns nothing.
func (f *Fingerprint) Changes(ctx context.Context) ([]FileChange, error) {
	var out []FileChange
	for _, w := range f.files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st, err := statFile(filepath.Join(f.l.root, w.rel))
		if err != nil {
			return nil, err
		}
		if st == w.stat {
			continue
		}
		wasOK := w.got == w.want
		before := w.got
		if err := f.rehash(w); err != nil {
			return nil, err
		}
		switch {
		case w.got == w.want && !wasOK:
			c := w.change()
			c.Restored = true
			out = append(out, c)
		case w.got != w.want && w.got != before:
			out = append(out, w.change())
		}
	}
	return out, nil
}

func (w *watchedFile) change() FileChange {
	return FileChange{Path: w.rel, Expected: w.want.String(), Actual: w.got.String()}
}

// rehash records w's state and hash; a missing file hashes to "".
func (f *Fingerprint) rehash(w *watchedFile) error {
	path := filepath.Join(f.l.root, w.rel)
	for {
		st, err := statFile(path)
		if err != nil {
			return err
		}
		got, err := hashFile(path)
		if err != nil {
			return err
		}
		after, err := statFile(path)
		if err != nil {
			return err
		}
		// A file written while it was hashed is hashed again, so that the
		// record and the hash describe the same content.
		if after == st {
			w.stat, w.got = st, got
			return nil
		}
	}
}

// hashFile is the sha256 of the regular file at path, "" when it is gone.
func hashFile(path string) (digest.Digest, error) {
	fh, err := openRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return digestOf(h), nil
}

// statFile is path's record; the zero record when it is gone.
func statFile(path string) (fileStat, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileStat{}, nil
	}
	if err != nil {
		return fileStat{}, err
	}
	return statOf(fi), nil
}

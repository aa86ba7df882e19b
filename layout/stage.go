package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/vendorimg/vendorimg/internal/disk"
)

// stagePrefix starts the name of a stage's folder in the layout's root. It
// starts with tempPrefix, so that verify reports a stage a crash left
// (as temporary: an interrupted run) and the next sync or gc removes it.
const stagePrefix = tempPrefix + "stage-"

// Stage collects new blobs for a layout without changing the layout: its
// Layout reads a blob from the stage when it is staged and from the layout
// otherwise, and writes every blob into the stage, a folder in the
// layout's root. Commit moves the staged blobs into the layout (a rename
// each, then one sync of the blob folder); Abort removes them, leaving the
// layout exactly as it was. A command that changes pins stages, so that
// when it fails no file of the layout has changed.
//
// A Stage is used under the layout's exclusive lock, by one command.
type Stage struct {
	base *Layout
	view *Layout
	dir  string

	mu     sync.Mutex
	staged map[digest.Digest]bool
	// unsynced are staged blobs, still open, whose writeback has started
	// but whose fsync is still to come: Commit syncs them all at once, so
	// that the file system commits their metadata together rather than
	// one journal commit per blob. Past maxUnsynced the oldest is synced
	// in the background (flushing; flushErr is the first failure), at
	// most flushJobs at once (flushSlots), so that a run of thousands of
	// blobs keeps few files open also when the disk syncs slowly.
	unsynced   []stagedFile
	flushing   sync.WaitGroup
	flushSlots chan struct{}
	flushErr   error
}

// stagedFile is a staged blob's open file.
type stagedFile struct {
	digest digest.Digest
	f      *os.File
	path   string
}

// maxUnsynced bounds Stage.unsynced; flushJobs is how many of the
// oldest are synced in the background at once (a blob staged beyond that
// waits for one to end); syncJobs is how many staged blobs Commit syncs at
// once. A stage keeps at most maxUnsynced + flushJobs files open.
const (
	maxUnsynced = 64
	flushJobs   = 8
	syncJobs    = 16
)

// NewStage returns an empty stage for l. Its folder is created in l's
// root (which must exist) when the first blob is staged, so that a command
// that stages nothing writes nothing.
func (l *Layout) NewStage() *Stage {
	s := &Stage{base: l, staged: map[digest.Digest]bool{}, flushSlots: make(chan struct{}, flushJobs)}
	s.view = &Layout{root: l.root, stage: s}
	return s
}

// folder returns the stage's folder, creating it on first use.
func (s *Stage) folder() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir != "" {
		return s.dir, nil
	}
	dir, err := os.MkdirTemp(s.base.root, stagePrefix+"*")
	if err != nil {
		return "", fmt.Errorf("staging blobs in %s: %w", s.base.root, err)
	}
	if err := os.Chmod(dir, DirMode); err != nil {
		return "", fmt.Errorf("staging blobs in %s: %w", s.base.root, err)
	}
	s.dir = dir
	return dir, nil
}

// Layout is the layout as it will be once the stage is committed: reads
// find staged blobs first, writes go to the stage.
func (s *Stage) Layout() *Layout { return s.view }

// Staged are the digests of the blobs staged so far, sorted.
func (s *Stage) Staged() []digest.Digest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]digest.Digest, 0, len(s.staged))
	for d := range s.staged {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

func (s *Stage) path(d digest.Digest) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return filepath.Join(s.dir, d.Encoded())
}

func (s *Stage) has(d digest.Digest) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.staged[d]
}

// flush records d as staged, its file f already renamed to path in the
// stage, and starts writing its bytes to disk; Commit waits for them.
func (s *Stage) flush(d digest.Digest, f *os.File, path string) {
	disk.StartWriteback(f)
	s.mu.Lock()
	s.staged[d] = true
	s.unsynced = append(s.unsynced, stagedFile{d, f, path})
	over := len(s.unsynced) > maxUnsynced
	var oldest stagedFile
	if over {
		oldest = s.unsynced[0]
		s.unsynced = s.unsynced[1:]
	}
	s.mu.Unlock()
	if over {
		s.flushSlots <- struct{}{}
		s.flushing.Add(1)
		go func() {
			defer func() {
				<-s.flushSlots
				s.flushing.Done()
			}()
			if err := oldest.sync(); err != nil {
				s.mu.Lock()
				if s.flushErr == nil {
					s.flushErr = err
				}
				s.mu.Unlock()
			}
		}()
	}
}

// sync makes the staged blob's bytes durable and closes its file.
func (sf stagedFile) sync() error {
	err := disk.SyncFile(sf.f, sf.path)
	if cerr := sf.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing staged blob %s: %w", sf.digest, err)
	}
	return nil
}

// syncAll waits for the background syncs and syncs every other staged
// blob, syncJobs at once; it returns the first failure.
func (s *Stage) syncAll() error {
	s.flushing.Wait()
	s.mu.Lock()
	files := s.unsynced
	s.unsynced = nil
	err := s.flushErr
	s.mu.Unlock()
	var g errgroup.Group
	g.SetLimit(syncJobs)
	for _, sf := range files {
		g.Go(sf.sync)
	}
	return errors.Join(err, g.Wait())
}

// closeAll waits for the background syncs and closes the other staged
// blobs' files unsynced.
func (s *Stage) closeAll() {
	s.flushing.Wait()
	s.mu.Lock()
	files := s.unsynced
	s.unsynced = nil
	s.mu.Unlock()
	for _, sf := range files {
		sf.f.Close()
	}
}

// Commit moves every staged blob into the layout's blob folder, replacing
// what is stored under the same digest, makes the renames durable, and
// removes the stage. Each blob was verified when it was staged and is
// synced to disk before it moves, so at no
// moment does a blob path hold bytes that do not hash to its name. A
// layout interrupted during Commit holds some new blobs, none in index.json
// yet: verify reports it incomplete, and the next sync completes it.
func (s *Stage) Commit(ctx context.Context) error {
	staged := s.Staged()
	if len(staged) == 0 {
		return s.Abort()
	}
	// Renamed means durable: every staged blob is on disk first.
	if err := s.syncAll(); err != nil {
		return err
	}
	if err := mkdir(filepath.Join(s.base.root, BlobsDir)); err != nil {
		return err
	}
	if err := mkdir(s.base.blobDir()); err != nil {
		return err
	}
	for _, d := range staged {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := disk.Rename(s.path(d), filepath.Join(s.base.blobDir(), d.Encoded())); err != nil {
			return fmt.Errorf("committing blob %s: %w", d, err)
		}
	}
	// One sync of the folder makes every rename durable, before index.json
	// may name the blobs.
	if err := disk.SyncDir(s.base.blobDir()); err != nil {
		return fmt.Errorf("committing blobs: %w", err)
	}
	if err := s.Abort(); err != nil {
		return err
	}
	return disk.SyncDir(s.base.root)
}

// Abort removes the stage and what it holds; the layout is as it was. It
// is safe to call after Commit.
func (s *Stage) Abort() error {
	s.closeAll()
	s.mu.Lock()
	dir := s.dir
	s.mu.Unlock()
	if dir == "" {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the stage %s: %w", dir, err)
	}
	return nil
}

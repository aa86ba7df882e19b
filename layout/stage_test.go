package layout_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/internal/disk"
	"github.com/vendorimg/vendorimg/layout"
)

// A stage syncs its blobs together at Commit, but never renames one into
// the layout before its bytes are synced, and keeps a bounded number of
// files open however many blobs it holds.
func TestStageSyncsEveryBlobBeforeItsRename(t *testing.T) {
	root := filepath.Join(t.TempDir(), "images")
	l := layout.New(root)
	ctx := context.Background()
	if err := l.Init(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	synced := map[string]bool{} // blob file names, as staged
	var breaches []string
	t.Cleanup(disk.SetHook(func(e disk.Event) error {
		if !strings.HasPrefix(e.Path, root) {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		switch e.Op {
		case disk.OpSync:
			synced[filepath.Base(e.Path)] = true
		case disk.OpRename:
			if filepath.Dir(e.Target) == filepath.Join(root, "blobs", "sha256") && !synced[filepath.Base(e.Path)] {
				breaches = append(breaches, filepath.Base(e.Target))
			}
		}
		return nil
	}))
	const blobs = 150
	stage := l.NewStage()
	fdsBefore := openFiles(t)
	var want []ocispec.Descriptor
	for i := range blobs {
		b := []byte(fmt.Sprintf("blob %d", i))
		desc := ocispec.Descriptor{Digest: digest.FromBytes(b), Size: int64(len(b))}
		want = append(want, desc)
		if err := stage.Layout().WriteBlobBytes(ctx, desc, b); err != nil {
			t.Fatalf("WriteBlobBytes(%d) = %v", i, err)
		}
	}
	if fdsBefore >= 0 {
		if open := openFiles(t) - fdsBefore; open > 64+8 {
			t.Errorf("a stage of %d blobs keeps %d files open, want at most about 64", blobs, open)
		}
	}
	if err := stage.Commit(ctx); err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(breaches) > 0 {
		t.Errorf("%d blobs were renamed into the layout before their bytes were synced, the first %s", len(breaches), breaches[0])
	}
	for _, desc := range want {
		if ok, err := l.HasBlob(ctx, desc); !ok || err != nil {
			t.Errorf("HasBlob(%s) = %v, %v after Commit, want true", desc.Digest, ok, err)
		}
	}
}

// openFiles counts the process's open file descriptors, or -1 where
// /proc does not tell.
func openFiles(t *testing.T) int {
	t.Helper()
	if runtime.GOOS != "linux" {
		return -1
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(fds)
}

package layout_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/layout"
)

// TestFingerprint changes watched files the ways a test might (a byte
// flipped in place, a file removed, one put back) and checks that each
// change is reported once, by the call after it.
func TestFingerprint(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	l := layout.New(root)
	if err := os.MkdirAll(filepath.Join(root, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(rel string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("index.json", []byte(`{"schemaVersion":2}`))
	a, b := []byte("blob a"), []byte("blob b")
	da, db := digest.FromBytes(a), digest.FromBytes(b)
	write(layout.RelBlobPath(da), a)
	write(layout.RelBlobPath(db), []byte("not b")) // wrong before the watch starts

	f, bad, err := l.Fingerprint(ctx, []digest.Digest{da, db, da})
	if err != nil {
		t.Fatal(err)
	}
	if f.Files() != 3 {
		t.Errorf("Files() = %d, want 3 (index.json and two blobs, a once)", f.Files())
	}
	if len(bad) != 1 || bad[0].Path != layout.RelBlobPath(db) || bad[0].Expected != db.String() || bad[0].Actual != digest.FromString("not b").String() {
		t.Fatalf("Fingerprint's already-wrong files = %+v, want %s only", bad, layout.RelBlobPath(db))
	}

	steps := []struct {
		name   string
		change func()
		want   []layout.FileChange
	}{
		{"nothing", func() {}, nil},
		{"byte-flipped", func() { write(layout.RelBlobPath(da), []byte("blob A")) },
			[]layout.FileChange{{Path: layout.RelBlobPath(da), Expected: da.String(), Actual: digest.FromString("blob A").String()}}},
		{"reported-once", func() {}, nil},
		{"rewritten-same-bytes", func() { write(layout.RelBlobPath(da), []byte("blob A")) }, nil},
		{"put-back", func() { write(layout.RelBlobPath(da), a) },
			[]layout.FileChange{{Path: layout.RelBlobPath(da), Expected: da.String(), Actual: da.String(), Restored: true}}},
		{"index-rewritten", func() { write("index.json", []byte(`{"schemaVersion":3}`)) },
			[]layout.FileChange{{Path: "index.json", Expected: digest.FromString(`{"schemaVersion":2}`).String(), Actual: digest.FromString(`{"schemaVersion":3}`).String()}}},
		{"removed", func() {
			if err := os.Remove(filepath.Join(root, layout.RelBlobPath(da))); err != nil {
				t.Fatal(err)
			}
		}, []layout.FileChange{{Path: layout.RelBlobPath(da), Expected: da.String()}}},
		{"still-wrong-b-fixed", func() { write(layout.RelBlobPath(db), b) },
			[]layout.FileChange{{Path: layout.RelBlobPath(db), Expected: db.String(), Actual: db.String(), Restored: true}}},
	}
	for _, s := range steps {
		s.change()
		got, err := f.Changes(ctx)
		if err != nil {
			t.Fatalf("%s: Changes: %v", s.name, err)
		}
		if len(got) != len(s.want) {
			t.Fatalf("%s: Changes() = %+v, want %+v", s.name, got, s.want)
		}
		for i := range got {
			if got[i] != s.want[i] {
				t.Errorf("%s: Changes()[%d] = %+v, want %+v", s.name, i, got[i], s.want[i])
			}
		}
	}
}

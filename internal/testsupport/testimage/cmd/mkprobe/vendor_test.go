package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/testimage"
	"github.com/vendorimg/vendorimg/reference"
)

// fakeIndex is the probe image's shape around a made-up binary: building
// it needs no compiler, so the test stays fast.
func fakeIndex(t *testing.T, binary string) v1.ImageIndex {
	t.Helper()
	var images []v1.Image
	for _, p := range testimage.Platforms {
		img, err := testimage.ImageFromBinary(p, []byte(binary+" for "+p.Architecture), "go1.0")
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, img)
	}
	idx, err := testimage.IndexOf(testimage.Platforms, images)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// snapshot hashes every file under dir, by path.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[path] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVendor(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, config.FileName)
	ref, err := reference.Parse(testimage.Ref)
	if err != nil {
		t.Fatal(err)
	}
	a, b := fakeIndex(t, "first"), fakeIndex(t, "second")
	digestA, err := a.Digest()
	if err != nil {
		t.Fatal(err)
	}
	digestB, err := b.Digest()
	if err != nil {
		t.Fatal(err)
	}

	var before map[string]string
	steps := []struct {
		name        string
		idx         v1.ImageIndex
		wantPin     v1.Hash
		wantOld     string
		wantFetched int
		wantRemoved int
		sameBytes   bool
	}{
		// A new file: index, and per platform a manifest, config and layer.
		{name: "first pin", idx: a, wantPin: digestA, wantFetched: 7},
		{name: "again", idx: a, wantPin: digestA, wantOld: digestA.String(), sameBytes: true},
		// The configs differ only by layer, the manifests too: all of A's
		// blobs go.
		{name: "re-pin", idx: b, wantPin: digestB, wantOld: digestA.String(), wantFetched: 7, wantRemoved: 7},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			res, err := vendor(ctx, path, ref, s.idx)
			if err != nil {
				t.Fatalf("vendor(%s) = %v", s.name, err)
			}
			if res.Digest.String() != s.wantPin.String() || res.Old.String() != s.wantOld {
				t.Errorf("vendor() pinned %s (was %q), want %s (was %q)", res.Digest, res.Old, s.wantPin, s.wantOld)
			}
			if res.Add.Sync.Fetched != s.wantFetched || res.Removed != s.wantRemoved {
				t.Errorf("vendor() fetched %d, removed %d; want %d, %d", res.Add.Sync.Fetched, res.Removed, s.wantFetched, s.wantRemoved)
			}
			if res.Blobs != 7 {
				t.Errorf("vendor() verified %d blobs, want 7", res.Blobs)
			}
			after := snapshot(t, dir)
			if s.sameBytes && !maps.Equal(before, after) {
				t.Errorf("vendor() again changed files:\nbefore %v\nafter  %v", before, after)
			}
			before = after

			cfg, err := config.Load(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Images) != 1 || cfg.Images[0].Name() != testimage.Ref || cfg.Images[0].Digest.String() != s.wantPin.String() {
				t.Errorf("%s pins %v, want only %s@%s", path, cfg, testimage.Ref, s.wantPin)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Mirrors) != 0 || strings.Contains(string(raw), "127.0.0.1") || cfg.Layout != config.DefaultLayout {
				t.Errorf("%s = %s, want the default layout and no mirror", path, raw)
			}
			var out bytes.Buffer
			if err := res.print(&out); err != nil || !strings.Contains(out.String(), s.wantPin.String()) {
				t.Errorf("print() = %q, %v; want the pin %s", out.String(), err, s.wantPin)
			}
		})
	}
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "unknown flag", args: []string{"-frobnicate"}, wantErr: "flag provided but not defined"},
		{name: "extra argument", args: []string{"now"}, wantErr: "unexpected arguments now"},
		{name: "bad reference", args: []string{"-ref", "Not A Ref"}, wantErr: "invalid reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("run(%q) = %d, stderr %q; want 2 and %q", tt.args, code, stderr.String(), tt.wantErr)
			}
			if stdout.Len() > 0 {
				t.Errorf("run(%q) stdout = %q, want nothing", tt.args, stdout.String())
			}
		})
	}
}

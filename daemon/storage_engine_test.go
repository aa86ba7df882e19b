package daemon_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/vendorimg/vendorimg/daemon"
)

// fileImage is a two-layer linux/amd64 image with a folder, an executable,
// a symbolic link to it and a configuration file, then a second file in a
// second layer; seed makes it unique to the test.
func fileImage(t *testing.T, seed int64) v1.Image {
	t.Helper()
	layer := func(entries ...tar.Header) v1.Layer {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range entries {
			body := []byte(nil)
			if h.Typeflag == tar.TypeReg {
				body = []byte(h.Linkname) // the content rides in Linkname here
				h.Linkname, h.Size = "", int64(len(body))
			}
			if err := tw.WriteHeader(&h); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(body); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	unique := strings.Repeat("x", int(seed%97)) + string(rune('a'+seed%26))
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
		layer(
			tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
			tar.Header{Name: "bin/tool", Typeflag: tar.TypeReg, Mode: 0o755, Linkname: "#!/bin/true tool " + unique + "\n"},
			tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Mode: 0o777, Linkname: "tool"},
			tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
			tar.Header{Name: "etc/conf", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "setting=vendored\n"},
		),
		layer(tar.Header{Name: "etc/second", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 1000, Gid: 1000, Linkname: "second layer " + unique + "\n"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestVerifyDeepFindsMetadataEditsInStorage edits, in the engine's own
// storage of a loaded image, what an export need not show (the classic
// store rebuilds an export's tar headers from what it recorded at
// import): a setuid bit, an owner, a symbolic link's target, an added
// file, and a same-size content change in a layer folder (which the
// containerd store's export does not read either). Verify with Deep
// finds each, naming the file, and passes again once it is undone; where
// the storage cannot be read here, the report says why instead.
func TestVerifyDeepFindsMetadataEditsInStorage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	im := f.add(repoName(t, "files"), "1", fileImage(t, randomSeed(t)), "linux/amd64")
	if _, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{}); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	st, err := daemon.LayerFolders(ctx, f.c, tagOf(im))
	if errors.Is(err, daemon.ErrStorageUnreachable) {
		rep, verr := daemon.Verify(ctx, f.c, f.l, f.cfg.Images, daemon.VerifyOptions{Deep: true})
		if verr != nil || rep.Images[0].Storage == nil || rep.Images[0].Storage.Checked || rep.Images[0].Storage.Reason == "" {
			t.Errorf("Verify(Deep) = %+v, %v; want the storage reported not checked, with the reason (%s)", rep, verr, f.eng)
		}
		t.Skipf("%s: %v", f.eng, err)
	}
	if err != nil {
		t.Fatalf("LayerFolders = %v", err)
	}
	t.Logf("%s: driver %s, folders %v (whole file system each: %v)", f.eng, st.Driver, st.Folders, st.Whole)
	// Where a folder holds every layer below it, edit the top one: the
	// folder containers start from.
	base := st.Folders[0]
	if st.Whole {
		base = st.Folders[len(st.Folders)-1]
	}
	verify := func(t *testing.T) *daemon.Report {
		t.Helper()
		rep, err := daemon.Verify(ctx, f.c, f.l, f.cfg.Images, daemon.VerifyOptions{Deep: true})
		if err != nil {
			t.Fatalf("Verify(Deep) = %v", err)
		}
		if s := rep.Images[0].Storage; s == nil || !s.Checked || s.Files == 0 || s.Driver != st.Driver {
			t.Fatalf("Verify(Deep) storage = %+v; want checked with %s", s, st.Driver)
		}
		return rep
	}
	if rep := verify(t); !rep.OK() {
		t.Fatalf("Verify(Deep) of the image as loaded = %+v; want OK (%s)", rep.Findings, f.eng)
	}

	tool, sh, conf := filepath.Join(base, "bin", "tool"), filepath.Join(base, "bin", "sh"), filepath.Join(base, "etc", "conf")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name       string
		edit, undo func()
		words      []string
	}{
		{"setuid", func() { must(syscall.Chmod(tool, 0o4777)) }, func() { must(os.Chmod(tool, 0o755)) },
			[]string{"bin/tool: mode 4777, vendored 0755"}},
		{"owner", func() { must(os.Lchown(tool, 1234, 4321)) }, func() { must(os.Lchown(tool, 0, 0)) },
			[]string{"bin/tool: owner 1234:4321, vendored 0:0"}},
		{"symlink target", func() { must(os.Remove(sh)); must(os.Symlink("/tmp/evil", sh)) }, func() { must(os.Remove(sh)); must(os.Symlink("tool", sh)) },
			[]string{`bin/sh: links to "/tmp/evil", vendored "tool"`}},
		{"added file", func() { must(os.WriteFile(filepath.Join(base, "etc", "added"), []byte("x"), 0o644)) }, func() { must(os.Remove(filepath.Join(base, "etc", "added"))) },
			[]string{"etc/added: a regular file the vendored layer does not have (added)"}},
		{"same-size content", func() { flipFirstByte(t, conf) }, func() { flipFirstByte(t, conf) },
			[]string{"etc/conf: content hashes to sha256:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.edit()
			undone := false
			undo := func() {
				if !undone {
					undone = true
					tc.undo()
				}
			}
			defer undo()
			rep := verify(t)
			var files []string
			for _, fd := range rep.Findings {
				if fd.Kind == daemon.KindFiles {
					files = append(files, fd.Message)
				}
			}
			if rep.OK() || rep.Images[0].OK || len(files) == 0 {
				t.Fatalf("Verify(Deep) after %s = %+v; want a files finding (%s)", tc.name, rep.Findings, f.eng)
			}
			for _, w := range tc.words {
				if !strings.Contains(strings.Join(files, "\n"), w) {
					t.Errorf("Verify(Deep) files findings = %q; want one saying %q (%s)", files, w, f.eng)
				}
			}
			undo()
			if rep := verify(t); !rep.OK() {
				t.Errorf("Verify(Deep) once %s is undone = %+v; want OK (%s)", tc.name, rep.Findings, f.eng)
			}
		})
	}
}

// flipFirstByte inverts the first byte of the file at p, in place.
func flipFirstByte(t *testing.T, p string) {
	t.Helper()
	fh, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	b := make([]byte, 1)
	if _, err := fh.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := fh.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
}

package layout_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
)

func newLayout(t *testing.T) *layout.Layout {
	t.Helper()
	l := layout.New(filepath.Join(t.TempDir(), "images"))
	if err := l.Init(context.Background()); err != nil {
		t.Fatalf("Init() = %v, want nil", err)
	}
	return l
}

// baseFiles are what Init writes.
var baseFiles = []string{".gitattributes", "index.json", "oci-layout"}

// cancelAfter is a reader that cancels a context once it has served n bytes.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	if len(p) > 16 {
		p = p[:16]
	}
	n, err := c.r.Read(p)
	c.n -= n
	return n, err
}

// failingReader fails after serving its bytes, as a dropped connection does.
type failingReader struct{ r io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset")
	}
	return n, err
}

func TestWriteBlob(t *testing.T) {
	content := []byte(strings.Repeat("vendored bytes\n", 100))
	good := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(content), Size: int64(len(content))}
	tests := []struct {
		name    string
		desc    ocispec.Descriptor
		reader  func(cancel context.CancelFunc) io.Reader
		wantErr []error // nil: success
	}{
		{"ok", good, func(context.CancelFunc) io.Reader { return bytes.NewReader(content) }, nil},
		{"empty blob", ocispec.Descriptor{MediaType: "x", Digest: digest.FromBytes(nil), Size: 0}, func(context.CancelFunc) io.Reader { return bytes.NewReader(nil) }, nil},
		{"wrong digest", ocispec.Descriptor{MediaType: "x", Digest: digest.FromString("other"), Size: good.Size},
			func(context.CancelFunc) io.Reader { return bytes.NewReader(content) }, []error{errs.ErrDigestMismatch}},
		{"one byte changed", good, func(context.CancelFunc) io.Reader {
			b := bytes.Clone(content)
			b[len(b)/2] ^= 1
			return bytes.NewReader(b)
		}, []error{errs.ErrDigestMismatch}},
		{"short content", good, func(context.CancelFunc) io.Reader { return bytes.NewReader(content[:10]) }, []error{errs.ErrSizeMismatch, io.ErrUnexpectedEOF}},
		{"no content", good, func(context.CancelFunc) io.Reader { return bytes.NewReader(nil) }, []error{errs.ErrSizeMismatch, io.ErrUnexpectedEOF}},
		{"long content", good, func(context.CancelFunc) io.Reader { return bytes.NewReader(append(bytes.Clone(content), '!')) }, []error{errs.ErrSizeMismatch}},
		{"much longer content", good, func(context.CancelFunc) io.Reader {
			return io.MultiReader(bytes.NewReader(content), bytes.NewReader(content))
		}, []error{errs.ErrSizeMismatch}},
		{"reader fails", good, func(context.CancelFunc) io.Reader { return &failingReader{bytes.NewReader(content[:50])} }, nil},
		{"cancelled while writing", good, func(cancel context.CancelFunc) io.Reader {
			return &cancelAfter{r: bytes.NewReader(content), n: 64, cancel: cancel}
		}, []error{context.Canceled}},
		{"traversal digest", ocispec.Descriptor{MediaType: "x", Digest: "sha256:../../../etc/passwd", Size: 1},
			func(context.CancelFunc) io.Reader { return strings.NewReader("x") }, []error{errs.ErrInvalidDigest}},
		{"sha512 digest", ocispec.Descriptor{MediaType: "x", Digest: digest.Digest("sha512:" + strings.Repeat("ab", 64)), Size: good.Size},
			func(context.CancelFunc) io.Reader { return bytes.NewReader(content) }, []error{errs.ErrInvalidDigest}},
		{"negative size", ocispec.Descriptor{MediaType: "x", Digest: good.Digest, Size: -1},
			func(context.CancelFunc) io.Reader { return bytes.NewReader(content) }, []error{errs.ErrSizeMismatch}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var progress []int64
			err := l.WriteBlob(ctx, tt.desc, tt.reader(cancel), func(n int64) { progress = append(progress, n) })
			files := listFiles(t, l.Root())
			wantFail := tt.wantErr != nil || tt.name == "reader fails"
			if !wantFail {
				if err != nil {
					t.Fatalf("WriteBlob(%s) = %v, want nil", tt.desc.Digest, err)
				}
				got, err := os.ReadFile(filepath.Join(l.Root(), filepath.FromSlash(layout.RelBlobPath(tt.desc.Digest))))
				if err != nil || digest.FromBytes(got) != tt.desc.Digest {
					t.Errorf("after WriteBlob(%s), the blob file = %d bytes, %v, want the content", tt.desc.Digest, len(got), err)
				}
				if want := slices.Sorted(slices.Values(append(slices.Clone(baseFiles), layout.RelBlobPath(tt.desc.Digest)))); !slices.Equal(files, want) {
					t.Errorf("after WriteBlob(%s), the layout holds %q, want %q", tt.desc.Digest, files, want)
				}
				if tt.desc.Size > 0 && (len(progress) == 0 || progress[len(progress)-1] != tt.desc.Size) {
					t.Errorf("WriteBlob(%s) reported progress %v, want it to end at %d", tt.desc.Digest, progress, tt.desc.Size)
				}
				return
			}
			if err == nil {
				t.Fatalf("WriteBlob(%s) = nil, want an error", tt.desc.Digest)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("WriteBlob(%s) = %v, want an error wrapping %v", tt.desc.Digest, err, want)
				}
			}
			// Nothing unverified lands under blobs/: no blob, no temporary file.
			if !slices.Equal(files, baseFiles) {
				t.Errorf("after a failed WriteBlob(%s), the layout holds %q, want only %q", tt.desc.Digest, files, baseFiles)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(l.Root()), "etc")); err == nil {
				t.Errorf("WriteBlob(%s) created a folder outside the layout", tt.desc.Digest)
			}
		})
	}
}

// TestWriteBlobKeepsExisting: a failed rewrite of a stored blob leaves the
// stored file as it was, and a good rewrite is a no-op for its content.
func TestWriteBlobKeepsExisting(t *testing.T) {
	ctx := context.Background()
	content := []byte("stored once")
	desc := ocispec.Descriptor{MediaType: "x", Digest: digest.FromBytes(content), Size: int64(len(content))}
	tests := []struct {
		name    string
		content []byte
		wantErr error
	}{
		{"bad bytes", []byte("STORED ONCE"), errs.ErrDigestMismatch},
		{"short bytes", content[:3], errs.ErrSizeMismatch},
		{"same bytes", content, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			if err := l.WriteBlobBytes(ctx, desc, content); err != nil {
				t.Fatal(err)
			}
			err := l.WriteBlobBytes(ctx, desc, tt.content)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("WriteBlobBytes(%s) again = %v, want %v", desc.Digest, err, tt.wantErr)
			}
			got, err := l.ReadBlob(ctx, desc.Digest, 100)
			if err != nil || !bytes.Equal(got, content) {
				t.Errorf("ReadBlob(%s) = %q, %v, want %q", desc.Digest, got, err, content)
			}
			if files := listFiles(t, l.Root()); hasTemp(files) {
				t.Errorf("the layout holds %q, want no temporary file", files)
			}
		})
	}
}

func TestWriteBlobCancelledBefore(t *testing.T) {
	l := newLayout(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	content := []byte("some bytes")
	desc := ocispec.Descriptor{MediaType: "x", Digest: digest.FromBytes(content), Size: int64(len(content))}
	if err := l.WriteBlobBytes(ctx, desc, content); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteBlobBytes(%s) with a cancelled ctx = %v, want %v", desc.Digest, err, context.Canceled)
	}
	if files := listFiles(t, l.Root()); !slices.Equal(files, baseFiles) {
		t.Errorf("after a cancelled WriteBlobBytes, the layout holds %q, want %q", files, baseFiles)
	}
}

// TestModesIgnoreUmask: files are 0644 and folders 0755 whatever the
// umask, since git records modes. The umask is the process's, so this test
// must not run in parallel with others.
func TestModesIgnoreUmask(t *testing.T) {
	for _, umask := range []int{0o077, 0o022, 0o000} {
		t.Run(fmtMode(umask), func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "deep", "images")
			old := syscall.Umask(umask)
			defer syscall.Umask(old)
			l := layout.New(root)
			if err := l.Init(context.Background()); err != nil {
				t.Fatal(err)
			}
			content := []byte("mode test")
			desc := ocispec.Descriptor{MediaType: "x", Digest: digest.FromBytes(content), Size: int64(len(content))}
			if err := l.WriteBlobBytes(context.Background(), desc, content); err != nil {
				t.Fatal(err)
			}
			if _, err := l.WriteIndex(context.Background(), []ocispec.Descriptor{layout.Entry(desc, "example.test/x:1")}); err != nil {
				t.Fatal(err)
			}
			want := map[string]fs.FileMode{
				".":                             layout.DirMode,
				"blobs":                         layout.DirMode,
				"blobs/sha256":                  layout.DirMode,
				"oci-layout":                    layout.FileMode,
				"index.json":                    layout.FileMode,
				".gitattributes":                layout.FileMode,
				layout.RelBlobPath(desc.Digest): layout.FileMode,
			}
			for rel, mode := range want {
				fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != mode {
					t.Errorf("with umask %s, %s has mode %v, want %v", fmtMode(umask), rel, fi.Mode().Perm(), mode)
				}
			}
		})
	}
}

func fmtMode(m int) string { return "umask " + strings.TrimPrefix(fs.FileMode(m).String(), "-") }

func TestReadBlob(t *testing.T) {
	ctx := context.Background()
	content := []byte(`{"schemaVersion":2}`)
	d := digest.FromBytes(content)
	tests := []struct {
		name  string
		setup func(t *testing.T, l *layout.Layout, path string)
		d     digest.Digest
		limit int64
		// wantErr is what the error wraps; wantIn a part of its message.
		wantErr error
		wantIn  string
	}{
		{"ok", func(*testing.T, *layout.Layout, string) {}, d, 100, nil, ""},
		{"exact limit", func(*testing.T, *layout.Layout, string) {}, d, int64(len(content)), nil, ""},
		{"over the limit", func(*testing.T, *layout.Layout, string) {}, d, int64(len(content)) - 1, errs.ErrTooLarge, "more than"},
		{"missing", func(*testing.T, *layout.Layout, string) {}, digest.FromString("absent"), 100, fs.ErrNotExist, ""},
		{"bad digest", func(*testing.T, *layout.Layout, string) {}, "sha256:../index.json", 100, errs.ErrInvalidDigest, ""},
		{"changed on disk", func(t *testing.T, l *layout.Layout, path string) {
			writeOver(t, path, []byte(`{"schemaVersion":3}`))
		}, d, 100, errs.ErrDigestMismatch, layout.RelBlobPath(d)},
		{"symlink to the right bytes", func(t *testing.T, l *layout.Layout, path string) {
			outside := filepath.Join(filepath.Dir(l.Root()), "outside")
			writeOver(t, outside, content)
			replaceWith(t, path, func() error { return os.Symlink(outside, path) })
		}, d, 100, nil, "symlink"},
		{"dangling symlink", func(t *testing.T, l *layout.Layout, path string) {
			replaceWith(t, path, func() error { return os.Symlink("/nonexistent", path) })
		}, d, 100, nil, "symlink"},
		{"fifo", func(t *testing.T, l *layout.Layout, path string) {
			replaceWith(t, path, func() error { return syscall.Mkfifo(path, 0o644) })
		}, d, 100, nil, "not a regular file"},
		{"folder", func(t *testing.T, l *layout.Layout, path string) {
			replaceWith(t, path, func() error { return os.Mkdir(path, 0o755) })
		}, d, 100, nil, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			desc := ocispec.Descriptor{MediaType: "x", Digest: d, Size: int64(len(content))}
			if err := l.WriteBlobBytes(ctx, desc, content); err != nil {
				t.Fatal(err)
			}
			path, err := l.BlobPath(d)
			if err != nil {
				t.Fatal(err)
			}
			tt.setup(t, l, path)
			type result struct {
				b   []byte
				err error
			}
			done := make(chan result, 1)
			go func() {
				b, err := l.ReadBlob(ctx, tt.d, tt.limit)
				done <- result{b, err}
			}()
			var got result
			select {
			case got = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("ReadBlob(%s) did not return: it must never block on a special file", tt.d)
			}
			if tt.wantErr == nil && tt.wantIn == "" {
				if got.err != nil || !bytes.Equal(got.b, content) {
					t.Errorf("ReadBlob(%s) = %q, %v, want %q, nil", tt.d, got.b, got.err, content)
				}
				return
			}
			if got.err == nil || (tt.wantErr != nil && !errors.Is(got.err, tt.wantErr)) || !strings.Contains(got.err.Error(), tt.wantIn) {
				t.Errorf("ReadBlob(%s) = %q, %v, want an error wrapping %v containing %q", tt.d, got.b, got.err, tt.wantErr, tt.wantIn)
			}
		})
	}
}

func TestReadBlobCancelled(t *testing.T) {
	l := newLayout(t)
	content := []byte("x")
	desc := ocispec.Descriptor{MediaType: "x", Digest: digest.FromBytes(content), Size: 1}
	if err := l.WriteBlobBytes(context.Background(), desc, content); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.ReadBlob(ctx, desc.Digest, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadBlob(%s) with a cancelled ctx = %v, want %v", desc.Digest, err, context.Canceled)
	}
}

func TestBlobSizeAndHasBlob(t *testing.T) {
	ctx := context.Background()
	content := []byte("twelve bytes")
	desc := ocispec.Descriptor{MediaType: "x", Digest: digest.FromBytes(content), Size: int64(len(content))}
	tests := []struct {
		name    string
		setup   func(t *testing.T, l *layout.Layout, path string)
		desc    ocispec.Descriptor
		wantHas bool
		wantErr error // of BlobSize; HasBlob hides fs.ErrNotExist
	}{
		{"stored", func(*testing.T, *layout.Layout, string) {}, desc, true, nil},
		{"other size", func(*testing.T, *layout.Layout, string) {}, ocispec.Descriptor{MediaType: "x", Digest: desc.Digest, Size: 13}, false, nil},
		{"absent", func(*testing.T, *layout.Layout, string) {}, ocispec.Descriptor{MediaType: "x", Digest: digest.FromString("no"), Size: 1}, false, fs.ErrNotExist},
		{"symlink", func(t *testing.T, l *layout.Layout, path string) {
			outside := filepath.Join(filepath.Dir(l.Root()), "outside")
			writeOver(t, outside, content)
			replaceWith(t, path, func() error { return os.Symlink(outside, path) })
		}, desc, false, errs.ErrInvalidLayout},
		{"fifo", func(t *testing.T, l *layout.Layout, path string) {
			replaceWith(t, path, func() error { return syscall.Mkfifo(path, 0o644) })
		}, desc, false, errs.ErrInvalidLayout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			if err := l.WriteBlobBytes(ctx, desc, content); err != nil {
				t.Fatal(err)
			}
			path, err := l.BlobPath(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			tt.setup(t, l, path)
			size, err := l.BlobSize(context.Background(), tt.desc.Digest)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && (err != nil || size != desc.Size)) {
				t.Errorf("BlobSize(%s) = %d, %v, want %d, %v", tt.desc.Digest, size, err, desc.Size, tt.wantErr)
			}
			has, err := l.HasBlob(context.Background(), tt.desc)
			wantHasErr := tt.wantErr != nil && !errors.Is(tt.wantErr, fs.ErrNotExist)
			if has != tt.wantHas || (err != nil) != wantHasErr {
				t.Errorf("HasBlob(%s) = %v, %v, want %v (error: %v)", tt.desc.Digest, has, err, tt.wantHas, wantHasErr)
			}
		})
	}
}

func TestBlobPath(t *testing.T) {
	l := layout.New("/srv/images")
	good := digest.FromString("x")
	if got, err := l.BlobPath(good); err != nil || got != filepath.Join("/srv/images", "blobs", "sha256", good.Encoded()) {
		t.Errorf("BlobPath(%s) = %q, %v, want it under blobs/sha256", good, got, err)
	}
	for _, d := range []digest.Digest{"", "sha256", "sha256:", "sha256:../../etc/passwd", "sha256:/etc/passwd", digest.Digest("sha256:" + strings.ToUpper(good.Encoded())), digest.Digest("sha512:" + strings.Repeat("ab", 64)), digest.Digest(good.Encoded())} {
		if got, err := l.BlobPath(d); !errors.Is(err, errs.ErrInvalidDigest) {
			t.Errorf("BlobPath(%q) = %q, %v, want an error wrapping %v", d, got, err, errs.ErrInvalidDigest)
		}
	}
	if got, want := layout.RelBlobPath(good), "blobs/sha256/"+good.Encoded(); got != want {
		t.Errorf("RelBlobPath(%s) = %q, want %q", good, got, want)
	}
}

func TestInit(t *testing.T) {
	t.Run("twice is a no-op", func(t *testing.T) {
		l := newLayout(t)
		before := snapshot(t, l.Root())
		if err := l.Init(context.Background()); err != nil {
			t.Fatalf("Init() again = %v, want nil", err)
		}
		if after := snapshot(t, l.Root()); !maps.Equal(before, after) {
			t.Errorf("Init() again changed the layout: %v, want %v", after, before)
		}
		if !l.Exists() {
			t.Errorf("Exists() = false after Init, want true")
		}
	})
	t.Run("keeps an existing index", func(t *testing.T) {
		fx := newFixture(t, fixtureOptions{}).writeAll()
		if err := fx.l.Init(context.Background()); err != nil {
			t.Fatal(err)
		}
		idx, err := fx.l.ReadIndex(context.Background())
		if err != nil || len(idx.Manifests) != 1 {
			t.Errorf("ReadIndex() after Init = %v, %v, want the one entry kept", idx, err)
		}
	})
	tests := []struct {
		name   string
		setup  func(t *testing.T, root string)
		wantIn string
	}{
		{"other layout version", func(t *testing.T, root string) {
			writeOver(t, filepath.Join(root, "oci-layout"), []byte(`{"imageLayoutVersion":"2.0.0"}`))
		}, `imageLayoutVersion "2.0.0"`},
		{"oci-layout not json", func(t *testing.T, root string) {
			writeOver(t, filepath.Join(root, "oci-layout"), []byte(`nope`))
		}, "oci-layout"},
		{"blobs is a file", func(t *testing.T, root string) {
			writeOver(t, filepath.Join(root, "blobs"), []byte(`x`))
		}, "not a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "images")
			if err := os.MkdirAll(root, 0o755); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, root)
			err := layout.New(root).Init(context.Background())
			if !errors.Is(err, errs.ErrInvalidLayout) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("Init() = %v, want an error wrapping %v containing %q", err, errs.ErrInvalidLayout, tt.wantIn)
			}
		})
	}
	if layout.New(filepath.Join(t.TempDir(), "none")).Exists() {
		t.Errorf("Exists() = true for an empty folder, want false")
	}
}

// writeOver writes data at path, replacing what is there.
func writeOver(t *testing.T, path string, data []byte) {
	t.Helper()
	_ = os.Chmod(path, 0o644)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceWith removes path and lets create put something else there.
func replaceWith(t *testing.T, path string, create func() error) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := create(); err != nil {
		t.Fatal(err)
	}
}

// snapshot maps every file of dir to its content and mode.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, rel := range listFiles(t, dir) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		out[rel] = fi.Mode().String() + " " + fi.ModTime().String() + " " + string(b)
	}
	return out
}

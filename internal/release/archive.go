package release

import (
	"archive/tar"
	"archive/zip"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
)

// File is one file of an archive or a wheel.
type File struct {
	// Name is the path inside the archive, with forward slashes.
	Name string
	// Mode is 0o644 or 0o755.
	Mode fs.FileMode
	Data []byte
}

// writeTarGz writes files into a gzip-compressed tar under the folder dir,
// each entry with time mtime, owner 0:0 and no owner names, and a gzip
// header with no name and no time: the bytes depend on nothing else.
func writeTarGz(w io.Writer, dir string, files []File, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	hdr := func(name string, mode int64, size int64, typ byte) *tar.Header {
		return &tar.Header{
			Typeflag: typ, Name: name, Mode: mode, Size: size,
			ModTime: mtime.UTC(), Format: tar.FormatUSTAR,
		}
	}
	if err := tw.WriteHeader(hdr(dir+"/", 0o755, 0, tar.TypeDir)); err != nil {
		return err
	}
	for _, f := range files {
		if err := tw.WriteHeader(hdr(dir+"/"+f.Name, int64(f.Mode.Perm()), int64(len(f.Data)), tar.TypeReg)); err != nil {
			return fmt.Errorf("adding %s: %w", f.Name, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return fmt.Errorf("adding %s: %w", f.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// writeWheel writes a wheel: files, then distInfo's RECORD listing each
// with its hash and size (RECORD itself without). Every entry has time
// mtime, a Unix mode (pip and uv give a file the execute bit when its
// entry has one) and is deflated at the best level.
func writeWheel(w io.Writer, distInfo string, files []File, mtime time.Time) error {
	if min := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC); mtime.Before(min) {
		mtime = min // the earliest time a zip entry can have
	}
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	add := func(f File) error {
		h := &zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: mtime.UTC()}
		h.SetMode(f.Mode)
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("adding %s: %w", f.Name, err)
		}
		_, err = fw.Write(f.Data)
		return err
	}
	var record strings.Builder
	for _, f := range files {
		if err := add(f); err != nil {
			return err
		}
		sum := sha256.Sum256(f.Data)
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.Name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.Data))
	}
	name := distInfo + "/RECORD"
	fmt.Fprintf(&record, "%s,,\n", name)
	if err := add(File{Name: name, Mode: 0o644, Data: []byte(record.String())}); err != nil {
		return err
	}
	return zw.Close()
}

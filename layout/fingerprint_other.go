//go:build !unix

package layout

import "io/fs"

// fileStat is what Fingerprint compares where no inode or change time is
// known: size, modification time and mode.
type fileStat struct {
	size, mtime int64
	mode        fs.FileMode
	exists      bool
}

func statOf(fi fs.FileInfo) fileStat {
	return fileStat{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: fi.Mode(), exists: true}
}

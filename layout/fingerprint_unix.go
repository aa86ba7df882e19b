//go:build unix

package layout

import (
	"io/fs"
	"syscall"
)

// fileStat is what Fingerprint compares: a write changes the modification
// and change times, a replacing rename the inode, a chmod the change time.
type fileStat struct {
	size, mtime, ctime int64
	ino, dev           uint64
	mode               fs.FileMode
	exists             bool
}

func statOf(fi fs.FileInfo) fileStat {
	st := fileStat{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: fi.Mode(), exists: true}
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ctime = ctimeOf(s)
		st.ino, st.dev = uint64(s.Ino), uint64(s.Dev)
	}
	return st
}

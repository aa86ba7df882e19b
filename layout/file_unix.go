//go:build unix

package layout

import (
	"io/fs"
	"os"
	"syscall"
)

// openRegular opens path for reading without following a symlink in its
// last element, and refuses anything but a regular file, so that a hostile
// layout cannot make vendorimg read /dev/zero or a file outside the layout.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok && pe.Err == syscall.ELOOP {
			return nil, symlinkError(path)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notRegularError(path, fi.Mode().Type())
	}
	return f, nil
}

// rawFile is a file open for reading through its descriptor alone.
type rawFile struct {
	fd   int
	path string
}

// openStat opens path for reading without following a symlink (the error
// is then errSymlink) or waiting on a pipe, and returns its type (0 for a
// regular file, as fs.FileMode has it) and size.
func openStat(path string) (rawFile, fs.FileMode, int64, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.ELOOP {
		return rawFile{}, 0, 0, errSymlink
	}
	if err != nil {
		return rawFile{}, 0, 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := rawFile{fd: fd, path: path}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		f.close()
		return rawFile{}, 0, 0, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return f, fileType(uint32(st.Mode)), st.Size, nil
}

func (f rawFile) close() { syscall.Close(f.fd) }

// readAll reads the file, size bytes by its fstat, to its end, failing
// with errs.ErrTooLarge past limit bytes.
func (f rawFile) readAll(size, limit int64) ([]byte, error) {
	if size > limit {
		return nil, tooLarge(limit)
	}
	// One byte more than the file holds tells "read it all" from "it grew".
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, tooLarge(limit)
			}
			buf = append(buf, 0)[:len(buf)]
		}
		want := cap(buf) - len(buf)
		n, err := syscall.Read(f.fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: f.path, Err: err}
		}
		buf = buf[:len(buf)+n]
		// A regular file reads short only at its end: when what came is
		// what fstat promised, the end is here and needs no read of its own.
		if n == 0 || (n < want && int64(len(buf)) == size) {
			break
		}
	}
	if int64(len(buf)) > limit {
		return nil, tooLarge(limit)
	}
	return buf, nil
}

// fileType is the type bits of a file mode as fs.FileMode has them, 0 for
// a regular file.
func fileType(mode uint32) fs.FileMode {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return 0
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	default:
		return fs.ModeIrregular
	}
}

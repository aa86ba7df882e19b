//go:build darwin || ios || netbsd

package layout

import "syscall"

// ctimeOf is a file's change time, which macOS and NetBSD name Ctimespec.
func ctimeOf(s *syscall.Stat_t) int64 { return s.Ctimespec.Nano() }

//go:build unix && !darwin && !ios && !netbsd

package layout

import "syscall"

// ctimeOf is a file's change time, which Linux and most other Unix
// systems name Ctim.
func ctimeOf(s *syscall.Stat_t) int64 { return s.Ctim.Nano() }

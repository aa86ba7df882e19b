package cli

import (
	"strconv"
	"strings"
	"testing"
)

// screen is as much of a terminal as the progress tests need: printable
// ASCII, CR, LF, backspace, and the CSI sequences cursor up (A), erase in
// line (K) and erase in display (J). Like xterm it wraps lazily: a
// character written in the last column leaves the cursor there, and the
// next one wraps. It counts what a person would see go wrong: lines that
// wrapped, rows that scrolled off the top, and whole-screen erases (which
// tmux pushes into its scrollback).
type screen struct {
	width, height int
	rows          [][]byte
	row, col      int
	pending       bool // a character went to the last column

	wraps, scrolls, screenErases int
	widest                       int // the widest a row's content got
	unknown                      []string
}

func newScreen(width, height int) *screen {
	s := &screen{width: width, height: height, rows: make([][]byte, height)}
	for i := range s.rows {
		s.rows[i] = []byte(strings.Repeat(" ", width))
	}
	return s
}

func (s *screen) Write(p []byte) (int, error) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == 0x1b && i+1 < len(p) && p[i+1] == '[':
			j := i + 2
			for j < len(p) && (p[j] >= '0' && p[j] <= '9' || p[j] == ';') {
				j++
			}
			if j == len(p) {
				return i, nil // the caller feeds whole writes of the program
			}
			s.csi(string(p[i+2:j]), p[j])
			i = j
		case c == '\r':
			s.col, s.pending = 0, false
		case c == '\n':
			s.lineFeed()
		case c == '\b':
			if s.col > 0 {
				s.col--
			}
			s.pending = false
		case c >= 0x20 && c < 0x7f:
			s.put(c)
		default:
			s.unknown = append(s.unknown, strconv.Quote(string(c)))
		}
	}
	return len(p), nil
}

func (s *screen) put(c byte) {
	if s.pending {
		s.wraps++
		s.col, s.pending = 0, false
		s.lineFeed()
	}
	s.rows[s.row][s.col] = c
	s.widest = max(s.widest, s.col+1)
	if s.col == s.width-1 {
		s.pending = true
	} else {
		s.col++
	}
}

func (s *screen) lineFeed() {
	s.pending = false
	if s.row < s.height-1 {
		s.row++
		return
	}
	s.scrolls++
	s.rows = append(s.rows[1:], []byte(strings.Repeat(" ", s.width)))
}

func (s *screen) csi(params string, final byte) {
	n, err := strconv.Atoi(params)
	if err != nil {
		n = 0
	}
	s.pending = false
	switch final {
	case 'A':
		s.row = max(s.row-max(n, 1), 0)
	case 'K':
		from, to := s.col, s.width
		if n == 2 {
			from = 0
		}
		copy(s.rows[s.row][from:to], strings.Repeat(" ", to-from))
	case 'J':
		if s.row == 0 && s.col == 0 {
			s.screenErases++
		}
		copy(s.rows[s.row][s.col:], strings.Repeat(" ", s.width-s.col))
		for r := s.row + 1; r < s.height; r++ {
			s.rows[r] = []byte(strings.Repeat(" ", s.width))
		}
	default:
		s.unknown = append(s.unknown, "CSI "+params+string(final))
	}
}

// text is what the screen shows, without trailing blanks.
func (s *screen) text() string {
	var lines []string
	for _, r := range s.rows {
		lines = append(lines, strings.TrimRight(string(r), " "))
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

func TestScreen(t *testing.T) {
	s := newScreen(10, 3)
	s.Write([]byte("hello\r\nworld\x1b[1A\rHE\x1b[K\r\n\n0123456789X"))
	if got, want := s.text(), "world\n0123456789\nX"; got != want {
		t.Errorf("screen shows %q, want %q", got, want)
	}
	if s.wraps != 1 || s.scrolls != 1 || s.widest != 10 {
		t.Errorf("wraps %d, scrolls %d, widest %d; want 1, 1, 10", s.wraps, s.scrolls, s.widest)
	}
}

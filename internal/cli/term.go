package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// Fallbacks when the terminal does not say its size.
const (
	fallbackWidth  = 80
	fallbackHeight = 24
)

// termWriter is the terminal as mpb draws on it (an mpb.ConsoleWriter). A
// frame is buffered and written in one go; the next starts by moving the
// cursor back up over it and overwrites it row by row, each row erasing
// what is left of the old one to its right.
//
// It never erases the screen (ESC [J) as mpb's own writer does: tmux and
// other terminals that keep scrollback take an erase from the top-left
// corner for a cleared screen and push every frame into the history, and a
// progress bar must not scroll anything. It also reports one column less
// than the terminal has: a line exactly as wide as the terminal leaves the
// cursor in the last column, where some terminals wrap at once, and every
// frame would then scroll the screen.
type termWriter struct {
	buf bytes.Buffer
	out io.Writer
	// size is the terminal's size in columns and rows.
	size func() (width, height int, err error)

	up      int // rows to move up before the next frame
	prev    int // rows of the frame on the screen
	written int // rows written in this frame so far
}

// newTermWriter draws on f, asking its terminal for the size at every frame
// (a window made narrower gets narrower bars at once).
func newTermWriter(f *os.File) *termWriter {
	return &termWriter{out: f, size: func() (int, int, error) { return term.GetSize(int(f.Fd())) }}
}

func (t *termWriter) IsTerminal() bool { return true }

// GetTermSize never fails: a terminal that cannot say its size (a pty
// nobody sized) is taken as 80x24 rather than stopping the bars.
func (t *termWriter) GetTermSize() (width, height int, err error) {
	w, h, err := t.size()
	if err != nil || w <= 0 {
		w = fallbackWidth
	}
	if err != nil || h <= 0 {
		h = fallbackHeight
	}
	return w - 1, h, nil
}

// moveUp starts a frame at the top of the previous one.
func (t *termWriter) moveUp() {
	if t.up > 0 {
		fmt.Fprintf(&t.buf, "\x1b[%dA", t.up)
		t.up = 0
	}
}

// Write takes lines printed above the bars; each erases what a frame left
// on its row.
func (t *termWriter) Write(p []byte) (int, error) {
	t.moveUp()
	t.buf.Write(bytes.ReplaceAll(p, []byte("\n"), []byte("\x1b[K\n")))
	t.written += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

// ReadFrom takes one row of a frame, which mpb ends with a newline. It
// returns the bytes read: mpb counts a row that read none as no row.
func (t *termWriter) ReadFrom(r io.Reader) (int64, error) {
	row, err := io.ReadAll(r)
	if len(row) == 0 || err != nil {
		return int64(len(row)), err
	}
	t.moveUp()
	t.buf.Write(bytes.TrimSuffix(row, []byte("\n")))
	t.buf.WriteString("\x1b[K\n")
	t.written++
	return int64(len(row)), nil
}

// Flush ends a frame of lines rows: it erases, line by line, the rows of
// the previous frame this one did not cover, writes the frame, and leaves
// the cursor below it for whatever follows the bars once they are gone.
func (t *termWriter) Flush(lines int) error {
	t.moveUp() // a frame of no rows still replaces the previous one
	if extra := t.prev - t.written; extra > 0 {
		for range extra {
			t.buf.WriteString("\x1b[2K\n")
		}
		fmt.Fprintf(&t.buf, "\x1b[%dA", extra)
	}
	t.up, t.prev, t.written = lines, lines, 0
	_, err := t.buf.WriteTo(t.out)
	return err
}

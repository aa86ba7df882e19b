package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/reference"
)

// printJSON writes v as indented JSON and a newline: the --json output.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// humanBytes prints a size with a decimal unit, as docker does.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// short is a digest's short form, "sha256:" and 12 hex characters.
func short(d string) string { return reference.Short(d) }

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressView renders sync events on stderr: one redrawn line on a terminal,
// a plain line per stored blob otherwise, nothing with -q.
type progressView struct {
	w     io.Writer
	tty   bool
	quiet bool

	mu        sync.Mutex
	blobs     int
	doneBlobs int
	total     int64
	active    map[string]int64
	doneBytes int64
	last      time.Time
	drawn     bool
}

func (g *globals) newProgress() *progressView {
	return &progressView{w: g.stderr, tty: isTerminal(g.stderr), quiet: g.quiet, active: map[string]int64{}}
}

func (p *progressView) event(e progress.Event) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Kind {
	case progress.Waiting:
		p.line("waiting for another vendorimg to release the layout...")
	case progress.Plan:
		p.blobs += e.Blobs
		p.total += e.Size
		if !p.tty {
			p.line(fmt.Sprintf("fetching %d blobs (%s)", e.Blobs, humanBytes(e.Size)))
		}
	case progress.Advance:
		p.active[e.Digest.String()] = e.Done
		p.draw(false)
	case progress.Done:
		delete(p.active, e.Digest.String())
		p.doneBytes += e.Size
		if e.Role == "layer" || e.Role == "blob" {
			p.doneBlobs++
		}
		if p.tty {
			p.draw(true)
		} else {
			p.line(fmt.Sprintf("fetched %s %s (%s) for %s", e.Role, short(e.Digest.String()), humanBytes(e.Size), e.Image))
		}
	case progress.Retry:
		p.line(fmt.Sprintf("retrying %s %s: %v", e.Role, short(e.Digest.String()), e.Err))
	case progress.Notice:
		p.line(e.Message)
	}
}

// verify renders verification progress on a terminal.
func (p *progressView) verify(e progress.Event) {
	if e.Kind == progress.Waiting {
		p.event(e)
		return
	}
	if p.quiet || !p.tty || e.Kind != progress.Advance {
		return
	}
	done, total := e.Done, e.Size
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = time.Now()
	p.drawn = true
	fmt.Fprintf(p.w, "\r\033[Kverifying %s / %s", humanBytes(done), humanBytes(total))
}

func (p *progressView) draw(force bool) {
	if !p.tty || (!force && time.Since(p.last) < 100*time.Millisecond) {
		return
	}
	p.last = time.Now()
	cur := p.doneBytes
	for _, n := range p.active {
		cur += n
	}
	pct := 100.0
	if p.total > 0 {
		pct = float64(cur) * 100 / float64(p.total)
	}
	const width = 30
	filled := min(int(pct*width/100), width)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	fmt.Fprintf(p.w, "\r\033[Kfetching [%s] %3.0f%%  %s / %s  %d/%d blobs", bar, pct, humanBytes(cur), humanBytes(p.total), p.doneBlobs, p.blobs)
	p.drawn = true
}

// line prints a line, clearing a progress line first.
func (p *progressView) line(s string) {
	p.clear()
	fmt.Fprintln(p.w, s)
}

// clear erases the progress line before results are printed.
func (p *progressView) clear() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// done ends progress output.
func (p *progressView) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

// table writes aligned columns to stdout, in one write when flushed
// (a tabwriter alone writes cell by cell).
type table struct {
	*tabwriter.Writer
	out *bufio.Writer
}

func (g *globals) newTable() *table {
	out := bufio.NewWriterSize(g.stdout, 64<<10)
	return &table{Writer: tabwriter.NewWriter(out, 0, 4, 2, ' ', 0), out: out}
}

// Flush writes the table.
func (t *table) Flush() error {
	if err := t.Writer.Flush(); err != nil {
		return err
	}
	return t.out.Flush()
}

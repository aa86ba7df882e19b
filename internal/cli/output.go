package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/vendorimg/vendorimg"
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

// short is a digest's first 12 hex characters, as docker prints image IDs.
func short(d fmt.Stringer) string {
	s := d.String()
	if i := strings.IndexByte(s, ':'); i >= 0 && len(s) > i+13 {
		return s[:i+13]
	}
	return s
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress renders sync events on stderr: one redrawn line on a terminal,
// a plain line per stored blob otherwise, nothing with -q.
type progress struct {
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

func (g *globals) newProgress() *progress {
	return &progress{w: g.stderr, tty: isTerminal(g.stderr), quiet: g.quiet, active: map[string]int64{}}
}

func (p *progress) event(e vendorimg.Event) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Kind {
	case vendorimg.EventWaiting:
		p.line("waiting for another vendorimg to release the layout...")
	case vendorimg.EventPlan:
		p.blobs += e.Blobs
		p.total += e.Size
		if !p.tty {
			p.line(fmt.Sprintf("fetching %d blobs (%s)", e.Blobs, humanBytes(e.Size)))
		}
	case vendorimg.EventFetchProgress:
		p.active[e.Digest.String()] = e.Done
		p.draw(false)
	case vendorimg.EventFetchDone:
		delete(p.active, e.Digest.String())
		p.doneBytes += e.Size
		if e.Role == "layer" || e.Role == "blob" {
			p.doneBlobs++
		}
		if p.tty {
			p.draw(true)
		} else {
			p.line(fmt.Sprintf("fetched %s %s (%s) for %s", e.Role, short(e.Digest), humanBytes(e.Size), e.Image))
		}
	case vendorimg.EventRetry:
		p.line(fmt.Sprintf("retrying %s %s: %v", e.Role, short(e.Digest), e.Err))
	}
}

// verify renders verification progress on a terminal.
func (p *progress) verify(done, total int64) {
	if p.quiet || !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = time.Now()
	p.drawn = true
	fmt.Fprintf(p.w, "\r\033[Kverifying %s / %s", humanBytes(done), humanBytes(total))
}

func (p *progress) draw(force bool) {
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
func (p *progress) line(s string) {
	p.clear()
	fmt.Fprintln(p.w, s)
}

// clear erases the progress line before results are printed.
func (p *progress) clear() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// done ends progress output.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

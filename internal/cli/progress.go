package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/vendorimg/vendorimg/progress"
)

// progressMode is how progress reaches the person at the terminal.
type progressMode int

const (
	// quietMode (-q): nothing.
	quietMode progressMode = iota
	// plainMode (stderr is not a terminal: CI logs, pipes): one line per
	// step worth a line in a log, never a redraw.
	plainMode
	// barsMode (stderr is a terminal): bars redrawn in place by mpb, never
	// wider than the terminal, gone when the command prints its result.
	barsMode
)

// Bar geometry: the widest a bar grows, and the narrowest it may become
// before the details to its right are dropped to make room.
const (
	totalBarWidth = 40
	itemBarWidth  = 24
	minBarWidth   = 10
	// refreshRate is how often bars are redrawn.
	refreshRate = 120 * time.Millisecond
)

// progressView renders the library's progress.Events on stderr, for the
// command running: event for sync (and add, update, remove), verify for
// verify, load for load. The library only emits events; how they look is
// the command line's business.
//
// On a terminal, sync shows a total bar with the blob counter (counting as
// blobs finish), bytes, rate and ETA, and one line per blob in flight;
// verify one bar; load one line per image streaming, which says when the
// engine is unpacking. Lines are fitted to the terminal's width at every
// frame.
type progressView struct {
	w    io.Writer
	mode progressMode
	// console draws the bars (barsMode).
	console mpb.ConsoleWriter

	mu    sync.Mutex
	p     *mpb.Progress // started with the first bar
	total *totalLine
	items map[string]*itemLine // by digest (sync) or image (load)
}

func (g *globals) newProgress() *progressView {
	v := &progressView{w: g.stderr, mode: plainMode, items: map[string]*itemLine{}}
	switch f, ok := g.stderr.(*os.File); {
	case g.quiet:
		v.mode = quietMode
	case g.console != nil:
		v.mode, v.console = barsMode, g.console
	case ok && isTerminal(f):
		v.mode, v.console = barsMode, newTermWriter(f)
	}
	return v
}

// totalLine is the state a total bar draws from. Its fields are atomics:
// mpb's goroutines read them while events update them.
type totalLine struct {
	verb    string       // "fetching", "verifying"
	counted bool         // whether the line counts blobs
	blobs   atomic.Int64 // planned
	doneN   atomic.Int64 // finished
	size    atomic.Int64 // bytes planned
	done    atomic.Int64 // bytes through
	bar     *mpb.Bar
	rate    rateMeter // read and written by the bar's decorator only
}

// itemLine is one blob in flight (sync) or one image streaming (load).
type itemLine struct {
	names     []string // the line's name, then shorter forms for narrow terminals
	size      int64
	done      atomic.Int64
	unpacking atomic.Bool // load: everything sent, the engine unpacks
	bar       *mpb.Bar
}

// event renders a sync's events (sync, add, update, remove).
func (v *progressView) event(e progress.Event) {
	if v.common(e) {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	switch e.Kind {
	case progress.Plan:
		if v.mode == plainMode {
			v.printf("fetching %s (%s)", plural(e.Blobs, "blob"), humanBytes(e.Size))
			return
		}
		t := v.totalBar("fetching", true)
		t.blobs.Add(int64(e.Blobs))
		t.size.Add(e.Size)
	case progress.Start:
		if v.mode != barsMode || v.total == nil {
			return
		}
		if old := v.items[e.Digest.String()]; old != nil {
			// Started again: one line per blob, its bytes counted once.
			v.total.done.Add(-old.done.Load())
			drop(old.bar)
		}
		d := short(e.Digest.String())
		v.items[e.Digest.String()] = v.itemBar(e.Size, false, fmt.Sprintf("  %-6s %s", e.Role, d), "  "+d)
	case progress.Advance:
		if it := v.items[e.Digest.String()]; it != nil {
			v.total.done.Add(e.Done - it.done.Swap(e.Done))
		}
	case progress.Retry:
		msg := fmt.Sprintf("retrying %s %s: %v", e.Role, short(e.Digest.String()), e.Err)
		if it := v.items[e.Digest.String()]; it != nil {
			// The download starts again from its first byte.
			v.total.done.Add(-it.done.Swap(0))
		}
		v.printf("%s", msg)
	case progress.Done:
		if v.mode == plainMode {
			v.printf("fetched %s %s (%s) for %s", e.Role, short(e.Digest.String()), humanBytes(e.Size), e.Image)
			return
		}
		// Documents fetched while resolving (manifests, configs) were never planned
		// nor started: only started blobs count.
		it := v.items[e.Digest.String()]
		if it == nil {
			return
		}
		delete(v.items, e.Digest.String())
		v.total.done.Add(e.Size - it.done.Swap(e.Size))
		v.total.doneN.Add(1)
		drop(it.bar)
	}
}

// verify renders verification: one bar of the bytes rehashed.
func (v *progressView) verify(e progress.Event) {
	if v.common(e) || v.mode != barsMode || e.Kind != progress.Advance {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	t := v.totalBar("verifying", false)
	// Hashing workers report out of order: the line only moves forward.
	storeMax(&t.size, e.Size)
	storeMax(&t.done, e.Done)
}

// load renders load: a line per image while it streams, which then says
// the engine is unpacking it instead of sitting at 100%.
func (v *progressView) load(e progress.Event) {
	if v.common(e) {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	switch e.Kind {
	case progress.Start:
		if v.mode == plainMode {
			v.printf("loading %s (%s)", e.Image, humanBytes(e.Size))
			return
		}
		if old := v.items[e.Image]; old != nil {
			drop(old.bar)
		}
		v.items[e.Image] = v.itemBar(e.Size, true, "loading "+e.Image, e.Image)
	case progress.Advance:
		if it := v.items[e.Image]; it != nil {
			it.done.Store(e.Done)
		}
	case progress.Unpacking:
		if v.mode == plainMode {
			v.printf("%s: %s sent, waiting for the engine to unpack it", e.Image, humanBytes(e.Done))
			return
		}
		if it := v.items[e.Image]; it != nil {
			it.done.Store(e.Done)
			it.unpacking.Store(true)
		}
	case progress.Done:
		if it := v.items[e.Image]; it != nil {
			delete(v.items, e.Image)
			drop(it.bar)
		}
	}
}

// common handles what every command shows the same way, and reports
// whether e needs nothing more.
func (v *progressView) common(e progress.Event) bool {
	if v.mode == quietMode {
		return true
	}
	switch e.Kind {
	case progress.Waiting:
		v.mu.Lock()
		v.printf("waiting for another vendorimg to release the layout...")
		v.mu.Unlock()
		return true
	case progress.Notice:
		v.mu.Lock()
		v.printf("%s", e.Message)
		v.mu.Unlock()
		return true
	}
	return false
}

// printf prints a line; with bars running, above them.
func (v *progressView) printf(format string, args ...any) {
	var w io.Writer = v.w
	if v.p != nil {
		w = v.p
	}
	fmt.Fprintf(w, format+"\n", args...)
}

// done removes the bars, leaving the screen as it was before them, so that
// the command's result follows the command line. It is safe to call more
// than once.
func (v *progressView) done() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.p == nil {
		return
	}
	for k, it := range v.items {
		drop(it.bar)
		delete(v.items, k)
	}
	if v.total != nil {
		drop(v.total.bar)
	}
	v.p.Wait()
	v.p, v.total = nil, nil
}

// add adds a bar, starting mpb on the first one. Its total is 0, so that
// mpb never completes it by itself: the bar goes when drop removes it.
func (v *progressView) add(filler mpb.BarFiller, opts ...mpb.BarOption) *mpb.Bar {
	if v.p == nil {
		v.p = mpb.New(mpb.WithConsoleWriter(v.console), mpb.WithRefreshRate(refreshRate), mpb.WithWidth(totalBarWidth))
	}
	b, err := v.p.Add(0, filler, opts...)
	if err != nil {
		return nil // only after Wait, which done follows with a new mpb
	}
	return b
}

// drop removes a bar from the frames.
func drop(b *mpb.Bar) {
	if b != nil {
		b.Abort(true)
	}
}

// totalBar returns the total line, adding it on top of the first frame.
func (v *progressView) totalBar(verb string, counted bool) *totalLine {
	if v.total != nil {
		return v.total
	}
	t := &totalLine{verb: verb, counted: counted}
	t.bar = v.add(barFiller(func() (int64, int64) { return t.done.Load(), t.size.Load() }, nil),
		mpb.PrependDecorators(decor.Any(t.left)),
		mpb.AppendDecorators(decor.Any(t.right)),
		mpb.BarPriority(-1))
	v.total = t
	return t
}

// itemBar adds a line for a blob or an image.
func (v *progressView) itemBar(size int64, load bool, names ...string) *itemLine {
	it := &itemLine{names: names, size: size}
	var spin func() bool
	if load {
		spin = it.unpacking.Load
	}
	it.bar = v.add(barFiller(func() (int64, int64) { return it.done.Load(), it.size }, spin),
		mpb.PrependDecorators(decor.Any(it.left)),
		mpb.AppendDecorators(decor.Any(it.right)),
		mpb.BarWidth(itemBarWidth))
	return it
}

func (t *totalLine) left(s decor.Statistics) string {
	if !t.counted {
		return cut(t.verb, s.AvailableWidth)
	}
	counter := fmt.Sprintf("%d/%s", t.doneN.Load(), plural(int(t.blobs.Load()), "blob"))
	return cutFit(s.AvailableWidth, minBarWidth, t.verb+" "+counter, counter)
}

func (t *totalLine) right(s decor.Statistics) string {
	done, size := t.done.Load(), t.size.Load()
	rate := t.rate.sample(time.Now(), done)
	bytes := humanBytes(done) + " / " + humanBytes(size)
	variants := []string{bytes}
	if rate > 0 {
		speed := humanBytes(int64(rate)) + "/s"
		variants = []string{bytes + "  " + speed, bytes}
		if eta := t.rate.eta(size - done); eta != "" {
			variants = append([]string{bytes + "  " + speed + "  ETA " + eta}, variants...)
		}
	}
	return fit(s.AvailableWidth, minBarWidth, variants...)
}

func (it *itemLine) left(s decor.Statistics) string {
	if it.unpacking.Load() {
		// The wait gets the whole line, the spinner after it: the bar would
		// only sit at 100%.
		const wait = "waiting for the engine to unpack"
		image := it.names[len(it.names)-1]
		return cutFit(s.AvailableWidth, 1,
			fmt.Sprintf("%s: %s sent, %s", it.names[0], humanBytes(it.done.Load()), wait),
			image+": "+wait, wait)
	}
	return cutFit(s.AvailableWidth, minBarWidth, it.names...)
}

func (it *itemLine) right(s decor.Statistics) string {
	if it.unpacking.Load() {
		return ""
	}
	return fit(s.AvailableWidth, minBarWidth, humanBytes(it.done.Load())+" / "+humanBytes(it.size))
}

// fit returns the first variant that leaves room for a bar of keep columns
// (and its two spaces) in width, else the first that leaves the two spaces,
// else "":
// details are dropped whole, never cut.
func fit(width, keep int, variants ...string) string {
	for _, v := range variants {
		if len(v)+keep+2 <= width {
			return v
		}
	}
	for _, v := range variants {
		if len(v)+2 <= width {
			return v
		}
	}
	return ""
}

// cutFit is fit, and the last variant cut to width when none fits: a
// line's name always shows.
func cutFit(width, keep int, variants ...string) string {
	if v := fit(width, keep, variants...); v != "" {
		return v
	}
	return cut(variants[len(variants)-1], width)
}

// cut shortens s to width columns (progress lines are ASCII).
func cut(s string, width int) string {
	return s[:max(min(width, len(s)), 0)]
}

// spinnerFrames turn while the engine unpacks.
const spinnerFrames = `|/-\`

// barFiller draws "[=====>----]" as wide as mpb gives it (at most the
// bar's requested width) from the done and total bytes of through, or, once
// spin says so, a turning spinner. It never writes a column more than it
// was given.
func barFiller(through func() (done, total int64), spin func() bool) mpb.BarFiller {
	var frame int
	return mpb.BarFillerFunc(func(w io.Writer, s decor.Statistics) error {
		width := min(s.AvailableWidth, s.RequestedWidth)
		if spin != nil && spin() && width >= 1 {
			frame++
			_, err := io.WriteString(w, string(spinnerFrames[frame%len(spinnerFrames)]))
			return err
		}
		if width < 3 {
			return nil
		}
		inner := width - 2
		done, total := through()
		filled := inner
		if total > 0 {
			filled = int(min(done, total) * int64(inner) / total)
		}
		var b strings.Builder
		b.Grow(width)
		b.WriteByte('[')
		b.WriteString(strings.Repeat("=", filled))
		if filled < inner {
			b.WriteByte('>')
			b.WriteString(strings.Repeat("-", inner-filled-1))
		}
		b.WriteByte(']')
		_, err := io.WriteString(w, b.String())
		return err
	})
}

// rateMeter smooths the transfer rate over the frames it is sampled at.
type rateMeter struct {
	start, last time.Time
	lastN       int64
	rate        float64 // bytes per second
}

// sample records n bytes through at now and returns the smoothed rate (0
// until there is one).
func (m *rateMeter) sample(now time.Time, n int64) float64 {
	if m.last.IsZero() {
		m.start, m.last, m.lastN = now, now, n
		return 0
	}
	dt := now.Sub(m.last).Seconds()
	if dt < 0.2 {
		return m.rate
	}
	inst := max(float64(n-m.lastN), 0) / dt
	if m.rate == 0 {
		m.rate = inst
	} else {
		m.rate = 0.3*inst + 0.7*m.rate
	}
	m.last, m.lastN = now, n
	return m.rate
}

// eta is the time left for left bytes at the current rate, once the rate
// has had a second to settle.
func (m *rateMeter) eta(left int64) string {
	if m.rate <= 0 || left <= 0 || m.last.Sub(m.start) < time.Second {
		return ""
	}
	return (time.Duration(float64(left)/m.rate*float64(time.Second)) + time.Second/2).Truncate(time.Second).String()
}

// storeMax raises a to n if n is larger.
func storeMax(a *atomic.Int64, n int64) {
	for {
		old := a.Load()
		if n <= old || a.CompareAndSwap(old, n) {
			return
		}
	}
}

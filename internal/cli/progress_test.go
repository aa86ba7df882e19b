package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/progress"
)

// slowBlobs makes the registry trickle blob bodies at bytesPerSec per
// download, so that a sync lasts long enough for bars to draw.
func slowBlobs(reg *registrytest.Fault, bytesPerSec int) {
	reg.On(func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/")
	}, -1,
		func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			next.ServeHTTP(trickle{w, bytesPerSec}, r)
		})
}

type trickle struct {
	http.ResponseWriter
	bytesPerSec int
}

func (t trickle) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), 16<<10)
		m, err := t.ResponseWriter.Write(p[:c])
		n += m
		if err != nil {
			return n, err
		}
		t.ResponseWriter.(http.Flusher).Flush()
		time.Sleep(time.Duration(c) * time.Second / time.Duration(t.bytesPerSec))
		p = p[c:]
	}
	return n, nil
}

// onTerminal runs vendorimg with stderr on a pseudo-terminal of the given
// size, as a person at a terminal does, and returns stdout and everything
// the terminal received.
func onTerminal(t *testing.T, width, height int, args ...string) (code int, stdout string, raw []byte) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: uint16(width), Rows: uint16(height)}); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(&got, ptmx) // ends with EIO once the tty is closed
	}()
	var out bytes.Buffer
	code = Execute(context.Background(), args, &out, tty)
	tty.Close()
	<-read
	return code, out.String(), got.Bytes()
}

// TestBarsFitTheTerminal syncs through a slow registry with stderr on a
// pty of several widths: the bars draw, no line is ever wider than the
// terminal, nothing scrolls (also not into tmux's scrollback), the blob
// counter only moves forward to the number planned, and once the command
// is done the bars are gone.
func TestBarsFitTheTerminal(t *testing.T) {
	reg := registrytest.NewFault(t)
	idx := registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 2, 256<<10, 7, registrytest.OCI)
	ref := reg.Host + "/bars/app:1"
	registrytest.Push(t, ref, idx)
	slowBlobs(reg, 512<<10) // about half a second per layer
	counter := regexp.MustCompile(`(\d+)/(\d+) blobs?`)
	for _, width := range []int{60, 30, 44, 120} {
		t.Run(strconv.Itoa(width), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			code, stdout, raw := onTerminal(t, width, 20, "-C", dir, "add", ref, "--platform", "linux/amd64,linux/arm64", "--jobs", "2")
			if code != 0 {
				t.Fatalf("vendorimg add on a %d-column terminal = exit %d\n%s%s", width, code, stdout, raw)
			}
			if !bytes.Contains(raw, []byte("sha256:")) || !bytes.Contains(raw, []byte("[")) {
				t.Fatalf("no bar was drawn on a %d-column terminal:\n%q", width, raw)
			}
			s := newScreen(width, 20)
			s.Write(raw)
			if s.wraps != 0 || s.scrolls != 0 || s.screenErases != 0 || s.widest >= width || len(s.unknown) > 0 {
				t.Errorf("on a %d-column terminal: %d wrapped lines, %d scrolled rows, %d screen erases, widest row %d columns, unknown %v; want none, and rows narrower than the terminal\n%q",
					width, s.wraps, s.scrolls, s.screenErases, s.widest, s.unknown, raw)
			}
			if text := s.text(); text != "" {
				t.Errorf("after vendorimg add the %d-column terminal shows\n%s\nwant the bars gone", width, text)
			}
			last, total := -1, 0
			for _, m := range counter.FindAllSubmatch(raw, -1) {
				n, _ := strconv.Atoi(string(m[1]))
				total, _ = strconv.Atoi(string(m[2]))
				if n < last {
					t.Errorf("the blob counter went back from %d to %d", last, n)
				}
				last = n
			}
			if width >= 44 && (last < 0 || total != 4) {
				// The four layers are planned once the index, manifests and
				// configs are read.
				t.Errorf("blob counter ended at %d/%d, want a counter out of 4", last, total)
			}
		})
	}
}

// console is a terminal of s's size that draws on s, under mu.
func console(mu *sync.Mutex, s *screen) *termWriter {
	return &termWriter{out: lockedScreen{mu, s}, size: func() (int, int, error) { return s.width, s.height, nil }}
}

// waitFor polls until the screen shows want.
func waitFor(t *testing.T, mu *sync.Mutex, s *screen, want string) string {
	t.Helper()
	return waitUntil(t, mu, s, "shows "+strconv.Quote(want), func(text string) bool { return strings.Contains(text, want) })
}

// waitUntil polls until what the screen shows satisfies ok.
func waitUntil(t *testing.T, mu *sync.Mutex, s *screen, what string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		text := s.text()
		mu.Unlock()
		if ok(text) {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen never %s; it shows\n%s", what, text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedScreen struct {
	mu *sync.Mutex
	s  *screen
}

// Write writes p as a tty passes it on: a newline also returns the
// carriage (onlcr).
func (l lockedScreen) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.s.Write(bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n")))
	return len(p), err
}

// TestLoadSaysTheEngineUnpacks: once every byte is sent, the load line
// stops being a full bar and says what it waits for.
func TestLoadSaysTheEngineUnpacks(t *testing.T) {
	for _, width := range []int{100, 60, 40} {
		t.Run(strconv.Itoa(width), func(t *testing.T) {
			var mu sync.Mutex
			s := newScreen(width, 10)
			v := &progressView{w: io.Discard, mode: barsMode, items: map[string]*itemLine{}, console: console(&mu, s)}
			const image = "registry.example.test/team/app:1"
			v.load(progress.Event{Kind: progress.Start, Image: image, Size: 3 << 20})
			v.load(progress.Event{Kind: progress.Advance, Image: image, Size: 3 << 20, Done: 1 << 20})
			if width >= 60 {
				waitFor(t, &mu, s, "1.0 MB / 3.1 MB")
			} else {
				waitFor(t, &mu, s, image+" [=") // no room for the bytes
			}
			v.load(progress.Event{Kind: progress.Advance, Image: image, Size: 3 << 20, Done: 3 << 20})
			v.load(progress.Event{Kind: progress.Unpacking, Image: image, Size: 3 << 20, Done: 3 << 20})
			text := waitFor(t, &mu, s, "waiting for the engine to unpack")
			if strings.Contains(text, "[") {
				t.Errorf("while the engine unpacks the line still shows a bar:\n%s", text)
			}
			v.load(progress.Event{Kind: progress.Done, Image: image, Size: 3 << 20, Done: 3 << 20})
			v.done()
			mu.Lock()
			defer mu.Unlock()
			if s.text() != "" || s.wraps+s.scrolls+s.screenErases != 0 || s.widest >= width {
				t.Errorf("after load on %d columns: screen %q, %d wraps, %d scrolls, %d screen erases, widest %d", width, s.text(), s.wraps, s.scrolls, s.screenErases, s.widest)
			}
		})
	}
}

// TestSyncBarsCountBlobsAsTheyFinish drives the view with a sync's events:
// the counter counts started blobs as they finish (documents fetched while
// resolving do not count), the bytes follow every blob, a retry takes a
// blob's bytes back, and lines printed meanwhile land above the bars.
func TestSyncBarsCountBlobsAsTheyFinish(t *testing.T) {
	var mu sync.Mutex
	s := newScreen(80, 12)
	v := &progressView{w: io.Discard, mode: barsMode, items: map[string]*itemLine{}, console: console(&mu, s)}
	d1, d2 := digest.FromString("one"), digest.FromString("two")
	v.event(progress.Event{Kind: progress.Done, Role: "manifest", Digest: digest.FromString("m"), Size: 500}) // resolving: not planned
	v.event(progress.Event{Kind: progress.Plan, Blobs: 2, Size: 2000})
	v.event(progress.Event{Kind: progress.Start, Role: "layer", Digest: d1, Size: 1000})
	v.event(progress.Event{Kind: progress.Start, Role: "config", Digest: d2, Size: 1000})
	v.event(progress.Event{Kind: progress.Advance, Role: "layer", Digest: d1, Size: 1000, Done: 600})
	waitFor(t, &mu, s, "fetching 0/2 blobs")
	waitFor(t, &mu, s, "600 B / 2.0 kB")
	v.event(progress.Event{Kind: progress.Retry, Role: "layer", Digest: d1, Size: 1000, Err: errors.New("connection reset")})
	text := waitFor(t, &mu, s, "retrying layer "+short(d1.String())+": connection reset")
	if !strings.HasPrefix(text, "retrying layer") {
		t.Errorf("the retry line is not above the bars:\n%s", text)
	}
	waitFor(t, &mu, s, "0 B / 2.0 kB")
	v.event(progress.Event{Kind: progress.Done, Role: "config", Digest: d2, Size: 1000, Done: 1000})
	waitUntil(t, &mu, s, "drops the finished config's line and counts it", func(text string) bool {
		return strings.Contains(text, "fetching 1/2 blobs") && strings.Contains(text, "1.0 kB / 2.0 kB") && !strings.Contains(text, short(d2.String()))
	})
	v.done()
	mu.Lock()
	defer mu.Unlock()
	if got := s.text(); got != "retrying layer "+short(d1.String())+": connection reset" {
		t.Errorf("after done the screen shows\n%s\nwant only the retry line", got)
	}
}

func TestPlainAndQuietProgress(t *testing.T) {
	events := []progress.Event{
		{Kind: progress.Waiting},
		{Kind: progress.Plan, Blobs: 1, Size: 3 << 20},
		{Kind: progress.Start, Role: "layer", Digest: digest.FromString("l"), Size: 3 << 20},
		{Kind: progress.Advance, Role: "layer", Digest: digest.FromString("l"), Size: 3 << 20, Done: 1 << 20},
		{Kind: progress.Done, Role: "layer", Digest: digest.FromString("l"), Size: 3 << 20, Image: "x.test/a:1"},
		{Kind: progress.Notice, Message: "mirror m.test failed (503), using x.test"},
	}
	var plain, quiet bytes.Buffer
	p := (&globals{stderr: &plain}).newProgress()
	q := (&globals{stderr: &quiet, quiet: true}).newProgress()
	for _, e := range events {
		p.event(e)
		q.event(e)
	}
	p.done()
	q.done()
	want := "waiting for another vendorimg to release the layout...\n" +
		"fetching 1 blob (3.1 MB)\n" +
		"fetched layer " + short(digest.FromString("l").String()) + " (3.1 MB) for x.test/a:1\n" +
		"mirror m.test failed (503), using x.test\n"
	if plain.String() != want {
		t.Errorf("plain progress =\n%s\nwant\n%s", plain.String(), want)
	}
	if quiet.Len() != 0 {
		t.Errorf("-q progress = %q, want nothing", quiet.String())
	}

	var load bytes.Buffer
	l := (&globals{stderr: &load}).newProgress()
	for _, k := range []progress.Kind{progress.Start, progress.Advance, progress.Unpacking, progress.Done} {
		l.load(progress.Event{Kind: k, Image: "x.test/a:1", Size: 3 << 20, Done: 3 << 20})
	}
	if want := "loading x.test/a:1 (3.1 MB)\nx.test/a:1: 3.1 MB sent, waiting for the engine to unpack it\n"; load.String() != want {
		t.Errorf("plain load progress =\n%s\nwant\n%s", load.String(), want)
	}
}

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		width, keep int
		variants    []string
		want        string
	}{
		{40, 10, []string{"1.0 MB / 2.0 MB  1.0 MB/s  ETA 1s", "1.0 MB / 2.0 MB"}, "1.0 MB / 2.0 MB"},
		{60, 10, []string{"1.0 MB / 2.0 MB  1.0 MB/s  ETA 1s", "1.0 MB / 2.0 MB"}, "1.0 MB / 2.0 MB  1.0 MB/s  ETA 1s"},
		{17, 10, []string{"1.0 MB / 2.0 MB"}, "1.0 MB / 2.0 MB"}, // no bar, but the bytes
		{16, 10, []string{"1.0 MB / 2.0 MB"}, ""},                // never cut
	} {
		if got := fit(tc.width, tc.keep, tc.variants...); got != tc.want {
			t.Errorf("fit(%d, %d, %q) = %q, want %q", tc.width, tc.keep, tc.variants, got, tc.want)
		}
	}
	if got := cutFit(8, 10, "  layer  sha256:abc", "  sha256:abc"); got != "  sha256" {
		t.Errorf("cutFit(8, ...) = %q, want the shortest name cut to 8 columns", got)
	}
}

func TestRateMeter(t *testing.T) {
	var m rateMeter
	t0 := time.Unix(1000, 0)
	m.sample(t0, 0)
	for i := 1; i <= 10; i++ {
		m.sample(t0.Add(time.Duration(i)*time.Second/2), int64(i)*500_000) // 1 MB/s
	}
	if r := m.sample(t0.Add(5*time.Second), 5_000_000); r < 990_000 || r > 1_010_000 {
		t.Errorf("rate = %.0f B/s, want 1 MB/s", r)
	}
	if eta := m.eta(30_000_000); eta != "30s" {
		t.Errorf("eta of 30 MB at 1 MB/s = %q, want 30s", eta)
	}
}

// isTerminal must see the pty as a terminal, or the pty test tests the
// plain lines.
func TestPtyIsATerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	var f *os.File = tty
	if !isTerminal(f) {
		t.Fatal("isTerminal(pty) = false")
	}
}

// TestVerifyBar: verify's one bar moves forward only, as hashing workers
// report out of order.
func TestVerifyBar(t *testing.T) {
	var mu sync.Mutex
	s := newScreen(70, 5)
	v := &progressView{w: io.Discard, mode: barsMode, items: map[string]*itemLine{}, console: console(&mu, s)}
	v.verify(progress.Event{Kind: progress.Advance, Done: 2_000_000, Size: 4_000_000})
	v.verify(progress.Event{Kind: progress.Advance, Done: 1_500_000, Size: 4_000_000})
	text := waitFor(t, &mu, s, "verifying [")
	if !strings.Contains(text, "2.0 MB / 4.0 MB") {
		t.Errorf("verify bar shows\n%s\nwant 2.0 MB / 4.0 MB", text)
	}
	v.done()
	mu.Lock()
	defer mu.Unlock()
	if s.text() != "" {
		t.Errorf("after verify the screen shows %q, want nothing", s.text())
	}
}

package registrytest

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on 127.0.0.1 between a client and a registry (the
// real one Start runs, or any other), which the test controls: each
// response can pass, be cut, stall, trickle or be reset, chosen per request
// or per connection and switchable while the test runs. It reads each
// request to know where a response begins, but forwards the bytes the
// registry sends untouched until its Mode says otherwise, so what the
// client meets is what a failing network or registry does to a real
// response.
//
// It is for clients that do not pipeline requests (Go's does not): the
// bytes after a request, up to the next one, are taken as its response.
type Proxy struct {
	// Host is "127.0.0.1:PORT", to use in references in place of the
	// registry's.
	Host string

	target string
	ln     net.Listener

	mu       sync.Mutex
	mode     Mode
	rules    []*proxyRule
	connMode []Mode // modes of the next connections, in order
	reqs     []string
	conns    int
	open     map[net.Conn]bool
	wg       sync.WaitGroup
	acted    chan string
	closed   bool

	gate gate
}

// gate counts the bytes the proxy passes to its clients, all connections
// together, and holds them at a count, so that a test acts at a point of a
// transfer that does not depend on the machine's speed.
type gate struct {
	mu   sync.Mutex
	cond *sync.Cond
	sent int64
	// holdAt: while sent >= holdAt, nothing more passes (-1: no hold).
	holdAt int64
	closed bool
}

// pass waits while the gate holds, then counts n bytes as passed.
func (g *gate) pass(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.holdAt >= 0 && g.sent >= g.holdAt && !g.closed {
		g.cond.Wait()
	}
	g.sent += int64(n)
	g.cond.Broadcast()
}

func (g *gate) set(holdAt int64, closed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.holdAt, g.closed = holdAt, g.closed || closed
	g.cond.Broadcast()
}

// Sent is how many bytes the proxy has passed to its clients so far, all
// connections together, headers included.
func (p *Proxy) Sent() int64 {
	p.gate.mu.Lock()
	defer p.gate.mu.Unlock()
	return p.gate.sent
}

// HoldAfter makes the proxy stop passing bytes once it has passed n in
// all (see Sent), until Release. A write that crosses n passes whole.
func (p *Proxy) HoldAfter(n int64) { p.gate.set(n, false) }

// Release lets bytes through again after HoldAfter.
func (p *Proxy) Release() { p.gate.set(-1, false) }

// WaitSent waits until the proxy has passed n bytes in all, or done is
// closed (the client gave up or exited), and reports which. No clock: a
// slow machine only makes it wait longer.
func (p *Proxy) WaitSent(n int64, done <-chan struct{}) bool {
	g := &p.gate
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-done:
		case <-stop:
		}
		g.mu.Lock()
		g.cond.Broadcast()
		g.mu.Unlock()
	}()
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.sent < n {
		select {
		case <-done:
			return false
		default:
		}
		g.cond.Wait()
	}
	return true
}

type proxyRule struct {
	match func(*http.Request) bool
	left  int
	mode  Mode
}

// Mode says what the proxy does to a response. The zero Mode passes it.
type Mode struct {
	action proxyAction
	// after is how many body bytes pass before the action; -1: the action
	// comes before the first byte of the response (its headers).
	after int64
	rate  int
}

type proxyAction int

const (
	pass proxyAction = iota
	cut
	reset
	stall
	slow
)

// Pass forwards the response untouched.
func Pass() Mode { return Mode{} }

// Stall sends nothing of the response, not even its headers, and keeps the
// connection open until the client gives up.
func Stall() Mode { return Mode{action: stall, after: -1} }

// StallAfter sends the headers and n bytes of the body, then nothing more,
// keeping the connection open until the client gives up. Body bytes are
// counted as sent, chunked framing included.
func StallAfter(n int64) Mode { return Mode{action: stall, after: n} }

// CutAfter sends the headers and n bytes of the body, then closes the
// connection (a FIN). CutAfter(-1) closes it before the headers.
func CutAfter(n int64) Mode { return Mode{action: cut, after: n} }

// ResetAfter sends the headers and n bytes of the body, then resets the
// connection (an RST). ResetAfter(-1) resets it before the headers.
func ResetAfter(n int64) Mode { return Mode{action: reset, after: n} }

// Slow forwards the response's headers, then its body at bytesPerSec.
func Slow(bytesPerSec int) Mode { return Mode{action: slow, rate: max(bytesPerSec, 1)} }

func (m Mode) String() string {
	switch m.action {
	case cut:
		return "cut"
	case reset:
		return "reset"
	case stall:
		return "stall"
	case slow:
		return "slow"
	}
	return "pass"
}

// NewProxy starts a proxy to target ("127.0.0.1:PORT") until the test
// ends; every connection it holds is closed then.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Host: ln.Addr().String(), target: target, ln: ln, open: map[net.Conn]bool{}, acted: make(chan string, 1024)}
	p.gate.holdAt = -1
	p.gate.cond = sync.NewCond(&p.gate.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Set makes m the mode of every request from now on that no rule of On
// claims. Requests already answered are not affected; a response that is
// stalled stays stalled.
func (p *Proxy) Set(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
}

// On applies m to the next n requests that match (n negative: all of
// them), before Set's mode. Rules are tried in the order they were added.
func (p *Proxy) On(match func(*http.Request) bool, n int, m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &proxyRule{match: match, left: n, mode: m})
}

// OnConns applies m to every response on each of the next n connections
// accepted, ahead of On and Set; CutAfter(-1) or ResetAfter(-1) there
// closes a connection as soon as its first request arrives.
func (p *Proxy) OnConns(n int, m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.connMode = append(p.connMode, m)
	}
}

// Requests are the requests the proxy has seen, as "METHOD PATH".
func (p *Proxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reqs)
}

// Conns is how many connections the proxy has accepted.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

// Acted receives "MODE METHOD PATH" each time a mode other than Pass
// starts to act on a response (a stall has begun, a cut is made), so that
// a test can await it instead of sleeping.
func (p *Proxy) Acted() <-chan string { return p.acted }

// Close stops the proxy and closes every connection it holds.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.gate.set(-1, true) // a held write ends, so that its connection closes
	p.ln.Close()
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.conns++
		var cm *Mode
		if len(p.connMode) > 0 {
			m := p.connMode[0]
			cm, p.connMode = &m, p.connMode[1:]
		}
		p.open[c] = true
		p.wg.Add(1)
		p.mu.Unlock()
		go func() {
			defer p.wg.Done()
			p.serve(c, cm)
		}()
	}
}

// track records a connection so that Close can close it; it reports false
// once the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.open[c] = true
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.open, c)
		c.Close()
	}
}

// modeFor is the mode of a request that just arrived.
func (p *Proxy) modeFor(r *http.Request, connMode *Mode) Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, r.Method+" "+r.URL.Path)
	if connMode != nil {
		return *connMode
	}
	for _, rule := range p.rules {
		if rule.left != 0 && rule.match(r) {
			rule.left--
			return rule.mode
		}
	}
	return p.mode
}

// exchange is one request's response as it passes through the proxy.
type exchange struct {
	mode   Mode
	label  string
	inHead bool   // still in the response's headers
	tail   []byte // the last bytes of the headers seen, to find their end
	body   int64  // body bytes forwarded
	acted  bool   // the mode has acted: a stall swallows the rest
}

func (p *Proxy) serve(client net.Conn, connMode *Mode) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		p.untrack(client)
		return
	}
	if !p.track(server) {
		server.Close()
		p.untrack(client)
		return
	}
	defer p.untrack(client, server)

	var mu sync.Mutex
	cur := &exchange{}
	done := make(chan struct{})

	// Registry to client: forward, acting as the current exchange's mode
	// says.
	go func() {
		defer close(done)
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			data := buf[:n]
			for len(data) > 0 {
				mu.Lock()
				ex := cur
				mu.Unlock()
				k, stop := p.forward(client, ex, data)
				if stop {
					return
				}
				data = data[k:]
			}
			if err != nil {
				mu.Lock()
				stalled := cur.acted && cur.mode.action == stall
				mu.Unlock()
				if !stalled {
					// The registry closed: so does the client's side. A
					// stall keeps it open until the client gives up.
					client.Close()
				}
				return
			}
		}
	}()

	// Client to registry: read each request, choose its mode, pass it on.
	// The client sends the next request only once it has read the whole
	// response, so the mode changes between responses.
	br := bufio.NewReader(client)
	for first := true; ; first = false {
		var raw bytes.Buffer
		req, err := http.ReadRequest(bufio.NewReader(io.TeeReader(br, &raw)))
		if err != nil {
			if first && raw.Len() > 0 {
				// Not HTTP (a TLS handshake, say): be a plain pipe, as a TCP
				// proxy is, so the client meets what the registry says.
				_, _ = server.Write(raw.Bytes())
				_, _ = io.Copy(server, br)
			}
			break
		}
		m := p.modeFor(req, connMode)
		ex := &exchange{mode: m, label: m.String() + " " + req.Method + " " + req.URL.Path, inHead: true}
		mu.Lock()
		cur = ex
		mu.Unlock()
		if m.after < 0 && (m.action == cut || m.action == reset || m.action == stall) {
			p.act(ex)
			if m.action == stall {
				// Hold the connection, sending nothing, until the client
				// closes it.
				_, _ = io.Copy(io.Discard, br)
				break
			}
			p.finish(client, m.action)
			break
		}
		if err := req.Write(server); err != nil {
			break
		}
	}
	server.Close()
	<-done
}

// forward sends data (part of ex's response) to the client as ex's mode
// says. It returns how many bytes it consumed and whether the connection is
// finished.
func (p *Proxy) forward(client net.Conn, ex *exchange, data []byte) (int, bool) {
	m := ex.mode
	switch {
	case m.action == pass:
		p.gate.pass(len(data))
		_, err := client.Write(data)
		return len(data), err != nil
	case ex.acted:
		return len(data), false // a stall: the client hears nothing more
	}
	// The headers pass at full speed.
	k := 0
	for k < len(data) && ex.inHead {
		ex.tail = append(ex.tail, data[k])
		if len(ex.tail) > 4 {
			ex.tail = ex.tail[1:]
		}
		ex.inHead = !bytes.Equal(ex.tail, []byte("\r\n\r\n"))
		k++
	}
	if k > 0 {
		p.gate.pass(k)
		_, err := client.Write(data[:k])
		return k, err != nil
	}
	if m.action == slow {
		k := min(max(m.rate/20, 1), len(data))
		p.gate.pass(k)
		if _, err := client.Write(data[:k]); err != nil {
			return k, true
		}
		time.Sleep(time.Duration(k) * time.Second / time.Duration(m.rate))
		return k, false
	}
	// Up to m.after body bytes pass, then the mode acts.
	if take := min(int64(len(data)), m.after-ex.body); take > 0 {
		p.gate.pass(int(take))
		if _, err := client.Write(data[:take]); err != nil {
			return int(take), true
		}
		ex.body += take
		return int(take), false
	}
	ex.acted = true
	p.act(ex)
	if m.action == stall {
		return len(data), false
	}
	p.finish(client, m.action)
	return len(data), true
}

func (p *Proxy) act(ex *exchange) {
	select {
	case p.acted <- ex.label:
	default:
	}
}

// finish ends a connection as a cut (FIN) or a reset (RST).
func (p *Proxy) finish(client net.Conn, a proxyAction) {
	if tc, ok := client.(*net.TCPConn); ok && a == reset {
		_ = tc.SetLinger(0)
	}
	client.Close()
}

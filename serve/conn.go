package serve

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Bounds Run puts on its clients unless told otherwise (RunOptions), so
// that clients which connect and wait, or ask for a layer and stop reading,
// cannot hold serve's connections, file descriptors and buffers for ever:
// serve is also run on 0.0.0.0 for kind nodes, where anything on that
// network can connect.
const (
	// DefaultIdleTimeout is how long a keep-alive connection may wait
	// for its next request.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultWriteTimeout is how long one write of a response (a blob is
	// written 256 KiB at a time) may wait for the client to read: a client
	// slower than 256 KiB in 30 s has its connection cut.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultMaxConns is how many connections Run holds at once. When
	// they are all taken, the connection idle longest is closed for a new
	// one; with none idle, a new connection waits (in the kernel's
	// backlog) until one ends.
	DefaultMaxConns = 128
	// readHeaderTimeout is how long a client may take to send a request's
	// headers.
	readHeaderTimeout = 30 * time.Second
)

// progressWriter gives each write to a response its own deadline, d from
// now: the client must take each write within d, however long the whole
// response takes.
type progressWriter struct {
	rc *http.ResponseController
	d  time.Duration
	w  http.ResponseWriter
}

func (p *progressWriter) Write(b []byte) (int, error) {
	_ = p.rc.SetWriteDeadline(time.Now().Add(p.d))
	return p.w.Write(b)
}

// connLimit is a listener that holds at most cap(slots) connections: Accept
// takes a slot for each connection it returns and the connection's Close
// gives it back. When none is free it closes the connection that has been
// idle (between requests, per the server's ConnState) the longest, and
// otherwise waits until one ends or one goes idle (which it then closes).
type connLimit struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
	// wentIdle has a value when a connection went idle since Accept last
	// looked: a waiting Accept closes it for its new connection.
	wentIdle chan struct{}

	mu   sync.Mutex
	idle map[*limitedConn]time.Time
}

func newConnLimit(ln net.Listener, n int) *connLimit {
	return &connLimit{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{}), wentIdle: make(chan struct{}, 1), idle: map[*limitedConn]time.Time{}}
}

func (l *connLimit) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	// When all are taken: a connection that has answered its request may
	// not be idle yet (the server marks it so after the write), so close
	// the idlest now, and again each time one goes idle, until a slot is
	// free; never one more than it takes (a slot freed is taken first).
	for {
		select {
		case l.slots <- struct{}{}:
			return &limitedConn{Conn: c, l: l}, nil
		default:
		}
		l.closeIdlest()
		select {
		case l.slots <- struct{}{}:
			return &limitedConn{Conn: c, l: l}, nil
		case <-l.wentIdle:
		case <-l.done:
			c.Close()
			return nil, net.ErrClosed
		}
	}
}

func (l *connLimit) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// closeIdlest closes the connection idle the longest, if one is.
func (l *connLimit) closeIdlest() {
	l.mu.Lock()
	var oldest *limitedConn
	var since time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	delete(l.idle, oldest)
	l.mu.Unlock()
	if oldest != nil {
		oldest.Close()
	}
}

// connState is the server's ConnState hook: it keeps the set of idle
// connections.
func (l *connLimit) connState(c net.Conn, s http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s == http.StateIdle {
		l.idle[lc] = time.Now()
		select {
		case l.wentIdle <- struct{}{}:
		default:
		}
		return
	}
	delete(l.idle, lc)
}

// limitedConn gives its slot back once, on the first Close.
type limitedConn struct {
	net.Conn
	l    *connLimit
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.idle, c)
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return err
}

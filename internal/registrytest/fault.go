package registrytest

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// Fault is go-containerregistry's in-process registry on 127.0.0.1 behind
// a handler that records every request, counts connections, can demand a
// bearer token, and can misbehave on chosen requests: the one fault
// injector of the registry client's and sync's tests.
type Fault struct {
	*httptest.Server
	// Host is "127.0.0.1:PORT".
	Host string

	conns atomic.Int64

	mu     sync.Mutex
	reqs   []string // "METHOD PATH"
	faults []*fault
	auth   *tokenAuth
}

// Action answers a request in place of the registry (next), or around it.
type Action func(w http.ResponseWriter, r *http.Request, next http.Handler)

type fault struct {
	match func(*http.Request) bool
	left  int // answers left; negative: forever
	act   Action
}

// tokenAuth makes the server demand a bearer token, which its /token
// endpoint hands out for the right basic credentials.
type tokenAuth struct{ user, password, token string }

// NewFault starts a Fault registry until the test ends.
func NewFault(t testing.TB) *Fault {
	t.Helper()
	s := &Fault{}
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, reg)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	s.Host = strings.TrimPrefix(s.URL, "http://")
	return s
}

func (s *Fault) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r.Method+" "+r.URL.Path)
	auth := s.auth
	var act Action
	for _, f := range s.faults {
		if f.left != 0 && f.match(r) {
			f.left--
			act = f.act
			break
		}
	}
	s.mu.Unlock()
	if auth != nil {
		if r.URL.Path == "/token" {
			if u, p, ok := r.BasicAuth(); !ok || u != auth.user || p != auth.password {
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"token":%q}`, auth.token)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+auth.token {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="faultserver"`, s.Host))
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}`, http.StatusUnauthorized)
			return
		}
	}
	if act != nil {
		act(w, r, next)
		return
	}
	next.ServeHTTP(w, r)
}

// On makes the server answer the next n requests that match with act (n
// negative: all of them). Faults are tried in the order they were added.
func (s *Fault) On(match func(*http.Request) bool, n int, act Action) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{match: match, left: n, act: act})
}

// RequireToken makes every request but /token need a bearer token, which
// /token hands out for user and password (basic auth).
func (s *Fault) RequireToken(user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = &tokenAuth{user: user, password: password, token: "tok-" + user}
}

// Requests are the requests since the last Reset, as "METHOD PATH".
func (s *Fault) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// Count is how many requests since the last Reset were method path.
func (s *Fault) Count(method, path string) int {
	n := 0
	for _, r := range s.Requests() {
		if r == method+" "+path {
			n++
		}
	}
	return n
}

// Conns is how many connections were accepted since the last Reset.
func (s *Fault) Conns() int64 { return s.conns.Load() }

// Reset forgets the requests and connections so far.
func (s *Fault) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
	s.conns.Store(0)
}

// Request matches method (any if "") and a path ending in suffix.
func Request(method, suffix string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return (method == "" || r.Method == method) && strings.HasSuffix(r.URL.Path, suffix)
	}
}

// Respond answers with code and the given header pairs.
func Respond(code int, header ...string) Action {
	return func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		http.Error(w, http.StatusText(code), code)
	}
}

// Rewrite lets the registry answer, then changes the headers and body
// before they are sent; Content-Length follows the new body.
func Rewrite(f func(h http.Header, body []byte) []byte) Action {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := f(rec.Header(), rec.Body.Bytes())
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		if r.Method != http.MethodHead {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}
}

// Truncate lets the registry answer, announces the full length, sends a
// third of the body and drops the connection.
func Truncate() Action {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		body := rec.Body.Bytes()
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body[:len(body)/3])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
}

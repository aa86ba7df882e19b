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
	authz  []string // the Authorization header of each request, "" if none
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

// tokenAuth makes the server demand a bearer token, which the realm hands
// out for the right basic credentials: the server's own /token endpoint,
// or a TokenServer.
type tokenAuth struct {
	user, password, token string
	realm                 string // "" for the server's own /token
}

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
	s.authz = append(s.authz, r.Header.Get("Authorization"))
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
		if r.URL.Path == "/token" && auth.realm == "" {
			serveToken(w, r, auth)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+auth.token {
			realm := auth.realm
			if realm == "" {
				realm = "http://" + s.Host + "/token"
			}
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="faultserver"`, realm))
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

// serveToken hands out auth's token for its basic credentials.
func serveToken(w http.ResponseWriter, r *http.Request, auth *tokenAuth) {
	if u, p, ok := r.BasicAuth(); !ok || u != auth.user || p != auth.password {
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"token":%q}`, auth.token)
}

// RequireToken makes every request but /token need a bearer token, which
// /token hands out for user and password (basic auth).
func (s *Fault) RequireToken(user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = &tokenAuth{user: user, password: password, token: "tok-" + user}
}

// RequireTokenFrom makes every request need a bearer token from ts, whose
// /token endpoint the server's challenge names as its realm: a token
// server on another port, as distribution's token auth is deployed.
func (s *Fault) RequireTokenFrom(ts *TokenServer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = &tokenAuth{user: ts.auth.user, password: ts.auth.password, token: ts.auth.token, realm: ts.URL + "/token"}
}

// Authorizations are the Authorization headers of the requests since the
// last Reset, in order ("" for a request without one).
func (s *Fault) Authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.authz)
}

// TokenServer is a bearer token server on a loopback port of its own: its
// /token endpoint hands a token out for the right basic credentials, and
// it records what it was asked.
type TokenServer struct {
	*httptest.Server
	// Host is "127.0.0.1:PORT".
	Host string

	auth *tokenAuth
	mu   sync.Mutex
	reqs []TokenRequest
}

// TokenRequest is a request a TokenServer received.
type TokenRequest struct {
	Method, Path string
	// Service and Scope are the query's parameters.
	Service, Scope string
	// Authorization is the request's Authorization header.
	Authorization string
}

// NewTokenServer starts a token server for user and password until the
// test ends.
func NewTokenServer(t testing.TB, user, password string) *TokenServer {
	t.Helper()
	ts := &TokenServer{auth: &tokenAuth{user: user, password: password, token: "tok-" + user}}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		ts.reqs = append(ts.reqs, TokenRequest{Method: r.Method, Path: r.URL.Path, Service: r.URL.Query().Get("service"),
			Scope: r.URL.Query().Get("scope"), Authorization: r.Header.Get("Authorization")})
		ts.mu.Unlock()
		if r.URL.Path != "/token" {
			http.NotFound(w, r)
			return
		}
		serveToken(w, r, ts.auth)
	}))
	t.Cleanup(ts.Close)
	ts.Host = strings.TrimPrefix(ts.URL, "http://")
	return ts
}

// Requests are the requests the token server received.
func (ts *TokenServer) Requests() []TokenRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return slices.Clone(ts.reqs)
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
	s.authz = nil
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

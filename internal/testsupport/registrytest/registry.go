package registrytest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Binary is where Debian's docker-registry package installs the registry.
const Binary = "/usr/bin/docker-registry"

// Registry is a distribution registry process serving on 127.0.0.1.
type Registry struct {
	// Host is "127.0.0.1:PORT", as used in references.
	Host string
	// Dir is the registry's storage folder.
	Dir string

	cmd *exec.Cmd
	mu  sync.Mutex
	// grew is signalled whenever the log grows.
	grew    *sync.Cond
	log     bytes.Buffer
	markers int
}

// Options for Start.
type Options struct {
	// User and Password, when set, protect the registry with htpasswd
	// (basic auth, bcrypt).
	User, Password string
}

// Start runs the registry until the test ends. It fails the test, with how
// to install it, if the binary is missing.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Fatalf("%s not found: install the distribution registry (apt-get install docker-registry)", Binary)
	}
	dir := t.TempDir()
	r := &Registry{Dir: filepath.Join(dir, "storage")}
	r.grew = sync.NewCond(&r.mu)
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := freePort(t)
		r.Host = fmt.Sprintf("127.0.0.1:%d", port)
		cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: registrytest
`, r.Dir, r.Host)
		if opts.User != "" {
			hash, err := bcrypt.GenerateFromPassword([]byte(opts.Password), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			htpasswd := filepath.Join(dir, "htpasswd")
			if err := os.WriteFile(htpasswd, []byte(opts.User+":"+string(hash)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: registrytest\n    path: %s\n", htpasswd)
		}
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		r.cmd = exec.Command(Binary, "serve", cfgPath)
		r.cmd.Stdout = r
		r.cmd.Stderr = r
		if err := r.cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", Binary, err)
		}
		// The wait ends as soon as the registry answers, or exits; the
		// bound is for one that never does, far above the fraction of a
		// second it takes, so that a first run (a cold page cache) on a
		// machine busy with a dozen test binaries does not fail it.
		if lastErr = r.waitReady(time.Minute); lastErr == nil {
			t.Cleanup(r.stop)
			r.ResetLog()
			return r
		}
		r.stop()
	}
	t.Fatalf("registry did not start: %v\n%s", lastErr, r.Log())
	return nil
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (r *Registry) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if r.cmd.ProcessState != nil {
			return fmt.Errorf("exited")
		}
		var resp *http.Response
		resp, err = http.Get("http://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
			err = fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// Stop ends the registry before the test does: clients then find nothing
// listening on Host (connection refused). Its log stays readable.
func (r *Registry) Stop() { r.stop() }

func (r *Registry) stop() {
	if r.cmd != nil && r.cmd.Process != nil && r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// Write collects the registry's output (its access log included).
func (r *Registry) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, err := r.log.Write(p)
	r.grew.Broadcast()
	return n, err
}

// markerTimeout bounds the wait for a marker request's log line: the
// line comes in milliseconds; the bound only ends the wait of a registry
// that stopped logging, and is generous for a loaded machine.
const markerTimeout = time.Minute

// mark sends a request that no client sends and waits until its line is
// in the log: the registry writes a request's access-log line before the
// response ends, through one pipe, so every request answered before the
// marker is in the log by then. It returns the marker's path.
func (r *Registry) mark() string {
	r.mu.Lock()
	r.markers++
	path := fmt.Sprintf("/v2/registrytest-marker-%d/tags/list", r.markers)
	r.mu.Unlock()
	if resp, err := http.Get("http://" + r.Host + path); err == nil {
		resp.Body.Close()
	}
	deadline := time.AfterFunc(markerTimeout, func() {
		r.mu.Lock()
		r.grew.Broadcast()
		r.mu.Unlock()
	})
	defer deadline.Stop()
	start := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !strings.Contains(r.log.String(), path+" ") && time.Since(start) < markerTimeout {
		r.grew.Wait()
	}
	return path
}

// Log is everything the registry printed since the last ResetLog.
func (r *Registry) Log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.String()
}

// ResetLog forgets the output so far, including the lines of requests
// already answered whose lines are still on their way.
func (r *Registry) ResetLog() {
	path := r.mark()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.log.String()
	if i := strings.Index(s, path+" "); i >= 0 {
		if nl := strings.IndexByte(s[i:], '\n'); nl >= 0 {
			rest := s[i+nl+1:]
			r.log.Reset()
			r.log.WriteString(rest)
			return
		}
	}
	r.log.Reset()
}

var accessLine = regexp.MustCompile(`"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[0-9.]+" (\d{3})`)

// Requests are the requests answered since the last ResetLog, from the
// access log, as "METHOD PATH STATUS".
func (r *Registry) Requests() []string {
	r.mark()
	var out []string
	sc := bufio.NewScanner(strings.NewReader(r.Log()))
	for sc.Scan() {
		if m := accessLine.FindStringSubmatch(sc.Text()); m != nil && !strings.HasPrefix(m[2], "/v2/registrytest-marker-") {
			out = append(out, m[1]+" "+m[2]+" "+m[3])
		}
	}
	return out
}

// Connections counts TCP connections accepted, through a TLS or plain
// handshake (not the markers Requests and ResetLog send); a request-less
// connection shows up as a handshake error line.
func (r *Registry) Connections() int {
	return len(r.Requests()) + strings.Count(r.Log(), "http: TLS handshake error")
}

var _ io.Writer = (*Registry)(nil)

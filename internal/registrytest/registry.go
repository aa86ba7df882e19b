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
	log bytes.Buffer
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
		if lastErr = r.waitReady(10 * time.Second); lastErr == nil {
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
	return r.log.Write(p)
}

// Log is everything the registry printed since the last ResetLog.
func (r *Registry) Log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.String()
}

// ResetLog forgets the output so far.
func (r *Registry) ResetLog() {
	// The access log is written after the response; give a just-finished
	// request a moment to land in the old log rather than the new one.
	time.Sleep(20 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log.Reset()
}

var accessLine = regexp.MustCompile(`"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[0-9.]+" (\d{3})`)

// Requests are the requests in the access log since the last ResetLog, as
// "METHOD PATH STATUS".
func (r *Registry) Requests() []string {
	time.Sleep(20 * time.Millisecond) // see ResetLog
	var out []string
	sc := bufio.NewScanner(strings.NewReader(r.Log()))
	for sc.Scan() {
		if m := accessLine.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, m[1]+" "+m[2]+" "+m[3])
		}
	}
	return out
}

// Connections counts TCP connections accepted, through a TLS or plain
// handshake; a request-less connection shows up as a handshake error line.
func (r *Registry) Connections() int {
	return len(r.Requests()) + strings.Count(r.Log(), "http: TLS handshake error")
}

var _ io.Writer = (*Registry)(nil)

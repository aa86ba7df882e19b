package testbin

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"sync"
	"syscall"
	"testing"
)

// ServeOptions configure Serve.
type ServeOptions struct {
	// Config is the vendorimg.yaml whose images are served (--config).
	Config string
	// Addr is where serve listens (--addr). Default: 127.0.0.1:0, a free
	// port of the loopback.
	Addr string
	// Netns is a network namespace (/run/netns/NAME) to listen in, for an
	// engine that runs in one (scripts/engines netns): serve then runs
	// under nsenter --net=Netns, which needs root. Default: the test's own.
	Netns string
}

// Server is a vendorimg serve process started by Serve.
type Server struct {
	// Addr is the address serve listens on, as it reported it.
	Addr string
	// Log is what serve has logged so far: with -v, a line per request
	// ("msg=request method=GET path=/v2/library/alpine/manifests/3.19.4 ...").
	Log *Log
}

// Serve runs "bin serve -v --json" with opts until the test ends, and
// returns once serve listens. It fails the test if serve does not start,
// or, at the end, does not stop cleanly on SIGTERM. It is the test-process
// counterpart of vendorimgtest.Serve, which serves in the test's own
// process: for a test that must run serve as its users do, or where the
// test's process cannot listen (another network namespace).
func Serve(t testing.TB, bin string, opts ServeOptions) *Server {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	args := []string{bin, "--config", opts.Config, "-v", "serve", "--addr", opts.Addr, "--json"}
	if opts.Netns != "" {
		// nsenter execs serve after it entered the namespace (no fork for
		// a network namespace), so that SIGTERM reaches serve itself.
		args = append([]string{"nsenter", "--net=" + opts.Netns}, args...)
	}
	s := &Server{Log: &Log{}}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = s.Log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("vendorimg serve did not stop cleanly on SIGTERM: %v\n%s", err, s.Log)
		}
	})
	var info struct{ Addr string }
	if err := json.NewDecoder(stdout).Decode(&info); err != nil || info.Addr == "" {
		t.Fatalf("%v: reading serve's --json document: %v\n%s", args, err, s.Log)
	}
	s.Addr = info.Addr
	return s
}

// Log is a log a test reads while another goroutine or a process writes
// it: an io.Writer for a process's stderr or a slog handler.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *Log) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *Log) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

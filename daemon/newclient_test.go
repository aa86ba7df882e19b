package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/system"
)

// fakeEngineSocket serves the few Engine API endpoints a load uses on a
// unix socket, in plain http as docker does, and keeps each load's body.
func fakeEngineSocket(t *testing.T) (host string, loads func() [][]byte) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bodies [][]byte
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("API-Version", "1.41")
		io.WriteString(w, "OK")
	})
	mux.HandleFunc("/v1.41/info", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(system.Info{OSType: "linux", Architecture: "x86_64", ServerVersion: "20.10.24"})
	})
	mux.HandleFunc("/v1.41/images/load", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		io.WriteString(w, `{"stream":"Loaded image ID: sha256:0123\n"}`)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock, func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return bodies
	}
}

// NewClient's HTTP client (larger buffers than the docker client's own)
// must still speak plain http to a socket: a transport set up the wrong
// way turns HTTP/2, then TLS, on, and every engine becomes unreachable.
func TestNewClientTalksToASocket(t *testing.T) {
	host, loads := fakeEngineSocket(t)
	t.Setenv("DOCKER_HOST", host)
	t.Setenv("DOCKER_API_VERSION", "")
	t.Setenv("DOCKER_TLS_VERIFY", "")
	c, err := NewClient()
	if err != nil {
		t.Fatalf("NewClient() = %v", err)
	}
	defer c.Close()
	eng, err := Inspect(context.Background(), c)
	if err != nil {
		t.Fatalf("Inspect() through NewClient() = %v", err)
	}
	if eng.Platform != "linux/amd64" || eng.Version != "20.10.24" {
		t.Errorf("Inspect() = %+v, want linux/amd64, 20.10.24", eng)
	}
	// A body of several MiB, streamed, arrives whole.
	body := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16+7)
	res, err := c.ImageLoad(context.Background(), io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatalf("ImageLoad() = %v", err)
	}
	if _, err := io.Copy(io.Discard, res); err != nil {
		t.Fatalf("reading ImageLoad()'s answer: %v", err)
	}
	res.Close()
	if got := loads(); len(got) != 1 || !bytes.Equal(got[0], body) {
		t.Errorf("the engine got %d loads, want 1 of the %d bytes sent", len(got), len(body))
	}
}

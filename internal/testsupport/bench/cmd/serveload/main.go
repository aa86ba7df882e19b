// Command serveload measures what slow and idle clients cost a running
// "vendorimg serve" (issue 22): it vendors an image with one 24 MiB layer
// from an in-process registry with the given binary, starts that binary's
// serve on 127.0.0.1, opens -slow clients that ask for the layer and never
// read, and -idle keep-alive clients that make one request and wait, then
// prints serve's connections, file descriptors and resident memory before
// the clients and at each -at offset after they are all open, and whether a
// new client is still answered. It stops serve and exits after the last
// offset, so a run is bounded.
//
//	serveload -bin ./vendorimg [-slow 300] [-idle 200] [-at 0s,5s,40s]
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	bin := flag.String("bin", "", "the vendorimg binary to measure")
	slow := flag.Int("slow", 300, "clients that request the layer and never read")
	idle := flag.Int("idle", 200, "keep-alive clients that make one request and wait")
	at := flag.String("at", "0s,5s,40s", "when to sample, after the clients are open")
	flag.Parse()
	if *bin == "" {
		log.Fatal("serveload: -bin is required")
	}
	var offsets []time.Duration
	for _, s := range strings.Split(*at, ",") {
		d, err := time.ParseDuration(s)
		if err != nil {
			log.Fatalf("serveload: -at: %v", err)
		}
		offsets = append(offsets, d)
	}
	if err := run(*bin, *slow, *idle, offsets); err != nil {
		log.Fatalf("serveload: %v", err)
	}
}

func run(bin string, slow, idle int, offsets []time.Duration) error {
	dir, err := os.MkdirTemp("", "serveload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	reg := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	img, err := random.Image(24<<20, 1)
	if err != nil {
		return err
	}
	ref, err := name.ParseReference(host + "/load/app:1")
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img); err != nil {
		return err
	}
	pin, _ := img.Digest()
	layers, _ := img.Layers()
	layer, _ := layers[0].Digest()
	// random.Image names no platform: vendor it whole.
	yaml := fmt.Sprintf("images:\n  - ref: %s/load/app:1\n    digest: %s\n    platforms: all\n", host, pin)
	if err := os.WriteFile(filepath.Join(dir, "vendorimg.yaml"), []byte(yaml), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command(bin, "-C", dir, "-q", "sync").CombinedOutput(); err != nil {
		return fmt.Errorf("sync: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "-C", dir, "--json", "serve", "--addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	var info struct{ Addr string }
	if err := json.NewDecoder(stdout).Decode(&info); err != nil {
		return fmt.Errorf("reading serve's address: %w", err)
	}
	pid := cmd.Process.Pid
	blob := "/v2/" + host + "/load/app/blobs/" + layer.String()

	fmt.Printf("binary %s, %d slow clients, %d idle keep-alive clients, layer 24 MiB\n", bin, slow, idle)
	fmt.Printf("%-10s %8s %6s %9s %s\n", "when", "sockets", "fds", "rss_MiB", "new client")
	sample(pid, "before", "")

	opened := time.Now()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range slow {
		c, err := net.Dial("tcp", info.Addr)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", blob, info.Addr); err != nil {
			return err
		}
	}
	for range idle {
		c, err := net.Dial("tcp", info.Addr)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if _, err := fmt.Fprintf(c, "GET /v2/ HTTP/1.1\r\nHost: %s\r\n\r\n", info.Addr); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return fmt.Errorf("idle client: %w", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	start := time.Now()
	fmt.Printf("(the %d clients were open %.1f s after the first connected)\n", slow+idle, start.Sub(opened).Seconds())
	for _, off := range offsets {
		time.Sleep(time.Until(start.Add(off)))
		sample(pid, "+"+off.String(), fresh(info.Addr))
	}
	return nil
}

// fresh says whether a new client gets an answer to GET /v2/ within 5 s.
func fresh(addr string) string {
	t0 := time.Now()
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/v2/")
	if err != nil {
		return "no answer in 5s"
	}
	resp.Body.Close()
	return fmt.Sprintf("%s in %d ms", resp.Status, time.Since(t0).Milliseconds())
}

// sample prints serve's sockets, file descriptors and resident memory.
func sample(pid int, when, freshClient string) {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	sockets := 0
	for _, e := range fds {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); strings.HasPrefix(l, "socket:") {
			sockets++
		}
	}
	rss := "?"
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				var kib int
				fmt.Sscan(f[1], &kib)
				rss = fmt.Sprintf("%.1f", float64(kib)/1024)
			}
		}
	}
	fmt.Printf("%-10s %8d %6d %9s %s\n", when, sockets, len(fds), rss, freshClient)
}

package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vendorimg/vendorimg/internal/flock"
)

// podman's docker-compatible pull will not use plain http on loopback
// unless its registries.conf marks the address insecure; its own API
// (libpod) takes tlsVerify=false per pull. So Load has podman pull from
// the loopback server through libpod: 0.89-0.93 x "docker load -i" of the
// same image there, against 1.16 x for the archive, whose import podman
// starts only once it has written the whole body to a file
// (internal/testsupport/bench/FINDINGS.md, fourth round).

// libpodVersionPath is the libpod API version the pull asks for: podman
// 4 and 5 serve it.
const libpodVersionPath = "/v4.0.0/libpod"

// libpod talks podman's own API over the engine's socket.
type libpod struct {
	hc *http.Client
	// socket is the engine's socket, which names its pull lock.
	socket string
}

// pullLockPoll is how often a load waiting for another's pull tries again.
const pullLockPoll = 20 * time.Millisecond

// lock takes the engine's pull lock, held from a pull to the removal of
// its temporary name: podman names an image it pulls by rewriting the
// image's whole list of names, so that a pull of the same image by
// another vendorimg at that moment put back a temporary name this one had
// just removed (TestLoadConcurrently). The lock is a file in os.TempDir
// named after the socket, shared by the processes of the machine, and left
// there, empty.
func (lp *libpod) lock(ctx context.Context) (func() error, error) {
	sum := sha256.Sum256([]byte(lp.socket))
	file := filepath.Join(os.TempDir(), "vendorimg-pull-"+hex.EncodeToString(sum[:8])+".lock")
	release, err := flock.Wait(ctx, func() (func() error, error) { return flock.Try(file, true, true) }, pullLockPoll, nil)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", file, err)
	}
	return release, nil
}

// podmanSocket returns the path of the unix socket of this machine on
// which c talks to podman (its /_ping answers with a Libpod-Api-Version
// header), and false for any other engine or address.
func podmanSocket(ctx context.Context, c Client) (string, bool) {
	p, ok := c.(pinger)
	if !ok {
		return "", false
	}
	u, err := url.Parse(p.DaemonHost())
	if err != nil || u.Scheme != "unix" || u.Path == "" {
		return "", false
	}
	pctx, cancel := context.WithTimeout(ctx, goneTimeout)
	defer cancel()
	if ping, err := p.Ping(pctx); err != nil || ping.Libpod == "" {
		return "", false
	}
	return u.Path, true
}

// findLibpod returns a client of podman's own API when the engine c
// talks to is podman on a local socket (podmanSocket), nil otherwise.
func findLibpod(ctx context.Context, c Client) *libpod {
	sock, ok := podmanSocket(ctx, c)
	if !ok {
		return nil
	}
	return &libpod{socket: sock, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConns:    1,
		IdleConnTimeout: 30 * time.Second,
	}}}
}

// pull has podman pull ref over plain http, and reads its answer.
func (lp *libpod) pull(ctx context.Context, ref string) error {
	q := url.Values{"reference": {ref}, "tlsVerify": {"false"}, "quiet": {"true"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://podman"+libpodVersionPath+"/images/pull?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := lp.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxLoadResponse)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
			Cause   string `json:"cause"`
		}
		raw, _ := io.ReadAll(body)
		if json.Unmarshal(raw, &e) == nil && e.Message != "" {
			return fmt.Errorf("podman: %s", e.Message)
		}
		return fmt.Errorf("podman answered %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	dec := json.NewDecoder(body)
	pulled := false
	for {
		var m struct {
			Error string   `json:"error"`
			ID    string   `json:"id"`
			Image []string `json:"images"`
		}
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading podman's answer: %w", err)
		}
		if m.Error != "" {
			return fmt.Errorf("podman: %s", m.Error)
		}
		pulled = pulled || m.ID != ""
	}
	if !pulled {
		return errors.New("podman's answer to the pull names no image")
	}
	return nil
}

package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/reference"
)

// Why a client of our own rather than github.com/moby/moby/client: that
// package, with what it brings (github.com/distribution/reference, whose
// package init compiles its grammar's regexps, and OpenTelemetry), was the
// largest part of every vendorimg command's start-up, also of commands
// that never talk to an engine; this package needs ten endpoints of the
// API (internal/testsupport/bench/FINDINGS.md, fifth round).

// Environment variables NewClient reads, as the docker command does.
const (
	envHost       = "DOCKER_HOST"
	envAPIVersion = "DOCKER_API_VERSION"
	envCertPath   = "DOCKER_CERT_PATH"
	envTLSVerify  = "DOCKER_TLS_VERIFY"
)

// DefaultHost is the engine's address when DOCKER_HOST is not set.
const DefaultHost = "unix:///var/run/docker.sock"

// maxAPIVersion is the newest Engine API version APIClient asks for; an
// older engine is spoken to in its own version. minAPIVersion is the
// oldest it speaks: Engine 20.10's.
const (
	maxAPIVersion = "1.56"
	minAPIVersion = "1.41"
)

// engineBuffer is the size of APIClient's connection buffers.
const engineBuffer = 256 << 10

// maxErrorBody bounds how much of an engine's error response is read.
const maxErrorBody = 1 << 20

// APIClient is a client of the Engine API (docker's, and podman's
// docker-compatible one) over the engine's unix socket or TCP address. It
// implements WatchClient. Build one with NewClient; it is safe for
// concurrent use, and Close releases its idle connections.
type APIClient struct {
	host    string // DOCKER_HOST form: unix:///path, tcp://host:port
	base    string // URL the requests go to: http://docker or https://host:port
	hc      *http.Client
	fixed   bool // the API version was set (DOCKER_API_VERSION): no negotiation
	mu      sync.Mutex
	version string
	ping    *Ping // the engine's answer to the first /_ping
}

// Ping is the engine's answer to GET /_ping: who answers, in which API
// version.
type Ping struct {
	// APIVersion is the engine's newest API version (its Api-Version
	// header).
	APIVersion string
	// Server is the Server header: "Docker/20.10.24 (linux)" from dockerd,
	// "Libpod/4.3.1 (linux)" from podman.
	Server string
	// Libpod is podman's own API version (its Libpod-Api-Version header),
	// empty for dockerd.
	Libpod string
}

// NewClient returns a client for the docker engine the environment names,
// as the docker command finds it: DOCKER_HOST (default DefaultHost; unix://
// and tcp:// addresses), DOCKER_API_VERSION, DOCKER_CERT_PATH (ca.pem,
// cert.pem and key.pem for TLS) and DOCKER_TLS_VERIFY (verify the engine's
// certificate; without it, TLS does not check who answers, as docker).
// The API version is negotiated on the first request, down to what the
// engine speaks (1.41 for Engine 20.10), unless DOCKER_API_VERSION fixes
// it. Docker CLI contexts are not read. NewClient does not contact the
// engine; the caller closes the client.
func NewClient() (*APIClient, error) {
	host := os.Getenv(envHost)
	if host == "" {
		host = DefaultHost
	}
	c, err := newAPIClient(host, os.Getenv(envCertPath), os.Getenv(envTLSVerify) != "")
	if err != nil {
		return nil, fmt.Errorf("connecting to docker: %w", err)
	}
	if v := os.Getenv(envAPIVersion); v != "" {
		if _, ok := parseAPIVersion(v); !ok {
			return nil, fmt.Errorf("connecting to docker: %s=%q is not an API version such as %s", envAPIVersion, v, minAPIVersion)
		}
		c.version, c.fixed = strings.TrimPrefix(v, "v"), true
	}
	return c, nil
}

// newAPIClient is NewClient for the engine at host, with TLS from the
// files in certPath when it is not empty.
func newAPIClient(host, certPath string, verify bool) (*APIClient, error) {
	scheme, addr, ok := strings.Cut(host, "://")
	if !ok || addr == "" {
		return nil, fmt.Errorf("%s=%q is not an address such as %s or tcp://HOST:PORT", envHost, host, DefaultHost)
	}
	tr := &http.Transport{
		// As the docker client's own default.
		MaxIdleConns:    6,
		IdleConnTimeout: 30 * time.Second,
		// A load streams hundreds of MiB as a chunked request body, copied
		// in 32 KiB pieces: through the default 4 KiB write buffer each
		// piece is two writes to the socket (the data, then its chunk's
		// CRLF), 16,000 for 256 MiB; through 256 KiB, about 1,000. The
		// read buffer does the same for verify --daemon --deep's exports.
		WriteBufferSize: engineBuffer,
		ReadBufferSize:  engineBuffer,
	}
	c := &APIClient{host: host, hc: &http.Client{Transport: tr, CheckRedirect: noRedirect}}
	d := &net.Dialer{Timeout: 30 * time.Second}
	switch scheme {
	case "unix":
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", addr)
		}
		// The host is a name for the socket: requests carry it in Host.
		c.base = "http://docker"
	case "tcp":
		u, err := url.Parse("tcp://" + addr)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%s=%q is not an address such as tcp://HOST:PORT", envHost, host)
		}
		tr.DialContext = d.DialContext
		c.base = "http://" + u.Host + strings.TrimSuffix(u.Path, "/")
		if certPath != "" {
			cfg, err := tlsFromFiles(certPath, verify)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = cfg
			c.base = "https://" + u.Host + strings.TrimSuffix(u.Path, "/")
		}
	default:
		return nil, fmt.Errorf("%s=%q: vendorimg speaks to engines on unix:// and tcp:// addresses, not %s://", envHost, host, scheme)
	}
	return c, nil
}

// noRedirect: an engine does not redirect, and a request with a body
// (a load) cannot be sent again.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// tlsFromFiles is the TLS configuration docker builds from DOCKER_CERT_PATH:
// the CA that signed the engine's certificate and the client's key pair.
func tlsFromFiles(dir string, verify bool) (*tls.Config, error) {
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("reading the engine's CA from %s: %w", envCertPath, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("reading %s: no PEM certificate in it", filepath.Join(dir, "ca.pem"))
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, fmt.Errorf("reading the client's certificate from %s: %w", envCertPath, err)
	}
	//nolint:gosec // as docker: without DOCKER_TLS_VERIFY the engine's certificate is not checked.
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12, InsecureSkipVerify: !verify}, nil
}

// DaemonHost is the engine's address, in DOCKER_HOST form.
func (c *APIClient) DaemonHost() string { return c.host }

// Close releases the client's idle connections.
func (c *APIClient) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// ClientVersion is the API version the client speaks: the negotiated one
// once a request was made, DOCKER_API_VERSION's, or maxAPIVersion before
// the first request.
func (c *APIClient) ClientVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version == "" {
		return maxAPIVersion
	}
	return c.version
}

// Ping asks the engine who it is (GET /_ping), once: later calls return the
// first answer.
func (c *APIClient) Ping(ctx context.Context) (Ping, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ping != nil {
		return *c.ping, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/_ping", nil)
	if err != nil {
		return Ping{}, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return Ping{}, c.connError(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	p := Ping{APIVersion: resp.Header.Get("Api-Version"), Server: resp.Header.Get("Server"), Libpod: resp.Header.Get("Libpod-Api-Version")}
	if resp.StatusCode >= 400 && p.APIVersion == "" {
		return Ping{}, fmt.Errorf("asking the engine at %s who it is: it answered %s", c.host, resp.Status)
	}
	c.ping = &p
	if !c.fixed {
		v, ok := parseAPIVersion(p.APIVersion)
		switch {
		case !ok:
			// An engine that does not say: its oldest API we speak.
			c.version = minAPIVersion
		case compareVersions(v, minAPIVersion) < 0:
			return Ping{}, fmt.Errorf("the engine at %s speaks API %s; vendorimg needs %s (Engine 20.10) or newer", c.host, v, minAPIVersion)
		case compareVersions(v, maxAPIVersion) < 0:
			c.version = v
		default:
			c.version = maxAPIVersion
		}
	}
	return p, nil
}

// connectionError is a request that found no engine at the address.
type connectionError struct {
	host string
	err  error
}

func (e *connectionError) Error() string {
	return fmt.Sprintf("cannot connect to the engine at %s: %v", e.host, e.err)
}

func (e *connectionError) Unwrap() error { return e.err }

// connError marks err, a failed request, as a connectionError when no
// connection could be made.
func (c *APIClient) connError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return &connectionError{host: c.host, err: op}
	}
	return err
}

// isConnectionFailed reports whether err says that no engine answered.
func isConnectionFailed(err error) bool {
	var ce *connectionError
	return errors.As(err, &ce)
}

// APIError is an engine's refusal: its HTTP status and its message. It
// wraps errdefs' kind for the status (errdefs.IsNotFound is true for a
// 404, IsConflict for a 409).
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Message is the engine's message.
	Message string
}

func (e *APIError) Error() string {
	return "the engine answered " + strconv.Itoa(e.Status) + ": " + e.Message
}

// Unwrap gives the errdefs kind of the status.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusNotFound:
		return cerrdefs.ErrNotFound
	case http.StatusConflict:
		return cerrdefs.ErrConflict
	case http.StatusBadRequest:
		return cerrdefs.ErrInvalidArgument
	case http.StatusUnauthorized:
		return cerrdefs.ErrUnauthenticated
	case http.StatusForbidden:
		return cerrdefs.ErrPermissionDenied
	case http.StatusNotImplemented:
		return cerrdefs.ErrNotImplemented
	case http.StatusServiceUnavailable:
		return cerrdefs.ErrUnavailable
	}
	if e.Status >= 500 {
		return cerrdefs.ErrInternal
	}
	return cerrdefs.ErrUnknown
}

// apiError reads an engine's error response: {"message": "..."}, or the
// body's text.
func apiError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var m struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &APIError{Status: resp.StatusCode, Message: msg}
}

// negotiate settles the API version with the first /_ping, unless
// DOCKER_API_VERSION fixed it.
func (c *APIClient) negotiate(ctx context.Context) error {
	if c.fixed {
		return nil
	}
	_, err := c.Ping(ctx)
	return err
}

// do sends a request to the engine, in the negotiated API version, and
// returns the response of a success; a refusal is an *APIError.
func (c *APIClient) do(ctx context.Context, method, path string, query url.Values, body io.Reader, contentType string) (*http.Response, error) {
	if err := c.negotiate(ctx); err != nil {
		return nil, err
	}
	u := c.base + "/v" + c.ClientVersion() + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.connError(err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, apiError(resp)
	}
	return resp, nil
}

// getJSON decodes the answer to GET path into v.
func (c *APIClient) getJSON(ctx context.Context, path string, query url.Values, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, query, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("reading the engine's answer to %s: %w", path, err)
	}
	return nil
}

// imagePath is the API path of the image name (a tag, a digest reference
// or an ID) under /images.
func imagePath(name, suffix string) string {
	return "/images/" + name + suffix
}

// Info is GET /info.
func (c *APIClient) Info(ctx context.Context) (system.Info, error) {
	var info system.Info
	err := c.getJSON(ctx, "/info", nil, &info)
	return info, err
}

// ImageInspect is GET /images/{name}/json.
func (c *APIClient) ImageInspect(ctx context.Context, name string) (image.InspectResponse, error) {
	var ins image.InspectResponse
	if name == "" {
		return ins, &APIError{Status: http.StatusNotFound, Message: "no such image: (empty name)"}
	}
	err := c.getJSON(ctx, imagePath(name, "/json"), nil, &ins)
	return ins, err
}

// ImageList is GET /images/json: the engine's images (not the
// intermediate ones).
func (c *APIClient) ImageList(ctx context.Context) ([]image.Summary, error) {
	var list []image.Summary
	err := c.getJSON(ctx, "/images/json", nil, &list)
	return list, err
}

// ImageLoad is POST /images/load?quiet=1 with input streamed as the body.
// The response body is the engine's JSON messages; the caller closes it.
func (c *APIClient) ImageLoad(ctx context.Context, input io.Reader) (io.ReadCloser, error) {
	resp, err := c.do(ctx, http.MethodPost, "/images/load", url.Values{"quiet": {"1"}}, input, "application/x-tar")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ImageTag is POST /images/{source}/tag: target (a tag, normalised as
// docker does: "probe:1" is docker.io/library/probe:1) then names the image
// source names.
func (c *APIClient) ImageTag(ctx context.Context, source, target string) error {
	ref, err := reference.Parse(target)
	if err != nil {
		return fmt.Errorf("tagging %s: %w", source, err)
	}
	if ref.Digest != "" {
		return fmt.Errorf("tagging %s as %s: a tag cannot hold a digest", source, target)
	}
	resp, err := c.do(ctx, http.MethodPost, imagePath(source, "/tag"), url.Values{"repo": {ref.Name()}, "tag": {ref.Tag}}, nil, "")
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	return nil
}

// ImageSave is GET /images/get ("docker save") of the images names, in
// the given platforms only when there are any (API 1.48 and newer). The
// response body is the archive; the caller closes it.
func (c *APIClient) ImageSave(ctx context.Context, names []string, platforms ...ocispec.Platform) (io.ReadCloser, error) {
	q := url.Values{"names": names}
	if len(platforms) > 0 {
		if err := c.negotiate(ctx); err != nil {
			return nil, err
		}
		if v := c.ClientVersion(); compareVersions(v, "1.48") < 0 {
			return nil, fmt.Errorf("exporting %s for a platform needs API 1.48; the engine speaks %s", strings.Join(names, ", "), v)
		}
		for _, p := range platforms {
			b, err := json.Marshal(p)
			if err != nil {
				return nil, err
			}
			q.Add("platform", string(b))
		}
	}
	resp, err := c.do(ctx, http.MethodGet, "/images/get", q, nil, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ImageRemove is DELETE /images/{name}, never removing untagged parents
// (noprune); force removes an image that containers use, or that has other
// names.
func (c *APIClient) ImageRemove(ctx context.Context, name string, force bool) ([]image.DeleteResponse, error) {
	q := url.Values{"noprune": {"1"}}
	if force {
		q.Set("force", "1")
	}
	resp, err := c.do(ctx, http.MethodDelete, imagePath(name, ""), q, nil, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []image.DeleteResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("reading the engine's answer to removing %s: %w", name, err)
	}
	return out, nil
}

// Events is GET /events between since and until (the engine ends the
// answer at until): the engine's log of that window.
func (c *APIClient) Events(ctx context.Context, since, until time.Time) ([]events.Message, error) {
	resp, err := c.do(ctx, http.MethodGet, "/events", url.Values{"since": {unixNano(since)}, "until": {unixNano(until)}}, nil, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []events.Message
	dec := json.NewDecoder(resp.Body)
	for {
		var m events.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

// unixNano formats t as the engine's since and until take it.
func unixNano(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// parseAPIVersion checks an API version ("1.41", or "v1.41") and returns
// it without the v.
func parseAPIVersion(s string) (string, bool) {
	s = strings.TrimPrefix(s, "v")
	major, minor, ok := strings.Cut(s, ".")
	if !ok {
		return "", false
	}
	if _, err := strconv.ParseUint(major, 10, 16); err != nil {
		return "", false
	}
	if _, err := strconv.ParseUint(minor, 10, 16); err != nil {
		return "", false
	}
	return s, true
}

// compareVersions compares two API versions as parseAPIVersion accepts
// them: -1, 0 or 1.
func compareVersions(a, b string) int {
	am, an, _ := strings.Cut(a, ".")
	bm, bn, _ := strings.Cut(b, ".")
	x, _ := strconv.Atoi(am)
	y, _ := strconv.Atoi(bm)
	if x == y {
		x, _ = strconv.Atoi(an)
		y, _ = strconv.Atoi(bn)
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

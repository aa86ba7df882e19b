package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/reference"
)

// Client talks to registries over the distribution API: it resolves tags
// and fetches manifests and blobs by digest. It authenticates with
// credentials from a keychain (by default the docker config and its
// credential helpers, as docker does), retries passing failures, bounds
// every wait (Timeouts for a registry that stalls, RetryPolicy.MaxWait for
// one that asks to wait), tries a configured mirror before the registry
// itself, and allows plain http only for loopback or declared-insecure
// hosts.
//
// A Client makes no request until one of its methods needs the network;
// the first request to a repository pings the registry and fetches a token.
// It is safe for concurrent use.
type Client struct {
	keychain  authn.Keychain
	base      http.RoundTripper
	mirrors   map[string]string
	insecure  map[string]bool
	logger    *slog.Logger
	notice    func(string)
	retry     RetryPolicy
	timeouts  Timeouts
	userAgent string
	// optErr is what is wrong with the options given, returned by Err and
	// by every request.
	optErr error

	// sleep waits between retries (sleepCtx; tests record the waits
	// instead, so that they assert them without a clock).
	sleep func(context.Context, time.Duration) error

	mu    sync.Mutex
	repos map[string]*repoTransport
	// pings are the registries' answers to /v2/, one per host: the
	// challenge says how to authenticate, for every repository.
	pings    map[string]*ping
	fellBack map[string]bool // mirror/repository fallbacks already told
}

// Option configures a Client.
type Option func(*Client)

// WithKeychain sets where credentials come from. Default
// authn.DefaultKeychain: $DOCKER_CONFIG/config.json (or ~/.docker) and the
// credential helpers it names. Credentials are never logged or printed.
func WithKeychain(k authn.Keychain) Option { return func(c *Client) { c.keychain = k } }

// WithTransport sets the HTTP transport under authentication and retries.
// Default: a clone of http.DefaultTransport.
func WithTransport(rt http.RoundTripper) Option { return func(c *Client) { c.base = rt } }

// WithMirrors maps a registry host to a mirror host that serves the same
// repositories ("docker.io" to "registry.internal:5000"). The mirror is
// tried first; if it fails, the registry itself. Default: none.
func WithMirrors(m map[string]string) Option {
	return func(c *Client) {
		for k, v := range m {
			c.mirrors[k] = v
		}
	}
}

// WithInsecure allows plain http to the given hosts (host or host:port,
// exactly as in references). Loopback hosts are always allowed. Default:
// none.
func WithInsecure(hosts ...string) Option {
	return func(c *Client) {
		for _, h := range hosts {
			c.insecure[h] = true
		}
	}
}

// WithLogger sets the logger for requests, retries and mirror fallbacks,
// at debug level. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.logger = l } }

// WithRetry sets the retry policy; zero fields keep DefaultRetryPolicy's.
// A negative field is an error (see Client.Err).
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) {
		c.retry = p
		c.optErr = errors.Join(c.optErr, p.Validate())
	}
}

// WithTimeouts sets how long a registry may keep a request waiting (for
// its headers, for the next bytes of its body); zero fields keep
// DefaultTimeouts' (30s, 30s, 1 KiB/s).
func WithTimeouts(t Timeouts) Option { return func(c *Client) { c.timeouts = t } }

// WithNotice sets where the client tells what the person running it should
// see even when debug logs are off, one line per call: each wait a registry
// asked for with Retry-After, and a mirror that failed before the registry
// itself answered. f is called from the goroutines that make requests,
// possibly at the same time. Default: nowhere.
func WithNotice(f func(string)) Option { return func(c *Client) { c.notice = f } }

// WithUserAgent sets the User-Agent sent with every request. Default
// "vendorimg".
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// Err says what is wrong with the options the Client was made with (a
// negative RetryPolicy field), or nil. A Client with such options makes no
// request: each of its calls returns this error, which wraps
// errs.ErrInvalidOption.
func (c *Client) Err() error { return c.optErr }

// NewClient returns a Client with the given options.
func NewClient(opts ...Option) *Client {
	c := &Client{
		keychain:  authn.DefaultKeychain,
		mirrors:   map[string]string{},
		insecure:  map[string]bool{},
		logger:    slog.New(slog.DiscardHandler),
		userAgent: "vendorimg",
		repos:     map[string]*repoTransport{},
		pings:     map[string]*ping{},
		fellBack:  map[string]bool{},
		sleep:     sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	if c.base == nil {
		c.base = defaultTransport()
	}
	c.retry = c.retry.withDefaults()
	c.timeouts = c.timeouts.withDefaults()
	return c
}

// endpoints are the hosts to ask for ref's repository, in order.
func (c *Client) endpoints(ref reference.Reference) []string {
	if m, ok := c.mirrors[ref.Registry]; ok && m != ref.Registry {
		return []string{m, ref.Registry}
	}
	return []string{ref.Registry}
}

// apiHost is the host that serves the distribution API for a registry
// name: Docker Hub's API is not at docker.io.
func apiHost(host string) string {
	if host == reference.DockerHub {
		return name.DefaultRegistry // index.docker.io
	}
	return host
}

type repoTransport struct {
	once   sync.Once
	rt     http.RoundTripper
	err    error
	host   string
	prefix string // https://host/v2/repo
}

// transport returns the authenticated transport for repo on host, pinging
// the registry and fetching a token on first use.
func (c *Client) transport(ctx context.Context, host, repo string) (*repoTransport, error) {
	return c.scopedTransport(ctx, host, repo, host+"/"+repo, []string{"repository:" + repo + ":" + transport.PullScope})
}

// scopedTransport is transport for a token with the given scopes, cached
// under key.
func (c *Client) scopedTransport(ctx context.Context, host, repo, key string, scopes []string) (*repoTransport, error) {
	if c.optErr != nil {
		return nil, c.optErr
	}
	c.mu.Lock()
	r, ok := c.repos[key]
	if !ok {
		r = &repoTransport{host: host, prefix: "https://" + apiHost(host) + "/v2/" + repo}
		c.repos[key] = r
	}
	c.mu.Unlock()
	r.once.Do(func() {
		r.rt, r.err = c.newTransport(ctx, host, repo, scopes)
	})
	if r.err != nil {
		// Let a later call try again rather than caching a passing failure.
		c.mu.Lock()
		if c.repos[key] == r {
			delete(c.repos, key)
		}
		c.mu.Unlock()
	}
	return r, r.err
}

func (c *Client) newTransport(ctx context.Context, host, repo string, scopes []string) (http.RoundTripper, error) {
	var nameOpts []name.Option
	if c.insecure[host] || IsLoopback(host) {
		// Lets go-containerregistry fall back to http after https; the
		// policy transport still has the last word.
		nameOpts = append(nameOpts, name.Insecure)
	}
	reg, err := name.NewRegistry(apiHost(host), nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("%w: registry %q: %v", errs.ErrInvalidReference, host, err)
	}
	auth, err := authn.Resolve(ctx, c.keychain, reg)
	if err != nil {
		// A failing credential helper's error carries its whole output,
		// which may be its answer with the secret (docker's helper client
		// quotes it): name the source, never show what it said, not even
		// in the debug log.
		c.logger.Debug("reading credentials failed", "host", host)
		return nil, fmt.Errorf("reading credentials for %s: %w (%s): it failed, and what it printed is not shown, since it may hold the secret", host, errs.ErrCredentials, c.credentialSource(host))
	}
	inner := &retryTransport{
		inner: &timeoutTransport{
			inner:    &policyTransport{inner: c.base, insecure: c.insecure},
			timeouts: c.timeouts,
		},
		policy: c.retry,
		logger: c.logger,
		notice: c.notice,
		sleep:  c.sleep,
	}
	ua := transport.NewUserAgent(inner, c.userAgent)
	var rt http.RoundTripper
	pr, err := c.ping(ctx, host, reg, ua)
	switch {
	case err != nil:
	case IsLoopback(host):
		// Our own token fetch, which allows a token server on another
		// loopback port (see auth.go).
		rt, err = loopbackTransport(ctx, reg, auth, scopes, ua, pr)
	default:
		rt, err = challengeTransport(ctx, reg, auth, scopes, ua, pr)
	}
	if err != nil {
		c.logger.Debug("connecting failed", "host", host, "repository", repo, "error", err)
		var te *transport.Error
		if errors.As(err, &te) {
			return nil, c.explain(host, repo, "", err)
		}
		return nil, fmt.Errorf("connecting to %s: %w", host, err)
	}
	return rt, nil
}

// ping is one host's answer to /v2/, asked once.
type ping struct {
	done      chan struct{}
	challenge *transport.Challenge
	err       error
}

// ping asks host's /v2/ how to authenticate, once per host for every
// repository: a sync of a hundred images of one registry pings it once,
// not a hundred times. A failure is not kept: the next repository asks
// again.
func (c *Client) ping(ctx context.Context, host string, reg name.Registry, rt http.RoundTripper) (*transport.Challenge, error) {
	c.mu.Lock()
	p, ok := c.pings[host]
	if !ok {
		p = &ping{done: make(chan struct{})}
		c.pings[host] = p
	}
	c.mu.Unlock()
	if !ok {
		p.challenge, p.err = transport.Ping(ctx, reg, rt)
		if p.err != nil {
			c.mu.Lock()
			delete(c.pings, host)
			c.mu.Unlock()
		}
		close(p.done)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return p.challenge, p.err
}

// get sends a GET or HEAD for path under ref's repository to each endpoint
// in turn and returns the first 200 response. Its errors say what was
// asked of whom (see explain); with a mirror, the mirror's answer leads,
// and a mirror that failed before its registry answered is told once per
// repository through the notice callback.
func (c *Client) get(ctx context.Context, method string, ref reference.Reference, path string, accept []string) (*http.Response, string, error) {
	var failures []error
	hosts := c.endpoints(ref)
	for i, host := range hosts {
		resp, err := c.getFrom(ctx, method, host, ref.Repository, path, accept)
		if err == nil {
			if i > 0 {
				c.noticeFallback(hosts[0], host, ref.Repository, failures[0])
			}
			return resp, host, nil
		}
		if ctx.Err() != nil {
			return nil, "", err
		}
		failures = append(failures, err)
		if i == 0 && len(hosts) > 1 {
			c.logger.Debug("mirror failed, trying the registry", "mirror", host, "registry", ref.Registry, "error", err)
		}
	}
	return nil, "", leadError(hosts, failures)
}

// noticeFallback tells, once per mirror and repository, that the mirror
// failed and the registry answered instead.
func (c *Client) noticeFallback(mirror, registry, repo string, err error) {
	if c.notice == nil {
		return
	}
	key := mirror + "/" + repo
	c.mu.Lock()
	seen := c.fellBack[key]
	c.fellBack[key] = true
	c.mu.Unlock()
	if !seen {
		c.notice(fmt.Sprintf("mirror %s failed (%v), using %s", mirror, err, registry))
	}
}

func (c *Client) getFrom(ctx context.Context, method, host, repo, path string, accept []string) (*http.Response, error) {
	r, err := c.transport(ctx, host, repo)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp, err := r.do(ctx, method, path, accept)
	if err != nil {
		return nil, c.explain(host, repo, path, err)
	}
	c.logger.Debug("request", "method", method, "host", host, "repository", repo, "path", path, "status", resp.StatusCode, "elapsed", time.Since(start))
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	detail := transport.CheckError(resp, http.StatusOK)
	resp.Body.Close()
	c.logger.Debug("registry answered", "method", method, "host", host, "repository", repo, "path", path, "status", resp.StatusCode, "detail", detail.Error())
	if resp.StatusCode == http.StatusNotFound && strings.HasPrefix(path, "/manifests/") && c.repositoryUnknown(ctx, r, host, repo) {
		detail = &transport.Error{StatusCode: http.StatusNotFound, Errors: []transport.Diagnostic{{Code: transport.NameUnknownErrorCode}}, Request: resp.Request}
	}
	return nil, c.explain(host, repo, path, detail)
}

// repositoryUnknown asks whether a manifest's 404 means that the whole
// repository is unknown: a manifest's 404 does not say (distribution
// answers MANIFEST_UNKNOWN either way, and a HEAD has no body), the tag
// list's does (NAME_UNKNOWN). One request, only after a 404.
func (c *Client) repositoryUnknown(ctx context.Context, r *repoTransport, host, repo string) bool {
	resp, err := r.do(ctx, http.MethodGet, "/tags/list?n=1", nil)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return false
	}
	var te *transport.Error
	if !errors.As(transport.CheckError(resp, http.StatusOK), &te) {
		return false
	}
	c.logger.Debug("registry answered", "method", http.MethodGet, "host", host, "repository", repo, "path", "/tags/list", "status", resp.StatusCode, "detail", te.Error())
	return hasCode(te, transport.NameUnknownErrorCode)
}

// do sends one request for path under the repository.
func (r *repoTransport) do(ctx context.Context, method, path string, accept []string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.prefix+path, nil)
	if err != nil {
		return nil, err
	}
	if len(accept) > 0 {
		req.Header.Set("Accept", strings.Join(accept, ", "))
	}
	return (&http.Client{Transport: r.rt}).Do(req)
}

// Resolve returns the descriptor of the manifest or index ref's tag points
// to, as the registry serves it: its digest is what vendorimg pins. It
// sends a HEAD request, and a GET (whose body it hashes) only if the HEAD
// response lacks a usable digest. A reference that already has a digest is
// resolved by that digest.
func (c *Client) Resolve(ctx context.Context, ref reference.Reference) (ocispec.Descriptor, error) {
	target := ref.Tag
	if ref.Digest != "" {
		target = ref.Digest.String()
	}
	resp, host, err := c.get(ctx, http.MethodHead, ref, "/manifests/"+target, manifest.Accept)
	if err != nil {
		return ocispec.Descriptor{}, err // says which tag of which repository
	}
	resp.Body.Close()
	d, derr := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	mt := mediaTypeOf(resp)
	if derr == nil && manifest.CheckDigest(d) == nil && resp.ContentLength > 0 && manifest.IsWalkable(mt) &&
		(ref.Digest == "" || d == ref.Digest) {
		return ocispec.Descriptor{MediaType: mt, Digest: d, Size: resp.ContentLength}, nil
	}
	c.logger.Debug("HEAD gave no usable digest; fetching the manifest", "reference", ref.String(), "host", host)
	raw, mt, err := c.fetchManifest(ctx, ref, target)
	if err != nil {
		return ocispec.Descriptor{}, withContext(err, "resolving %s", ref)
	}
	got := digest.FromBytes(raw)
	if ref.Digest != "" && got != ref.Digest {
		return ocispec.Descriptor{}, fmt.Errorf("resolving %s: %w: registry served bytes hashing to %s", ref, errs.ErrDigestMismatch, got)
	}
	n, err := manifest.Parse(mt, raw)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("resolving %s: %w", ref, err)
	}
	return ocispec.Descriptor{MediaType: n.MediaType, Digest: got, Size: int64(len(raw))}, nil
}

// Manifest fetches the manifest or index d from ref's repository and
// returns its bytes exactly as served, after checking that they hash to d,
// with the media type the registry gave it.
func (c *Client) Manifest(ctx context.Context, ref reference.Reference, d digest.Digest) ([]byte, string, error) {
	if err := manifest.CheckDigest(d); err != nil {
		return nil, "", err
	}
	raw, mt, err := c.fetchManifest(ctx, ref, d.String())
	if err != nil {
		return nil, "", withContext(err, "fetching manifest %s of %s", d, ref.Name())
	}
	if got := digest.FromBytes(raw); got != d {
		return nil, "", fmt.Errorf("fetching manifest %s of %s: %w: the registry served bytes hashing to %s", d, ref.Name(), errs.ErrDigestMismatch, got)
	}
	return raw, mt, nil
}

// fetchManifest GETs a manifest and reads it whole, starting again (up to
// RetryPolicy.Attempts times) when the body is cut short or stalls: the
// transport retries what fails before the body, not the body itself.
func (c *Client) fetchManifest(ctx context.Context, ref reference.Reference, target string) ([]byte, string, error) {
	for try := 1; ; try++ {
		raw, mt, err := c.fetchManifestOnce(ctx, ref, target)
		if err == nil || !errors.Is(err, errBody) || !Transient(err) || try >= c.retry.Attempts || ctx.Err() != nil {
			return raw, mt, err
		}
		c.logger.Debug("manifest body failed, fetching it again", "reference", ref.String(), "target", target, "try", try+1, "error", err)
	}
}

// errBody marks an error met while reading a body, after the response
// headers.
var errBody = errors.New("reading the body")

func (c *Client) fetchManifestOnce(ctx context.Context, ref reference.Reference, target string) ([]byte, string, error) {
	resp, _, err := c.get(ctx, http.MethodGet, ref, "/manifests/"+target, manifest.Accept)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.ContentLength > manifest.MaxManifestSize {
		return nil, "", fmt.Errorf("manifest of %d bytes: %w (limit %d)", resp.ContentLength, errs.ErrTooLarge, manifest.MaxManifestSize)
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, manifest.MaxManifestSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("%w of manifest %s: %w", errBody, target, err)
	}
	if n > manifest.MaxManifestSize {
		return nil, "", fmt.Errorf("manifest: %w (more than %d bytes)", errs.ErrTooLarge, manifest.MaxManifestSize)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return nil, "", fmt.Errorf("reading manifest body: %w: %d of %d bytes", errs.ErrSizeMismatch, n, resp.ContentLength)
	}
	return buf.Bytes(), mediaTypeOf(resp), nil
}

// Blob opens the blob desc of ref's repository for streaming. The caller
// hashes what it reads (layout.WriteBlob does) and closes it. A
// Content-Length that disagrees with desc.Size is refused before any byte
// is read.
func (c *Client) Blob(ctx context.Context, ref reference.Reference, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := manifest.CheckDigest(desc.Digest); err != nil {
		return nil, err
	}
	resp, _, err := c.get(ctx, http.MethodGet, ref, "/blobs/"+desc.Digest.String(), nil)
	if err != nil {
		return nil, err // says which blob of which repository
	}
	if resp.ContentLength >= 0 && resp.ContentLength != desc.Size {
		resp.Body.Close()
		return nil, fmt.Errorf("fetching blob %s of %s: %w: the registry announces %d bytes, the manifest says %d", desc.Digest, ref.Name(), errs.ErrSizeMismatch, resp.ContentLength, desc.Size)
	}
	return resp.Body, nil
}

// withContext wraps err with the context format says, unless err already
// says what was asked of whom (an error of get).
func withContext(err error, format string, args ...any) error {
	var re *responseError
	var qe *requestError
	var me *mirrorError
	if errors.As(err, &re) || errors.As(err, &qe) || errors.As(err, &me) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

func mediaTypeOf(resp *http.Response) string {
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	return ct
}

// defaultTransport is a clone of http.DefaultTransport, or, when a program
// replaced it with a transport of another type (as tracing libraries do),
// a transport with the same settings: the client never panics on what
// another package did to a global.
func defaultTransport() *http.Transport {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

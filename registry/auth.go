package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Authentication to a registry on a loopback address. go-containerregistry
// (pkg/v1/remote/transport, validateRealmURL) refuses a token realm on a
// private, link-local or loopback address unless it is the registry's own
// host:port: a guard against a registry sending credentials into the
// network it is called from. A registry on this machine whose token
// server listens on another local port (how distribution's token auth is
// usually deployed for tests and CI) is then unusable. For a loopback
// registry the client pings with go-containerregistry as before and, if
// the challenge is bearer, checks the realm with checkRealm and fetches
// the token itself. Every other registry keeps go-containerregistry's flow
// and its guard.

// checkRealm says whether credentials for the registry at registryHost may
// be sent to the token realm it named. https is allowed and http is left to
// the plain-http policy (loopback or declared hosts only); the registry's
// own host:port is always allowed; a loopback realm only for a loopback
// registry; a private, link-local or unspecified address never; other
// hosts (public names and addresses) are allowed, as docker allows them
// (Docker Hub's realm is auth.docker.io).
func checkRealm(registryHost, realm string) (*url.URL, error) {
	u, err := url.Parse(realm)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%s sent a bearer challenge without a usable realm (%q)", registryHost, realm)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("refusing the token realm %s of %s: scheme %q (want https, or http)", redactRealm(u), registryHost, u.Scheme)
	}
	if u.Host == registryHost {
		return u, nil
	}
	if IsLoopback(u.Host) {
		if IsLoopback(registryHost) {
			return u, nil
		}
		return nil, fmt.Errorf("refusing the token realm %s of %s: a registry not on this machine may not send credentials to a loopback address", redactRealm(u), registryHost)
	}
	if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil &&
		(a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsUnspecified()) {
		return nil, fmt.Errorf("refusing the token realm %s of %s: credentials are not sent to a private or link-local address", redactRealm(u), registryHost)
	}
	return u, nil
}

// redactRealm is the realm's URL without its query and user info.
func redactRealm(u *url.URL) string {
	v := *u
	v.RawQuery, v.User = "", nil
	return v.String()
}

// loopbackTransport is newTransport for a registry on a loopback address:
// one ping, then go-containerregistry's basic transport or our bearer one.
func loopbackTransport(ctx context.Context, reg name.Registry, auth authn.Authenticator, scopes []string, inner http.RoundTripper, pr *transport.Challenge) (http.RoundTripper, error) {
	scheme := "https"
	if pr.Insecure {
		scheme = "http"
	}
	host := reg.RegistryStr()
	st := &schemeTransport{host: host, scheme: scheme, inner: inner}
	if !strings.EqualFold(pr.Scheme, "bearer") {
		// No challenge, or basic: go-containerregistry's transport, which
		// sends the credentials to host alone. (No token is involved.)
		return transport.FromToken(reg, auth, st, pr, nil)
	}
	realm, err := checkRealm(host, pr.Parameters["realm"])
	if err != nil {
		return nil, err
	}
	bt := &bearerTransport{inner: st, host: host, auth: auth, realm: realm, service: pr.Parameters["service"], scopes: scopes}
	if err := bt.refresh(ctx); err != nil {
		return nil, err
	}
	return bt, nil
}

// schemeTransport sends requests for the registry's host with the scheme
// its ping answered on (http for a plain-http loopback registry); requests
// for other hosts (a token server, blob storage) keep theirs.
type schemeTransport struct {
	host, scheme string
	inner        http.RoundTripper
}

func (t *schemeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host || req.URL.Scheme == t.scheme {
		return t.inner.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.URL.Scheme = t.scheme
	return t.inner.RoundTrip(r)
}

// maxTokenResponse bounds what is read of a token server's answer.
const maxTokenResponse = 64 << 10

// bearerTransport adds a bearer token to the requests for host, and to no
// other: a redirect to blob storage carries no credentials. The token
// comes from the realm, asked with the registry's credentials (basic, or
// an identity token) on the realm's host alone; a 401 from host fetches
// a new one once.
type bearerTransport struct {
	inner   http.RoundTripper
	host    string
	auth    authn.Authenticator
	realm   *url.URL
	service string
	scopes  []string

	mu    sync.Mutex
	token string
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host {
		return t.inner.RoundTrip(req)
	}
	t.mu.Lock()
	token := t.token
	t.mu.Unlock()
	resp, err := t.send(req, token)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || (req.Body != nil && req.Body != http.NoBody) {
		return resp, err
	}
	// The token expired (or never was): a new one, once.
	resp.Body.Close()
	if err := t.refresh(req.Context()); err != nil {
		return nil, err
	}
	t.mu.Lock()
	token = t.token
	t.mu.Unlock()
	return t.send(req, token)
}

func (t *bearerTransport) send(req *http.Request, token string) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	return t.inner.RoundTrip(r)
}

// refresh fetches a token for the transport's scopes (pull, or pull and
// push).
func (t *bearerTransport) refresh(ctx context.Context) error {
	cfg, err := authn.Authorization(ctx, t.auth)
	if err != nil {
		return fmt.Errorf("reading credentials for %s: %w", t.host, err)
	}
	if cfg.RegistryToken != "" {
		t.setToken(cfg.RegistryToken)
		return nil
	}
	u := *t.realm
	q := u.Query()
	if t.service != "" {
		q.Set("service", t.service)
	}
	q["scope"] = t.scopes
	var req *http.Request
	if cfg.IdentityToken != "" {
		// An identity token (docker login to a registry with OAuth) is
		// exchanged with the OAuth2 refresh-token grant.
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cfg.IdentityToken}, "client_id": {"vendorimg"}, "scope": {strings.Join(t.scopes, " ")}}
		if t.service != "" {
			form.Set("service", t.service)
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		u.RawQuery = q.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	}
	if err != nil {
		return err
	}
	client := &http.Client{
		Transport: &realmAuth{inner: t.inner, host: t.realm.Host, cfg: cfg},
		// The credentials (or the identity token in a POST's form) go to the
		// realm's host:port alone: a redirect elsewhere is refused.
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if r.URL.Host != t.realm.Host || len(via) >= 10 {
				return fmt.Errorf("refusing the token server's redirect from %s to %s", t.realm.Host, r.URL.Host)
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return err
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxTokenResponse)).Decode(&tok); err != nil {
		return fmt.Errorf("reading the token from %s: %w", t.realm.Host, err)
	}
	token := tok.Token
	if token == "" {
		token = tok.AccessToken
	}
	if token == "" {
		return fmt.Errorf("the token server %s sent no token", t.realm.Host)
	}
	t.setToken(token)
	return nil
}

func (t *bearerTransport) setToken(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.token = s
}

// realmAuth adds the registry's basic credentials to requests for the
// realm's host:port, and to no other (not to a host the token server
// redirects to).
type realmAuth struct {
	inner http.RoundTripper
	host  string
	cfg   *authn.AuthConfig
}

func (t *realmAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host || req.Method != http.MethodGet {
		return t.inner.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	switch {
	case t.cfg.Username != "" && t.cfg.Password != "":
		r.SetBasicAuth(t.cfg.Username, t.cfg.Password)
	case t.cfg.Auth != "":
		r.Header.Set("Authorization", "Basic "+t.cfg.Auth)
	}
	return t.inner.RoundTrip(r)
}

// challengeTransport is newTransport for any other registry, from the
// host's ping answer: go-containerregistry's basic or bearer transport (with
// its realm guard), its token for scope fetched now, and the scheme the
// ping answered on.
func challengeTransport(ctx context.Context, reg name.Registry, auth authn.Authenticator, scopes []string, inner http.RoundTripper, pr *transport.Challenge) (http.RoundTripper, error) {
	scheme := "https"
	if pr.Insecure {
		scheme = "http"
	}
	st := &schemeTransport{host: reg.RegistryStr(), scheme: scheme, inner: inner}
	if !strings.EqualFold(pr.Scheme, "bearer") {
		return transport.FromToken(reg, auth, st, pr, nil)
	}
	tok, err := transport.Exchange(ctx, reg, auth, st, scopes, pr)
	if err != nil {
		return nil, err
	}
	return transport.FromToken(reg, auth, st, pr, tok)
}

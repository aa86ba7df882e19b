package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/reference"
)

// The push side of the client: what vendorimg push sends. Requests go to
// the named registry only (never a mirror), with a token scoped to pull
// and push on the repository (and pull on the repository a blob is
// mounted from).

// pushTransport is the authenticated transport for pushing to repo on
// host, with pull access to the from repositories for mounts.
func (c *Client) pushTransport(ctx context.Context, host, repo string, from ...string) (*repoTransport, error) {
	scopes := []string{"repository:" + repo + ":" + transport.PullScope + "," + transport.PushScope}
	key := host + "/" + repo + "#push"
	for _, f := range from {
		if f != repo {
			scopes = append(scopes, "repository:"+f+":"+transport.PullScope)
			key += "+" + f
		}
	}
	return c.scopedTransport(ctx, host, repo, key, scopes)
}

// send sends one request to ref's registry with the push transport and
// returns the response when its status is one of want; otherwise the
// registry's error, classified.
func (c *Client) send(ctx context.Context, r *repoTransport, method, rawURL string, body io.Reader, size int64, header http.Header, want ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := (&http.Client{Transport: r.rt}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, redactURL(req), err)
	}
	c.logger.Debug("request", "method", method, "host", r.host, "path", req.URL.Path, "status", resp.StatusCode, "elapsed", time.Since(start))
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	// The registry's answer, explained as for pulls: what, of which
	// repository, and whose credentials when it is a 401 or 403.
	_, repo, _ := strings.Cut(r.prefix, "/v2/")
	path := strings.TrimPrefix(req.URL.Path, "/v2/"+repo)
	if path == "" {
		path = "/"
	}
	return nil, c.explain(r.host, repo, path, transport.CheckError(resp, want...))
}

// HasBlob reports whether ref's repository has the blob d (a HEAD).
func (c *Client) HasBlob(ctx context.Context, ref reference.Reference, d digest.Digest) (bool, error) {
	r, err := c.pushTransport(ctx, ref.Registry, ref.Repository)
	if err != nil {
		return false, err
	}
	resp, err := c.send(ctx, r, http.MethodHead, r.prefix+"/blobs/"+d.String(), nil, 0, nil, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, fmt.Errorf("checking blob %s in %s: %w", d, ref.Name(), err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// HasManifest returns the digest that ref's tag or digest names in its
// repository (a HEAD), or "" when the registry has none.
func (c *Client) HasManifest(ctx context.Context, ref reference.Reference, target string) (digest.Digest, error) {
	r, err := c.pushTransport(ctx, ref.Registry, ref.Repository)
	if err != nil {
		return "", err
	}
	h := http.Header{"Accept": {strings.Join(manifest.Accept, ", ")}}
	resp, err := c.send(ctx, r, http.MethodHead, r.prefix+"/manifests/"+target, nil, 0, h, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return "", fmt.Errorf("checking manifest %s in %s: %w", target, ref.Name(), err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return "", nil
	}
	d, err := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		// A registry that does not say: the manifest is there, of unknown digest.
		return "unknown", nil
	}
	return d, nil
}

// MountBlob asks ref's registry to mount blob d from the repository from
// (same registry) into ref's repository, and reports whether it did. When
// the registry declines, the upload it started instead is abandoned: the
// caller uploads the blob.
func (c *Client) MountBlob(ctx context.Context, ref reference.Reference, d digest.Digest, from string) (bool, error) {
	r, err := c.pushTransport(ctx, ref.Registry, ref.Repository, from)
	if err != nil {
		return false, err
	}
	q := url.Values{"mount": {d.String()}, "from": {from}}
	resp, err := c.send(ctx, r, http.MethodPost, r.prefix+"/blobs/uploads/?"+q.Encode(), bytes.NewReader(nil), 0, nil, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return false, fmt.Errorf("mounting blob %s from %s into %s: %w", d, from, ref.Name(), err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusCreated, nil
}

// PushBlob uploads blob desc to ref's repository from r, which must yield
// exactly desc.Size bytes (the caller hashes them: a reader that fails at
// its end aborts the upload). It is a monolithic upload: POST for an
// upload location, then one PUT with the bytes and the digest, which the
// registry checks.
func (c *Client) PushBlob(ctx context.Context, ref reference.Reference, desc ocispec.Descriptor, body io.Reader) error {
	if err := manifest.CheckDigest(desc.Digest); err != nil {
		return err
	}
	r, err := c.pushTransport(ctx, ref.Registry, ref.Repository)
	if err != nil {
		return err
	}
	fail := func(err error) error { return fmt.Errorf("uploading blob %s to %s: %w", desc.Digest, ref.Name(), err) }
	resp, err := c.send(ctx, r, http.MethodPost, r.prefix+"/blobs/uploads/", bytes.NewReader(nil), 0, nil, http.StatusAccepted)
	if err != nil {
		return fail(err)
	}
	resp.Body.Close()
	loc, err := location(resp)
	if err != nil {
		return fail(err)
	}
	q := loc.Query()
	q.Set("digest", desc.Digest.String())
	loc.RawQuery = q.Encode()
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	resp, err = c.send(ctx, r, http.MethodPut, loc.String(), body, desc.Size, h, http.StatusCreated)
	if err != nil {
		return fail(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != desc.Digest.String() {
		return fail(fmt.Errorf("%w: the registry stored %s", errs.ErrDigestMismatch, got))
	}
	return nil
}

// location is an upload's Location header, resolved against the request.
func location(resp *http.Response) (*url.URL, error) {
	l := resp.Header.Get("Location")
	if l == "" {
		return nil, fmt.Errorf("the registry answered %s without a Location header", resp.Status)
	}
	u, err := url.Parse(l)
	if err != nil {
		return nil, fmt.Errorf("the registry's upload location %q: %w", l, err)
	}
	return resp.Request.URL.ResolveReference(u), nil
}

// PushManifest stores raw, exactly these bytes, as a manifest of
// mediaType in ref's repository under target (a tag, or raw's digest),
// and checks that the registry names it by raw's digest. The error wraps
// ErrManifestRefused when the registry rejects the document itself (a 400,
// as the distribution registry answers an index whose listed manifests it
// lacks) rather than the request.
func (c *Client) PushManifest(ctx context.Context, ref reference.Reference, target, mediaType string, raw []byte) error {
	r, err := c.pushTransport(ctx, ref.Registry, ref.Repository)
	if err != nil {
		return err
	}
	want := digest.FromBytes(raw)
	h := http.Header{"Content-Type": {mediaType}}
	resp, err := c.send(ctx, r, http.MethodPut, r.prefix+"/manifests/"+target, bytes.NewReader(raw), int64(len(raw)), h, http.StatusCreated, http.StatusOK)
	if err != nil {
		var te *transport.Error
		if asTransportError(err, &te) && te.StatusCode == http.StatusBadRequest {
			return fmt.Errorf("pushing manifest %s to %s:%s: %w: %w", want, ref.Name(), target, ErrManifestRefused, err)
		}
		return fmt.Errorf("pushing manifest %s to %s:%s: %w", want, ref.Name(), target, err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != want.String() {
		return fmt.Errorf("pushing manifest %s to %s:%s: %w: the registry stored %s", want, ref.Name(), target, errs.ErrDigestMismatch, got)
	}
	return nil
}

// ErrManifestRefused: the registry refused a manifest's content (HTTP
// 400), for instance an index that lists manifests it does not have.
var ErrManifestRefused = errors.New("the registry refused the manifest")

// Codes are the distribution API error codes in err, if it is a
// registry's error answer.
func Codes(err error) []string {
	var te *transport.Error
	if !asTransportError(err, &te) {
		return nil
	}
	var out []string
	for _, d := range te.Errors {
		out = append(out, string(d.Code))
	}
	return out
}

func asTransportError(err error, te **transport.Error) bool { return errors.As(err, te) }

// ServerFailed reports whether err is a registry's answer that another
// try may not get: 429 or a 5xx. Requests with a body (a blob's PUT) are
// not retried by the client itself, since the body cannot be sent twice;
// their caller starts them again.
func ServerFailed(err error) bool {
	var te *transport.Error
	return asTransportError(err, &te) && (te.StatusCode == http.StatusTooManyRequests || te.StatusCode >= 500)
}

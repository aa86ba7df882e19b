package registry

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/vendorimg/vendorimg/errs"
)

// responseError is a registry's refusal in words: what was not found
// where, or who refused which credentials. It matches its sentinel
// (errs.ErrNotFound, errs.ErrUnauthorized) and keeps the HTTP detail (a
// *transport.Error) in its chain for errors.As, out of its message: the
// client logs that at debug level.
type responseError struct {
	msg    string
	kind   error
	detail error
}

func (e *responseError) Error() string { return e.msg }

func (e *responseError) Unwrap() []error {
	var out []error
	for _, err := range []error{e.kind, e.detail} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// requestError is a request that got no answer (a refused connection, a
// timeout, the plain-http policy): what was asked of whom, and why it
// failed, without the URL go-containerregistry and net/http put in front.
type requestError struct {
	what, repo string
	err        error
}

func (e *requestError) Error() string {
	return fmt.Sprintf("requesting %s from %s: %v", e.what, e.repo, e.err)
}

func (e *requestError) Unwrap() error { return e.err }

// withoutURL is err without the *url.Error that repeats the method and URL.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// target says in words what path asks for: "tag 1", "manifest sha256:…",
// "blob sha256:…".
func target(path string) string {
	switch {
	case strings.HasPrefix(path, "/manifests/sha256:"):
		return "manifest " + strings.TrimPrefix(path, "/manifests/")
	case strings.HasPrefix(path, "/manifests/"):
		return "tag " + strings.TrimPrefix(path, "/manifests/")
	case strings.HasPrefix(path, "/blobs/"):
		return "blob " + strings.TrimPrefix(path, "/blobs/")
	case path == "":
		return "the API root"
	}
	return strings.TrimPrefix(path, "/")
}

// hasCode reports whether the registry's error body names code.
func hasCode(te *transport.Error, code transport.ErrorCode) bool {
	for _, d := range te.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// explain turns an error from go-containerregistry's transport, met while
// asking host (a name as in references, the mirror's or the registry's)
// for path under repo, into a responseError in words, and any other into
// a requestError. A *transport.Error from another host than the registry's
// API host is the token server's.
func (c *Client) explain(host, repo, path string, err error) error {
	what, full := target(path), host+"/"+repo
	var te *transport.Error
	if !errors.As(err, &te) {
		return &requestError{what: what, repo: full, err: withoutURL(err)}
	}
	if te.Request != nil && te.Request.URL.Host != apiHost(host) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return &responseError{kind: errs.ErrUnauthorized, detail: te,
			msg: fmt.Sprintf("unauthorized: the token server %s refused the credentials for %s (%s)", te.Request.URL.Host, host, c.credentialSource(host))}
	}
	switch {
	case path == "" && te.StatusCode != http.StatusUnauthorized && te.StatusCode != http.StatusForbidden:
		// The ping: whatever answers there is not a registry we can use.
		return &responseError{detail: te, msg: fmt.Sprintf("%s answered %d %s to GET /v2/, the registry API's root: is it a registry?", host, te.StatusCode, http.StatusText(te.StatusCode))}
	case hasCode(te, transport.NameUnknownErrorCode):
		return &responseError{kind: errs.ErrNotFound, detail: te, msg: fmt.Sprintf("repository %s not found", full)}
	case te.StatusCode == http.StatusNotFound:
		return &responseError{kind: errs.ErrNotFound, detail: te, msg: fmt.Sprintf("%s not found in %s", what, full)}
	case te.StatusCode == http.StatusUnauthorized:
		return &responseError{kind: errs.ErrUnauthorized, detail: te,
			msg: fmt.Sprintf("unauthorized: %s refused access to %s (%s)", host, repo, c.credentialSource(host))}
	case te.StatusCode == http.StatusForbidden:
		return &responseError{kind: errs.ErrUnauthorized, detail: te,
			msg: fmt.Sprintf("unauthorized: %s denied access to %s (%s)", host, repo, c.credentialSource(host))}
	}
	return &responseError{detail: te, msg: fmt.Sprintf("%s answered %d %s for %s of %s", host, te.StatusCode, http.StatusText(te.StatusCode), what, full)}
}

// mirrorError is a request that failed on the mirror and on the registry:
// the first answer a registry gave leads (the mirror's, unless it did not
// answer at all), and the other failure follows in parentheses. It
// matches what the leading error matches.
type mirrorError struct {
	lead  error
	other string
}

func (e *mirrorError) Error() string { return e.lead.Error() + " (" + e.other + ")" }
func (e *mirrorError) Unwrap() error { return e.lead }

// leadError combines the failures of a mirror (first) and its registry.
func leadError(hosts []string, failures []error) error {
	if len(failures) == 1 {
		return failures[0]
	}
	lead := 0
	var re *responseError
	if !errors.As(failures[0], &re) && errors.As(failures[1], &re) {
		lead = 1
	}
	other := 1 - lead
	role := "the registry " + hosts[1] + " failed too"
	if other == 0 {
		role = "the mirror " + hosts[0] + " failed first"
	}
	return &mirrorError{lead: failures[lead], other: role + ": " + failures[other].Error()}
}

package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/reference"
)

// Options configure New.
type Options struct {
	// Names are the index.json names to serve (vendorimg.yaml's images);
	// a name index.json lacks is an error. Default nil: every entry of
	// index.json.
	Names []string
	// Pins are the pins of Names, by name: a name with no entry of its own
	// is served from an entry another tool wrote for its pin (see
	// layout.Lookup). Default nil: names are looked up by name only.
	Pins map[string]digest.Digest
	// Logger receives a line per request at info level, and at error level
	// every blob whose bytes on disk are wrong. Default: discard.
	Logger *slog.Logger
	// WriteTimeout, if positive, bounds each write of a response: the
	// client must take each 256 KiB of a blob (and each smaller response)
	// within it, or its connection is cut (http.ResponseController's
	// write deadline; a ResponseWriter without one is not bounded).
	// Default 0: no bound (Run sets DefaultWriteTimeout).
	WriteTimeout time.Duration
}

// Handler is the read-only distribution API over one layout. It is safe
// for concurrent use.
type Handler struct {
	layout *layout.Layout
	cat    *catalog
	logger *slog.Logger
	// writeTimeout bounds each write (Options.WriteTimeout).
	writeTimeout time.Duration
}

// New reads l's index.json and the documents of the images to serve
// (rehashing each), and returns the handler. A layout that lacks a blob a
// vendored manifest needs, or holds a document with wrong bytes, is an
// error: serve what verify passes. New holds no lock; the caller keeps the
// layout's shared lock while the handler serves.
func New(ctx context.Context, l *layout.Layout, opts Options) (*Handler, error) {
	cat, err := buildCatalog(ctx, l, opts.Names, opts.Pins)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{layout: l, cat: cat, logger: logger, writeTimeout: opts.WriteTimeout}, nil
}

// Images are the served images, in index.json order.
func (h *Handler) Images() []Image { return append([]Image(nil), h.cat.images...) }

// Repositories are the served repository paths, sorted, as _catalog
// lists them.
func (h *Handler) Repositories() []string {
	out := make([]string, 0, len(h.cat.repos))
	for n := range h.cat.repos {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ServeHTTP answers the distribution API's read endpoints.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		h.logger.Info("request", "method", r.Method, "path", r.URL.RequestURI(), "status", rec.status, "bytes", rec.bytes, "elapsed", time.Since(start), "remote", r.RemoteAddr)
	}()
	if h.writeTimeout > 0 {
		// Set at the start of every request, also to lift the deadline
		// the last request of this keep-alive connection left.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.writeTimeout))
	}
	rec.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	h.route(rec, r)
}

// recorder remembers a response's status and body size for the log line.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Write(p []byte) (int, error) {
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (h *Handler) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if path == "/v2" || path == "/v2/" {
		if !readMethod(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte("{}"))
		}
		return
	}
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if rest == "_catalog" {
		if readMethod(w, r) {
			h.catalog(w, r)
		}
		return
	}
	if i := strings.LastIndex(rest, "/blobs/uploads"); i >= 0 && (strings.HasSuffix(rest, "/blobs/uploads") || strings.Contains(rest[i:], "/blobs/uploads/")) {
		writeError(w, r, http.StatusMethodNotAllowed, codeUnsupported, "vendorimg serve is read-only: pushes are not supported (push to a registry with vendorimg push)")
		return
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		if readMethod(w, r) {
			h.tags(w, r, name)
		}
		return
	}
	for _, kind := range []string{"/manifests/", "/blobs/", "/referrers/"} {
		i := strings.LastIndex(rest, kind)
		if i < 0 {
			continue
		}
		name, ref := rest[:i], rest[i+len(kind):]
		if !readMethod(w, r) {
			return
		}
		repo := h.repository(r, name)
		if repo == nil {
			writeError(w, r, http.StatusNotFound, codeNameUnknown, fmt.Sprintf("repository %q is not served here (served: %s)", name, strings.Join(h.Repositories(), ", ")))
			return
		}
		switch kind {
		case "/manifests/":
			h.manifest(w, r, repo, ref)
		case "/blobs/":
			h.blob(w, r, repo, ref)
		default:
			h.referrers(w, r, repo, ref)
		}
		return
	}
	writeError(w, r, http.StatusNotFound, codeUnsupported, fmt.Sprintf("%s is not an endpoint of the distribution API", path))
}

// readMethod answers writes with UNSUPPORTED and reports whether r reads.
func readMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	what := "writes"
	if r.Method == http.MethodDelete {
		what = "deletes"
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeError(w, r, http.StatusMethodNotAllowed, codeUnsupported, fmt.Sprintf("vendorimg serve is read-only: %s are not supported", what))
	return false
}

// repository finds the repository a request names. containerd's mirror
// requests carry the upstream registry in ns= ("?ns=docker.io") and the
// path without it; that registry's image comes first.
func (h *Handler) repository(r *http.Request, name string) *repository {
	if ns := r.URL.Query().Get("ns"); ns != "" {
		if host, err := reference.ParseHost(ns); err == nil {
			if repo := h.cat.repos[host+"/"+name]; repo != nil {
				return repo
			}
		}
	}
	return h.cat.repos[name]
}

func (h *Handler) manifest(w http.ResponseWriter, r *http.Request, repo *repository, ref string) {
	var d digest.Digest
	if strings.Contains(ref, ":") {
		d = digest.Digest(ref)
		if err := reference.CheckDigest(d); err != nil {
			writeError(w, r, http.StatusBadRequest, codeDigestInvalid, err.Error())
			return
		}
	} else {
		var ok bool
		if d, ok = repo.tags[ref]; !ok {
			writeError(w, r, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("tag %q of %s is not vendored (tags: %s)", ref, repo.name, strings.Join(repo.sortedTags(), ", ")))
			return
		}
	}
	doc, ok := repo.manifests[d]
	if !ok {
		if msg, absent := repo.absent[d]; absent {
			writeError(w, r, http.StatusNotFound, codeManifestUnknown, msg)
			return
		}
		writeError(w, r, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("manifest %s is not vendored in %s", d, repo.name))
		return
	}
	raw, err := h.layout.ReadBlob(r.Context(), d, manifest.MaxManifestSize)
	if err != nil {
		h.corrupt(r, d, err)
		writeError(w, r, http.StatusInternalServerError, codeCorrupt, fmt.Sprintf("manifest %s cannot be served: %v (run vendorimg verify)", d, err))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", doc.mediaType)
	hd.Set("Docker-Content-Digest", d.String())
	hd.Set("Content-Length", itoa(int64(len(raw))))
	hd.Set("ETag", `"`+d.String()+`"`)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(raw)
}

func (h *Handler) blob(w http.ResponseWriter, r *http.Request, repo *repository, ref string) {
	d := digest.Digest(ref)
	if err := reference.CheckDigest(d); err != nil {
		writeError(w, r, http.StatusBadRequest, codeDigestInvalid, err.Error())
		return
	}
	size, ok := repo.blobs[d]
	if !ok {
		doc, isDoc := repo.manifests[d]
		if !isDoc {
			writeError(w, r, http.StatusNotFound, codeBlobUnknown, fmt.Sprintf("blob %s is not vendored in %s", d, repo.name))
			return
		}
		size = doc.size
	}
	h.sendBlob(w, r, d, size)
}

func (h *Handler) corrupt(r *http.Request, d digest.Digest, err error) {
	h.logger.Error("the stored bytes are wrong: not serving them", "digest", d, "path", layout.RelBlobPath(d), "request", r.Method+" "+r.URL.Path, "error", err)
}

func (h *Handler) catalog(w http.ResponseWriter, r *http.Request) {
	names, next, ok := page(w, r, h.Repositories())
	if !ok {
		return
	}
	if next != "" {
		w.Header().Set("Link", fmt.Sprintf(`</v2/_catalog?last=%s&n=%s>; rel="next"`, next, r.URL.Query().Get("n")))
	}
	writeJSON(w, r, struct {
		Repositories []string `json:"repositories"`
	}{names})
}

func (h *Handler) tags(w http.ResponseWriter, r *http.Request, name string) {
	repo := h.repository(r, name)
	if repo == nil {
		writeError(w, r, http.StatusNotFound, codeNameUnknown, fmt.Sprintf("repository %q is not served here (served: %s)", name, strings.Join(h.Repositories(), ", ")))
		return
	}
	tags, next, ok := page(w, r, repo.sortedTags())
	if !ok {
		return
	}
	if next != "" {
		w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?last=%s&n=%s>; rel="next"`, name, next, r.URL.Query().Get("n")))
	}
	writeJSON(w, r, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, tags})
}

// page applies the n and last query parameters to a sorted list, and
// returns the page, the last item when more follow, and false when it
// answered a bad n.
func page(w http.ResponseWriter, r *http.Request, all []string) ([]string, string, bool) {
	q := r.URL.Query()
	if last := q.Get("last"); last != "" {
		i := sort.SearchStrings(all, last)
		if i < len(all) && all[i] == last {
			i++
		}
		all = all[i:]
	}
	if s := q.Get("n"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, r, http.StatusBadRequest, codePaginationInval, fmt.Sprintf("n=%q is not a count", s))
			return nil, "", false
		}
		if n < len(all) {
			all = all[:n]
			if n > 0 {
				return all, all[n-1], true
			}
		}
	}
	return all, "", true
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", itoa(int64(len(body))))
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

package serve

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
)

// chunk is how much of a blob is read, hashed and written at a time; the
// last chunk a response carries is held back until the whole blob hashed
// right.
const chunk = 256 << 10

var chunks = sync.Pool{New: func() any { b := make([]byte, chunk); return &b }}

// sendBlob answers a GET or HEAD for blob d of size bytes, honouring a
// single byte range. Every byte of the blob is read and hashed, also
// outside the range; the response's last chunk is written only when the
// digest matches, and otherwise the connection is cut, so that a client
// never receives a complete body of wrong bytes.
func (h *Handler) sendBlob(w http.ResponseWriter, r *http.Request, d digest.Digest, size int64) {
	f, err := h.layout.OpenBlob(d)
	if err != nil {
		h.corrupt(r, d, err)
		writeError(w, r, http.StatusInternalServerError, codeCorrupt, fmt.Sprintf("blob %s cannot be served: %v (run vendorimg verify)", d, err))
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != size {
		got := "unknown"
		if err == nil {
			got = strconv.FormatInt(fi.Size(), 10)
		}
		err := fmt.Errorf("%w: %s is %s bytes, its descriptor says %d", errs.ErrSizeMismatch, layout.RelBlobPath(d), got, size)
		h.corrupt(r, d, err)
		writeError(w, r, http.StatusInternalServerError, codeCorrupt, fmt.Sprintf("blob %s cannot be served: %v (run vendorimg verify)", d, err))
		return
	}
	start, end, partial, ok := parseRange(r.Header.Get("Range"), size)
	hd := w.Header()
	hd.Set("Docker-Content-Digest", d.String())
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("ETag", `"`+d.String()+`"`)
	hd.Set("Content-Type", "application/octet-stream")
	if !ok {
		hd.Set("Content-Range", "bytes */"+itoa(size))
		writeError(w, r, http.StatusRequestedRangeNotSatisfiable, codeRangeInvalid, fmt.Sprintf("range %q is outside blob %s of %d bytes", r.Header.Get("Range"), d, size))
		return
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
	}
	hd.Set("Content-Length", itoa(end-start+1))
	if size == 0 {
		hd.Set("Content-Length", "0")
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead || size == 0 {
		if size == 0 && d != digest.FromBytes(nil) {
			h.corrupt(r, d, fmt.Errorf("%w: an empty file", errs.ErrDigestMismatch))
		}
		return
	}
	out := io.Writer(w)
	if h.writeTimeout > 0 {
		out = &progressWriter{rc: http.NewResponseController(w), d: h.writeTimeout, w: w}
	}
	err = streamVerified(out, f, d, size, start, end)
	var gone *clientGone
	if errors.As(err, &gone) {
		// Nothing wrong was sent; the connection is done for.
		h.logger.Debug("blob not sent in full: the client went away or stopped reading", "digest", d, "remote", r.RemoteAddr, "error", gone.err)
		return
	}
	if err != nil {
		h.corrupt(r, d, err)
		// Cut the connection: the response is short of its Content-Length,
		// so no client can take it for the blob.
		panic(http.ErrAbortHandler)
	}
}

// streamVerified reads all size bytes of f, hashing them, and writes bytes
// start to end (inclusive) to w, holding back the last chunk written until
// the digest is known to match.
func streamVerified(w io.Writer, f io.Reader, d digest.Digest, size, start, end int64) error {
	a, b := chunks.Get().(*[]byte), chunks.Get().(*[]byte)
	defer chunks.Put(a)
	defer chunks.Put(b)
	cur, spare := *a, *b
	h := sha256.New()
	var held []byte
	var off int64
	src := io.LimitReader(f, size+1)
	for {
		n, err := io.ReadFull(src, cur)
		if n > 0 {
			h.Write(cur[:n])
			lo, hi := max(start, off), min(end+1, off+int64(n))
			if lo < hi {
				if len(held) > 0 {
					if _, werr := w.Write(held); werr != nil {
						return &clientGone{werr}
					}
				}
				held = cur[lo-off : hi-off]
				cur, spare = spare, cur
			}
			off += int64(n)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", layout.RelBlobPath(d), err)
		}
	}
	switch {
	case off != size:
		return fmt.Errorf("%w: %s changed size while it was served: %d bytes, want %d", errs.ErrSizeMismatch, layout.RelBlobPath(d), off, size)
	case digest.NewDigest(digest.SHA256, h) != d:
		return fmt.Errorf("%w: %s hashes to %s", errs.ErrDigestMismatch, layout.RelBlobPath(d), digest.NewDigest(digest.SHA256, h))
	}
	if len(held) > 0 {
		if _, werr := w.Write(held); werr != nil {
			return &clientGone{werr}
		}
	}
	return nil
}

// clientGone is a write to the client that failed: it went away, or took
// nothing within the write timeout.
type clientGone struct{ err error }

func (e *clientGone) Error() string { return "writing to the client: " + e.err.Error() }

// parseRange reads a Range header of one range ("bytes=0-99", "bytes=100-",
// "bytes=-50"). It returns the whole blob, not partial, for no header or
// one it does not take (several ranges, another unit), as RFC 9110 allows;
// ok is false for a range outside the blob.
func parseRange(h string, size int64) (start, end int64, partial, ok bool) {
	whole := func() (int64, int64, bool, bool) { return 0, size - 1, false, true }
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return whole()
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return whole()
	}
	switch {
	case first == "":
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return whole()
		}
		if n == 0 || size == 0 {
			return 0, 0, false, false
		}
		return max(size-n, 0), size - 1, true, true
	default:
		s, err := strconv.ParseInt(first, 10, 64)
		if err != nil || s < 0 {
			return whole()
		}
		e := size - 1
		if last != "" {
			if e, err = strconv.ParseInt(last, 10, 64); err != nil || e < s {
				return whole()
			}
			e = min(e, size-1)
		}
		if s >= size {
			return 0, 0, false, false
		}
		return s, e, true, true
	}
}

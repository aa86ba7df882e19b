package layout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/progress"
)

// Kind names what a Finding is about. The values are part of vendorimg's
// --json output and do not change.
type Kind string

// Finding kinds.
const (
	// KindMissing: a selected blob, or a layout file, is absent.
	KindMissing Kind = "missing"
	// KindDigest: a file does not hash to the digest it is stored under.
	KindDigest Kind = "digest"
	// KindSize: a file's size differs from its descriptor's.
	KindSize Kind = "size"
	// KindMediaType: a document's mediaType differs from its descriptor's.
	KindMediaType Kind = "media-type"
	// KindMalformed: a document, index.json or oci-layout cannot be parsed.
	KindMalformed Kind = "malformed"
	// KindDiffID: (--deep) an uncompressed layer does not hash to the
	// config's diff_id, or the counts differ.
	KindDiffID Kind = "diff-id"
	// KindPlatform: a selected platform is not in the image.
	KindPlatform Kind = "platform"
	// KindPin: an index.json entry's digest differs from the pin.
	KindPin Kind = "pin"
	// KindNotSynced: a configured image has no index.json entry.
	KindNotSynced Kind = "not-synced"
	// KindAdopted: no index.json entry has a configured image's name, but
	// one that another tool wrote has its pin (named by a tag only, not
	// named, or with the reference spelled otherwise): it is taken for the
	// image (Lookup), and the next sync renames it. It does not fail
	// verification.
	KindAdopted Kind = "adopted"
	// KindUnconfigured: an index.json entry names no configured image.
	KindUnconfigured Kind = "unconfigured"
	// KindUnreferenced: a blob nothing in index.json reaches.
	KindUnreferenced Kind = "unreferenced"
	// KindTemporary: a temporary file left by an interrupted writer.
	KindTemporary Kind = "temporary"
	// KindSymlink: a symlink, which a layout must not hold.
	KindSymlink Kind = "symlink"
	// KindNotRegular: a device, pipe, socket, or a folder where a file
	// belongs.
	KindNotRegular Kind = "not-regular"
	// KindStray: a file that is not part of an OCI layout, where a layout
	// reader may trip on it (in blobs/ or blobs/sha256/).
	KindStray Kind = "stray"
	// KindTooDeep: an image graph nests indexes more than MaxDepth levels
	// deep; nothing below the cut is read. The blobs nothing above the cut
	// reaches are counted in this finding rather than reported as
	// unreferenced (they may be below it), and gc refuses to run.
	KindTooDeep Kind = "too-deep"
	// KindExtra: a file or folder that is not part of the layout but that no
	// reader of the layout uses: a README or notes at the root, another
	// algorithm's folder under blobs/. It is reported and does not fail
	// verification.
	KindExtra Kind = "extra"
)

// Incomplete reports whether an interrupted or not-yet-run sync explains a
// finding of this kind, so that the next sync fixes it. Every other kind
// means the layout holds something it must not.
func (k Kind) Incomplete() bool {
	switch k {
	case KindMissing, KindNotSynced, KindTemporary, KindUnreferenced, KindUnconfigured:
		return true
	}
	return false
}

// Harmless reports whether a finding of this kind leaves what the
// configured images are intact: an extra file, a blob nothing references,
// an index.json entry for an image that is not configured, a temporary file
// of an interrupted run. A test harness proving that the images did not
// change ignores them; verify still reports them (only extras pass).
func (k Kind) Harmless() bool {
	switch k {
	case KindExtra, KindAdopted, KindUnreferenced, KindUnconfigured, KindTemporary:
		return true
	}
	return false
}

// Passes reports whether a finding of this kind lets verification pass:
// a harmless extra file, or an adopted entry (whose bytes are the pinned
// image's, only its name is another tool's).
func (k Kind) Passes() bool { return k == KindExtra || k == KindAdopted }

// Finding is one problem Verify found.
type Finding struct {
	Kind Kind `json:"kind"`
	// Path is the file, relative to the layout, with slashes.
	Path string `json:"path,omitempty"`
	// Image is the index.json name of the image the file belongs to, if any.
	Image string `json:"image,omitempty"`
	// Expected is what the file should be: a digest, a size, a media type.
	Expected string `json:"expected,omitempty"`
	// Actual is what it is.
	Actual string `json:"actual,omitempty"`
	// Message says it in a sentence.
	Message string `json:"message"`
}

func (f Finding) String() string {
	s := string(f.Kind) + ": "
	if f.Path != "" {
		s += f.Path + ": "
	}
	s += f.Message
	if f.Image != "" {
		s += " (image " + f.Image + ")"
	}
	return s
}

// Expect is what Verify checks an image against.
type Expect struct {
	// Name is the image's name in index.json.
	Name string
	// Digest is the pin.
	Digest digest.Digest
	// Platforms are the platforms that must be complete. Others may be
	// absent (on purpose) but, if present, must verify.
	Platforms platform.Selection
	// Referrers is the image's referrers: setting ("" for none): then
	// index.json must list the pin's referrers, chosen by that setting.
	Referrers string
}

// VerifyOptions says what Verify checks.
type VerifyOptions struct {
	// Images, when not nil, are the configured images: each must have an
	// index.json entry with its pin and its selected platforms complete, and
	// any other entry is a finding. When nil, index.json's entries are
	// checked as they are and absent children of an index are allowed.
	Images []Expect
	// Deep also decompresses every layer and checks it against the
	// config's diff_ids. Default false.
	Deep bool
	// Jobs is how many blobs are hashed at once. Default GOMAXPROCS.
	Jobs int
	// Progress, if not nil, receives a progress.Waiting event if a sync
	// holds the layout's lock, and progress.Advance events with the bytes
	// hashed so far (Done) and the total (Size).
	Progress progress.Func
	// Locked says the caller already holds the layout's lock (sync
	// --repair does), so Verify must not take it. Default false: Verify
	// takes the shared lock before it reads anything, so that it never sees
	// a sync half done; a folder that does not exist (and so cannot be
	// locked) is reported as no layout, with nothing else read.
	Locked bool
}

// Report is what Verify found.
type Report struct {
	Layout string `json:"layout"`
	Deep   bool   `json:"deep"`
	// Blobs and Bytes count the blobs hashed.
	Blobs    int           `json:"blobs"`
	Bytes    int64         `json:"bytes"`
	Images   []ImageReport `json:"images"`
	Findings []Finding     `json:"findings"`
}

// ImageReport summarises one index.json entry.
type ImageReport struct {
	Name      string        `json:"name"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	// Platforms are the platforms whose manifests are stored.
	Platforms []string `json:"platforms"`
	Blobs     int      `json:"blobs"`
	Bytes     int64    `json:"bytes"`
}

// OK reports whether nothing was found but findings that pass
// (Kind.Passes: harmless extras, adopted entries).
func (r *Report) OK() bool {
	return !slices.ContainsFunc(r.Findings, func(f Finding) bool { return !f.Kind.Passes() })
}

// Intact reports whether every finding is harmless (Kind.Harmless): the
// configured images are exactly what they should be.
func (r *Report) Intact() bool {
	return !slices.ContainsFunc(r.Findings, func(f Finding) bool { return !f.Kind.Harmless() })
}

// Incomplete reports whether there are findings and all of them are of
// kinds an interrupted sync explains.
func (r *Report) Incomplete() bool {
	return !r.OK() && !slices.ContainsFunc(r.Findings, func(f Finding) bool { return !f.Kind.Incomplete() && !f.Kind.Passes() })
}

// Verify checks the layout and reports everything it finds, not just the
// first problem: every blob reachable from index.json is rehashed (in
// parallel, streaming), sizes and media types are compared with their
// descriptors, the selected platforms must be complete, index.json must
// match the expected pins, and anything else in the folder (unreferenced
// blobs, temporary files, symlinks, special files, strays) is reported.
// It reads nothing through a symlink and never allocates from a size read
// from disk. The error is for what stops verification (a cancelled ctx);
// problems in the layout are findings.
func (l *Layout) Verify(ctx context.Context, opts VerifyOptions) (*Report, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.GOMAXPROCS(0)
	}
	v := &verifier{
		l:       l,
		opts:    opts,
		report:  &Report{Layout: l.root, Deep: opts.Deep, Images: []ImageReport{}, Findings: []Finding{}},
		reached: map[digest.Digest]bool{},
		tasks:   map[string]*hashTask{},
	}
	if !opts.Locked {
		// The lock is a flock on the folder, so a folder that does not exist
		// cannot be locked: then nothing else is read, since a first sync
		// may create it at any moment, and what verify saw would be half of
		// it. A folder that exists is locked before anything is read, and
		// checked again once locked (a failed first sync removes it; a first
		// sync that created it but has not locked it yet leaves it empty).
		if v.noLayout() {
			return v.report, nil
		}
		if fi, err := os.Lstat(l.root); err == nil && fi.IsDir() {
			lock, err := l.Lock(ctx, false, opts.Progress)
			if err != nil {
				return nil, err
			}
			defer lock.Unlock()
			if v.noLayout() {
				return v.report, nil
			}
		}
	}
	if err := v.run(ctx); err != nil {
		return nil, err
	}
	slices.SortStableFunc(v.report.Findings, func(a, b Finding) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(string(a.Kind), string(b.Kind))
	})
	return v.report, nil
}

type verifier struct {
	l      *Layout
	opts   VerifyOptions
	report *Report
	// reached are the blobs index.json reaches (present or not).
	reached map[digest.Digest]bool
	// tasks are the blobs to hash, keyed by digest and diff_id.
	tasks map[string]*hashTask
	order []*hashTask
	// cut are the indexes in report.Findings of the KindTooDeep findings,
	// and unreached the blobs nothing above a cut reaches.
	cut       []int
	unreached int
	// done and total are the bytes hashed and to hash, for progress.
	done       atomic.Int64
	total      atomic.Int64
	progressMu sync.Mutex
}

func (v *verifier) add(f Finding) { v.report.Findings = append(v.report.Findings, f) }

// noLayout reports, when the layout's folder does not exist or is empty,
// that there is no layout and no configured image in it, and says whether
// it did. Empty counts as none: a first sync creates the folder before it
// can lock it, so a reader may take the lock in between and find the
// folder as it was before that sync, empty.
func (v *verifier) noLayout() bool {
	if !emptyOrMissing(v.l.root) {
		return false
	}
	v.add(Finding{Kind: KindMissing, Path: ".", Message: "no layout here: vendorimg sync creates it"})
	for _, e := range v.opts.Images {
		v.add(Finding{Kind: KindNotSynced, Image: e.Name, Expected: e.Digest.String(), Message: "not in the layout: run vendorimg sync"})
	}
	return true
}

// emptyOrMissing reports whether dir does not exist or is a folder with
// nothing in it.
func emptyOrMissing(dir string) bool {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil {
		return false
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return len(names) == 0 && errors.Is(err, io.EOF)
}

func (v *verifier) run(ctx context.Context) error {
	idx, ok := v.checkLayoutFiles(ctx)
	if ok {
		if err := v.walkIndex(ctx, idx); err != nil {
			return err
		}
	}
	if err := v.hashAll(ctx); err != nil {
		return err
	}
	if err := v.scanStrays(ctx); err != nil {
		return err
	}
	if len(v.cut) > 0 && v.unreached > 0 {
		f := &v.report.Findings[v.cut[0]]
		f.Message += fmt.Sprintf("; %s nothing above the cut reaches (they may be below it) are not listed, and gc removes none of them", count(v.unreached, "blob"))
	}
	return nil
}

func sizeStr(n int64) string { return count(int(n), "byte") }

// count is "1 layer", "2 layers".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Expectations are what configured images require of their layout, as
// Verify takes them: each image's name, pin and platforms.
func Expectations(images []config.Image) []Expect {
	out := make([]Expect, 0, len(images))
	for _, im := range images {
		out = append(out, Expect{Name: im.Name(), Digest: im.Digest, Platforms: im.Platforms, Referrers: im.ReferrersString()})
	}
	return out
}

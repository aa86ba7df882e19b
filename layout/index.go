package layout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/reference"
)

// Annotations that name an image in index.json. vendorimg sets both to
// the full reference ("docker.io/library/alpine:3.19.1"): image-spec's
// ref.name is what skopeo, crane and umoci look up, containerd's
// image.name is what containerd and docker 25+ tag an imported image as.
const (
	AnnotationRefName       = ocispec.AnnotationRefName // "org.opencontainers.image.ref.name"
	AnnotationContainerName = "io.containerd.image.name"
)

// MaxIndexSize bounds how much of index.json vendorimg reads: 16 MiB is
// tens of thousands of entries.
const MaxIndexSize = 16 << 20

// Entry is the index.json descriptor for an image: the upstream
// descriptor's media type, digest and size, with both name annotations set
// to name. Nothing else from the upstream descriptor is kept, so that the
// entry depends only on the pin and the name.
func Entry(top ocispec.Descriptor, name string) ocispec.Descriptor {
	return ocispec.Descriptor{
		MediaType: top.MediaType,
		Digest:    top.Digest,
		Size:      top.Size,
		Annotations: map[string]string{
			AnnotationRefName:       name,
			AnnotationContainerName: name,
		},
	}
}

// NameOf is the image name of an index.json entry: containerd's
// annotation if set, else image-spec's ref.name (which other tools may have
// written as a bare tag), else "".
func NameOf(d ocispec.Descriptor) string {
	if n := d.Annotations[AnnotationContainerName]; n != "" {
		return n
	}
	return d.Annotations[AnnotationRefName]
}

// EncodeIndex is the canonical index.json for entries: sorted by name then
// digest, two-space indentation, a trailing newline. The same entries
// always give the same bytes.
func EncodeIndex(entries []ocispec.Descriptor) ([]byte, error) {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b ocispec.Descriptor) int {
		if c := strings.Compare(NameOf(a), NameOf(b)); c != 0 {
			return c
		}
		return strings.Compare(string(a.Digest), string(b.Digest))
	})
	if sorted == nil {
		sorted = []ocispec.Descriptor{}
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: sorted}
	idx.SchemaVersion = 2
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// A reference never needs escaping, and "&" or "<" in one would be a
	// bug elsewhere; keep the bytes as readable as the names.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(idx); err != nil {
		return nil, fmt.Errorf("encoding index.json: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteIndex replaces index.json with the canonical encoding of entries,
// atomically, and reports whether its bytes changed. Entries with the same
// name are an error: one name, one image.
func (l *Layout) WriteIndex(ctx context.Context, entries []ocispec.Descriptor) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if err := manifest.CheckDescriptor(e); err != nil {
			return false, fmt.Errorf("writing index.json: %w", err)
		}
		n := NameOf(e)
		if n != "" && seen[n] {
			return false, fmt.Errorf("writing index.json: %w: two entries named %q", errs.ErrInvalidLayout, n)
		}
		seen[n] = true
	}
	b, err := EncodeIndex(entries)
	if err != nil {
		return false, err
	}
	old, _ := readSmallFile(filepath.Join(l.root, IndexFile), MaxIndexSize)
	if err := writeFileAtomic(l.root, IndexFile, b); err != nil {
		return false, err
	}
	return !bytes.Equal(old, b), nil
}

// ReadIndex reads and checks index.json: it must be an image index whose
// entries all have canonical sha256 digests, non-negative sizes and media
// types.
func (l *Layout) ReadIndex(ctx context.Context) (*ocispec.Index, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := filepath.Join(l.root, IndexFile)
	b, err := readSmallFile(path, MaxIndexSize)
	if err != nil {
		return nil, fmt.Errorf("reading index.json: %w", err)
	}
	return ParseIndex(b)
}

// ParseIndex parses the bytes of an index.json with ReadIndex's checks.
func ParseIndex(b []byte) (*ocispec.Index, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("reading index.json: %w: %v", errs.ErrInvalidLayout, err)
	}
	if idx.SchemaVersion != 2 {
		return nil, fmt.Errorf("reading index.json: %w: schemaVersion %d, want 2", errs.ErrInvalidLayout, idx.SchemaVersion)
	}
	if idx.MediaType != "" && idx.MediaType != ocispec.MediaTypeImageIndex {
		return nil, fmt.Errorf("reading index.json: %w: mediaType %q, want %q", errs.ErrInvalidLayout, idx.MediaType, ocispec.MediaTypeImageIndex)
	}
	for i, d := range idx.Manifests {
		if err := manifest.CheckDescriptor(d); err != nil {
			return nil, fmt.Errorf("reading index.json: %w: manifests[%d]: %w", errs.ErrInvalidLayout, i, err)
		}
	}
	return &idx, nil
}

// Match is the index.json entry Lookup found for an image.
type Match struct {
	// Entry is the entry, with both name annotations set to the image's
	// name (an adopted entry's other annotations are kept): what a reader
	// serves, loads or checks it as.
	Entry ocispec.Descriptor
	// Index is the entry's position in index.json's manifests.
	Index int
	// Adopted: no entry has the image's name, and this one, written by
	// another tool for the pin, is taken for it (see Lookup); the next sync
	// renames it.
	Adopted bool
	// Was is the entry's name as written: a bare tag ("1", "3.19"),
	// another spelling of the reference, or "" when it has none.
	Was string
}

// Lookup returns the index.json entry of the image named name (the full
// reference, as vendorimg writes it) and pinned to pin: the entry with that
// name, whatever its digest (a reader then reports the pin mismatch); or,
// when no entry has the name, the first one another tool wrote for the
// pin, which it adopts: an entry whose digest is pin and whose name is not
// a full reference as vendorimg writes them (regctl names an entry by its
// tag, "1"; crane without --annotate-ref gives none; skopeo names it as
// told, "alpine:3.19"). An entry vendorimg named for another image is
// never adopted, even with the same digest. pin "" adopts nothing.
func Lookup(idx *ocispec.Index, name string, pin digest.Digest) (Match, bool) {
	for i, d := range idx.Manifests {
		if NameOf(d) == name {
			return Match{Entry: d, Index: i, Was: name}, true
		}
	}
	if pin == "" {
		return Match{}, false
	}
	for i, d := range idx.Manifests {
		if was := NameOf(d); d.Digest == pin && !vendorimgName(was) {
			return Match{Entry: Rename(d, name), Index: i, Adopted: true, Was: was}, true
		}
	}
	return Match{}, false
}

// Rename returns the entry d named name: both name annotations set to
// name, its other annotations kept.
func Rename(d ocispec.Descriptor, name string) ocispec.Descriptor {
	a := maps.Clone(d.Annotations)
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationRefName], a[AnnotationContainerName] = name, name
	d.Annotations = a
	return d
}

// vendorimgName reports whether an entry's name is a full reference as
// vendorimg writes it (config.NameOf of what it parses to), rather than a
// bare tag, a short form or no name.
func vendorimgName(name string) bool {
	if name == "" {
		return false
	}
	ref, err := reference.Parse(name)
	return err == nil && config.NameOf(ref) == name
}

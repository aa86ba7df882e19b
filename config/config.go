package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/opencontainers/go-digest"
	"go.yaml.in/yaml/v3"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/disk"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// FileName is the name vendorimg looks for.
const FileName = "vendorimg.yaml"

// DefaultLayout is the layout folder of a new vendorimg.yaml, relative to it.
const DefaultLayout = "testdata/images"

// maxFileSize bounds how much of vendorimg.yaml is read.
const maxFileSize = 1 << 20

// Config is a parsed vendorimg.yaml.
type Config struct {
	// Path is the file's absolute path.
	Path string
	// Layout is the layout folder as written; LayoutDir resolves it.
	Layout string
	// Mirrors maps a registry host to a mirror that serves the same
	// repositories by the same digests.
	Mirrors map[string]string
	// Insecure lists hosts that may be reached over plain http (loopback
	// hosts always may).
	Insecure []string
	// Images are the vendored images, in file order.
	Images []Image
	// Referrers is the top-level referrers: default (see Image.Referrers).
	Referrers []string
	// Verify is the top-level verify: default (see Image.Verify).
	Verify *Policy

	doc *yaml.Node // the document, kept for editing
}

// Image is one entry of images:.
type Image struct {
	// Ref is the reference, without a digest (a digest written in ref: is
	// moved to Digest).
	Ref reference.Reference
	// Digest is the pin: the digest of the top-level manifest or index as
	// the registry serves it.
	Digest digest.Digest
	// Platforms are the platforms vendored.
	Platforms platform.Selection
	// Line is the line of the entry in the file (0 for an entry not read
	// from a file).
	Line int
	// Referrers are the referrers vendored with the image: classes
	// (ReferrersSignatures, ReferrersAttestations, ReferrersSBOMs,
	// ReferrersAll) or artifactTypes. The image's own referrers: setting,
	// else the top-level one; empty: none.
	Referrers []string
	// Verify is the offline signature policy verify checks the image
	// against: the image's own verify:, else the top-level one; nil: none.
	Verify *Policy

	ownReferrers, ownVerify bool
}

// Name is the image's name in the layout's index.json: the full reference,
// tag included ("docker.io/library/alpine:3.19.1"). A reference with no tag
// is named by its digest.
func (im Image) Name() string { return NameOf(im.Pinned()) }

// Pinned is the reference with its digest.
func (im Image) Pinned() reference.Reference { return im.Ref.WithDigest(im.Digest) }

// Dir is the folder holding the file.
func (c *Config) Dir() string { return filepath.Dir(c.Path) }

// LayoutDir is the layout folder, resolved against the file's folder.
func (c *Config) LayoutDir() string {
	if filepath.IsAbs(c.Layout) {
		return filepath.Clean(c.Layout)
	}
	return filepath.Join(c.Dir(), filepath.FromSlash(c.Layout))
}

// NameOf is the name an image with reference ref has: the reference with
// its tag, or, for a reference with only a digest, with that digest.
func NameOf(ref reference.Reference) string {
	if ref.Tag == "" {
		return ref.String()
	}
	return ref.WithoutDigest().String()
}

// Lookup returns the index of the image named as ref is (see NameOf), or -1.
func (c *Config) Lookup(ref reference.Reference) int { return c.ByName(NameOf(ref)) }

// ByName returns the index of the image whose Name is name, or -1.
func (c *Config) ByName(name string) int {
	return slices.IndexFunc(c.Images, func(im Image) bool { return im.Name() == name })
}

// Select returns the configured images named by refs (every image when
// refs is empty). A name may be written as in the file or in any form that
// normalises to it ("alpine:3.19.1" for "docker.io/library/alpine:3.19.1").
func (c *Config) Select(refs []string) ([]Image, error) {
	if len(refs) == 0 {
		return slices.Clone(c.Images), nil
	}
	var out []Image
	for _, s := range refs {
		ref, err := reference.Parse(s)
		if err != nil {
			return nil, err
		}
		i := c.Lookup(ref)
		if i < 0 {
			return nil, fmt.Errorf("%w: %s is not in %s", errs.ErrConfig, ref, c.Path)
		}
		out = append(out, c.Images[i])
	}
	return out, nil
}

// Find returns the path of the vendorimg.yaml in dir or its nearest
// parent, like go.mod. It wraps errs.ErrNoConfig when there is none.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; {
		p := filepath.Join(d, FileName)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("%w in %s or any parent folder", errs.ErrNoConfig, abs)
		}
		d = parent
	}
}

// Load reads and parses the file at path.
func Load(ctx context.Context, path string) (*Config, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", errs.ErrNoConfig, abs)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", abs, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxFileSize+1)); err != nil {
		return nil, fmt.Errorf("reading %s: %w", abs, err)
	}
	if buf.Len() > maxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", errs.ErrConfig, abs, maxFileSize)
	}
	return Parse(abs, buf.Bytes())
}

// New returns an empty configuration to be saved at path, with the default
// layout.
func New(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	c := &Config{Path: abs, Layout: DefaultLayout, Mirrors: map[string]string{}}
	c.doc = &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{
		Kind: yaml.MappingNode,
		Content: []*yaml.Node{
			scalar("layout"), scalar(DefaultLayout),
			scalar("images"), {Kind: yaml.SequenceNode},
		},
	}}}
	c.doc.Content[0].HeadComment = "vendorimg.yaml: images vendored into " + DefaultLayout + " (see vendorimg --help)"
	return c, nil
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

// Set pins an image: it replaces the entry with the same name (reference
// without digest), keeping its place, comments and line, or appends a new
// one at the end.
func (c *Config) Set(im Image) error {
	if err := c.ensureImages(); err != nil {
		return err
	}
	seq := c.imagesNode()
	entry := &yaml.Node{Kind: yaml.MappingNode}
	if i := c.Lookup(im.Pinned()); i >= 0 {
		entry = seq.Content[i]
		c.Images[i].Digest, c.Images[i].Platforms = im.Digest, im.Platforms
	} else {
		seq.Content = append(seq.Content, entry)
		entry.Content = []*yaml.Node{scalar("ref"), scalar(im.Name())}
		im.Line = 0
		if !im.ownReferrers && im.Referrers == nil {
			im.Referrers = slices.Clone(c.Referrers)
		}
		if !im.ownVerify && im.Verify == nil {
			im.Verify = c.Verify
		}
		c.Images = append(c.Images, im)
	}
	setKey(entry, "digest", scalar(im.Digest.String()))
	setKey(entry, "platforms", platformsNode(im.Platforms))
	return nil
}

// Remove drops the image named name (see Image.Name) from the images,
// keeping every other entry with its comments and place, and reports
// whether there was one.
func (c *Config) Remove(name string) bool {
	i := c.ByName(name)
	if i < 0 {
		return false
	}
	if seq := c.imagesNode(); seq != nil && seq.Kind == yaml.SequenceNode && i < len(seq.Content) {
		seq.Content = slices.Delete(seq.Content, i, i+1)
	}
	c.Images = slices.Delete(c.Images, i, i+1)
	return true
}

func platformsNode(sel platform.Selection) *yaml.Node {
	if sel.All {
		return scalar("all")
	}
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range sel.Strings() {
		n.Content = append(n.Content, scalar(s))
	}
	return n
}

// setKey replaces the value of key in mapping m, keeping the old value's
// comments, or appends the pair.
func setKey(m *yaml.Node, key string, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			old := m.Content[i+1]
			value.HeadComment, value.LineComment, value.FootComment = old.HeadComment, old.LineComment, old.FootComment
			if old.Kind == yaml.SequenceNode && value.Kind == yaml.SequenceNode {
				value.Style = old.Style
			}
			m.Content[i+1] = value
			return
		}
	}
	m.Content = append(m.Content, scalar(key), value)
}

func (c *Config) root() *yaml.Node { return c.doc.Content[0] }

func (c *Config) imagesNode() *yaml.Node {
	m := c.root()
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "images" {
			return m.Content[i+1]
		}
	}
	return nil
}

func (c *Config) ensureImages() error {
	if c.doc == nil {
		return fmt.Errorf("%w: configuration was not read from a file", errs.ErrConfig)
	}
	n := c.imagesNode()
	switch {
	case n == nil:
		c.root().Content = append(c.root().Content, scalar("images"), &yaml.Node{Kind: yaml.SequenceNode})
	case n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == ""):
		*n = yaml.Node{Kind: yaml.SequenceNode, HeadComment: n.HeadComment, LineComment: n.LineComment}
	}
	return nil
}

// Encode returns the file's bytes: the parsed document with its edits,
// comments and order kept, indented by two spaces.
func (c *Config) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c.doc); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", c.Path, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", c.Path, err)
	}
	return buf.Bytes(), nil
}

// Clone returns a deep copy of c, document included: editing the copy
// (Set) leaves c as it is.
func (c *Config) Clone() *Config {
	out := *c
	out.Mirrors = maps.Clone(c.Mirrors)
	out.Insecure = slices.Clone(c.Insecure)
	out.Images = slices.Clone(c.Images)
	for i := range out.Images {
		out.Images[i].Platforms.Platforms = slices.Clone(out.Images[i].Platforms.Platforms)
		out.Images[i].Referrers = slices.Clone(out.Images[i].Referrers)
	}
	out.Referrers = slices.Clone(c.Referrers)
	out.doc = copyNode(c.doc)
	return &out
}

func copyNode(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		c.Content[i] = copyNode(child)
	}
	return &c
}

// Save writes the file atomically and durably (a temporary file beside it,
// synced, then renamed, and the folder synced; a folder it creates is
// synced into its parent), keeping the mode of an existing file. A failed
// sync is an error that names the path.
func (c *Config) Save(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := c.Encode()
	if err != nil {
		return err
	}
	// Re-parse what we are about to write: an edit must never produce a
	// file the next run refuses.
	if _, err := Parse(c.Path, b); err != nil {
		return fmt.Errorf("saving %s: %w", c.Path, err)
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(c.Path); err == nil {
		mode = fi.Mode().Perm()
	}
	if _, err := disk.MkdirAll(c.Dir(), 0o755); err != nil {
		return fmt.Errorf("saving %s: %w", c.Path, err)
	}
	// Synced before the rename, and the folder after it: a power loss
	// leaves the old file or the new one, never an empty one.
	return disk.WriteFile(c.Path, b, mode, "."+FileName+".tmp-*")
}

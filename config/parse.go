package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// Keys vendorimg.yaml knows, for "unknown key" messages.
var (
	topKeys   = []string{"layout", "mirrors", "insecure", "referrers", "verify", "images"}
	imageKeys = []string{"ref", "digest", "platforms", "referrers", "verify"}
)

// Parse parses the contents of a vendorimg.yaml read from path (used in
// messages and to resolve the layout). Every error wraps errs.ErrConfig
// (and errs.ErrInvalidReference, ErrInvalidDigest or ErrInvalidPlatform
// where one applies) and starts with "path:line:".
func Parse(path string, data []byte) (*Config, error) {
	p := parser{path: path}
	if err := checkEncoding(path, data); err != nil {
		return nil, err
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, syntaxError(path, err)
	}
	// A second document would be ignored by every command and dropped by
	// the next edit: refuse it.
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(path, err)
	default:
		return nil, p.errorf(&next, nil, "a second YAML document (after ---): vendorimg.yaml holds one document")
	}
	c := &Config{Path: path, Mirrors: map[string]string{}, doc: &doc}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, p.errorf(&doc, nil, "the file is empty: it needs at least images:")
	}
	root := doc.Content[0]
	if err := p.checkNode(root); err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, p.errorf(root, nil, "the file must be a mapping with the keys %s", strings.Join(topKeys, ", "))
	}
	err := p.mapping(root, "the file", topKeys, func(key string, v *yaml.Node) error {
		switch key {
		case "layout":
			s, err := p.str(v, "layout")
			if err != nil {
				return err
			}
			if s == "" {
				return p.errorf(v, nil, "layout must not be empty")
			}
			c.Layout = filepath.ToSlash(s)
		case "mirrors":
			return p.mirrors(v, c)
		case "insecure":
			return p.insecure(v, c)
		case "images":
			return p.images(v, c)
		case "referrers":
			refs, err := p.referrers(v)
			c.Referrers = refs
			return err
		case "verify":
			pol, err := p.policy(v)
			c.Verify = pol
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.applyDefaults()
	if c.Layout == "" {
		c.Layout = DefaultLayout
	}
	return c, nil
}

type parser struct{ path string }

// errorf returns a FileError at n's line. With a cause (which already
// names the bad value) the message is the cause's; format describes the
// problem otherwise.
func (p parser) errorf(n *yaml.Node, cause error, format string, args ...any) error {
	if cause != nil {
		return &FileError{Path: p.path, Line: n.Line, Msg: cause.Error(), cause: cause}
	}
	return &FileError{Path: p.path, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

// FileError is a problem in vendorimg.yaml at a line. It matches
// errs.ErrConfig, and the sentinel of its cause (errs.ErrInvalidReference,
// ErrInvalidDigest, ErrInvalidPlatform) when there is one.
type FileError struct {
	Path string
	// Line is the line of the problem, or 0 for one of the whole file (it
	// is empty).
	Line  int
	Msg   string
	cause error
}

// Error is "path:line: message", or "path: message" for a problem of the
// whole file: an editor jumping to line 0 helps nobody.
func (e *FileError) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}

// Unwrap returns errs.ErrConfig and the cause.
func (e *FileError) Unwrap() []error {
	if e.cause == nil {
		return []error{errs.ErrConfig}
	}
	return []error{errs.ErrConfig, e.cause}
}

// checkNode refuses aliases anywhere: they are never needed in this file
// and are how YAML bombs are built.
func (p parser) checkNode(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode {
		return p.errorf(n, nil, "aliases (*%s) are not supported", n.Value)
	}
	for _, c := range n.Content {
		if err := p.checkNode(c); err != nil {
			return err
		}
	}
	return nil
}

// mapping walks a mapping node, refusing keys not in known and duplicates.
func (p parser) mapping(m *yaml.Node, what string, known []string, each func(key string, v *yaml.Node) error) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return p.errorf(k, nil, "keys in %s must be plain words", what)
		}
		if known != nil && !slices.Contains(known, k.Value) {
			return p.errorf(k, nil, "unknown key %q in %s (known: %s)", k.Value, what, strings.Join(known, ", "))
		}
		if line, dup := seen[k.Value]; dup {
			return p.errorf(k, nil, "key %q appears twice in %s (first on line %d)", k.Value, what, line)
		}
		seen[k.Value] = k.Line
		if err := each(k.Value, v); err != nil {
			return err
		}
	}
	return nil
}

func (p parser) str(v *yaml.Node, key string) (string, error) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return "", p.errorf(v, nil, "%s must be a string", key)
	}
	return v.Value, nil
}

func (p parser) strList(v *yaml.Node, key string) ([]string, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, p.errorf(v, nil, "%s must be a list", key)
	}
	out := make([]string, 0, len(v.Content))
	for _, item := range v.Content {
		s, err := p.str(item, key+" entries")
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p parser) mirrors(v *yaml.Node, c *Config) error {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		return p.errorf(v, nil, "mirrors must map a registry host to its mirror, like docker.io: registry.internal:5000")
	}
	return p.mapping(v, "mirrors", nil, func(key string, mv *yaml.Node) error {
		from, err := reference.ParseHost(key)
		if err != nil {
			return p.errorf(mv, err, "mirrors key %q", key)
		}
		s, err := p.str(mv, "a mirror")
		if err != nil {
			return err
		}
		to, err := reference.ParseHost(s)
		if err != nil {
			return p.errorf(mv, err, "mirror %q", s)
		}
		c.Mirrors[from] = to
		return nil
	})
}

func (p parser) insecure(v *yaml.Node, c *Config) error {
	hosts, err := p.strList(v, "insecure")
	if err != nil {
		return err
	}
	for i, h := range hosts {
		if _, err := reference.ParseHost(h); err != nil {
			return p.errorf(v.Content[i], err, "insecure host %q", h)
		}
	}
	c.Insecure = hosts
	return nil
}

func (p parser) images(v *yaml.Node, c *Config) error {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		return p.errorf(v, nil, "images must be a list of entries with ref, digest and platforms")
	}
	names := map[string]int{}
	for _, item := range v.Content {
		im, err := p.image(item)
		if err != nil {
			return err
		}
		name := im.Name()
		if line, dup := names[name]; dup {
			return p.errorf(item, nil, "image %s is listed twice (first on line %d)", name, line)
		}
		names[name] = item.Line
		c.Images = append(c.Images, im)
	}
	return nil
}

func (p parser) image(item *yaml.Node) (Image, error) {
	im := Image{Line: item.Line}
	if item.Kind != yaml.MappingNode {
		return im, p.errorf(item, nil, "an image must be a mapping with ref, digest and platforms")
	}
	var refNode, digestNode, platNode *yaml.Node
	err := p.mapping(item, "an image", imageKeys, func(key string, v *yaml.Node) error {
		switch key {
		case "referrers":
			refs, err := p.referrers(v)
			im.Referrers, im.ownReferrers = refs, true
			return err
		case "verify":
			pol, err := p.policy(v)
			im.Verify, im.ownVerify = pol, true
			return err
		case "ref":
			refNode = v
		case "digest":
			digestNode = v
		case "platforms":
			platNode = v
		}
		return nil
	})
	if err != nil {
		return im, err
	}
	if refNode == nil {
		return im, p.errorf(item, nil, "image has no ref")
	}
	s, err := p.str(refNode, "ref")
	if err != nil {
		return im, err
	}
	if im.Ref, err = reference.Parse(s); err != nil {
		return im, p.errorf(refNode, err, "ref %q", s)
	}
	if digestNode != nil {
		ds, err := p.str(digestNode, "digest")
		if err != nil {
			return im, err
		}
		if im.Digest, err = reference.ParseDigest(ds); err != nil {
			return im, p.errorf(digestNode, err, "digest %q", ds)
		}
	}
	switch {
	case im.Ref.Digest != "" && im.Digest != "" && im.Ref.Digest != im.Digest:
		return im, p.errorf(digestNode, nil, "digest %s disagrees with the digest in ref %s", im.Digest, s)
	case im.Digest == "":
		if im.Ref.Digest == "" {
			return im, p.errorf(item, nil, "image %s has no digest: pin it with \"vendorimg add %s\"", s, s)
		}
		im.Digest = im.Ref.Digest
	}
	im.Ref = im.Ref.WithoutDigest()
	if platNode == nil {
		return im, p.errorf(item, nil, "image %s has no platforms: list them, like [linux/amd64], or write all", s)
	}
	var specs []string
	if platNode.Kind == yaml.ScalarNode {
		if platNode.Value != "all" {
			return im, p.errorf(platNode, fmt.Errorf("%w: platforms must be a list, like [linux/amd64], or all, not %q", errs.ErrInvalidPlatform, platNode.Value), "")
		}
		specs = []string{"all"}
	} else if specs, err = p.strList(platNode, "platforms"); err != nil {
		return im, err
	}
	if im.Platforms, err = platform.ParseSelection(specs); err != nil {
		var bad string
		for i, sp := range specs {
			if _, perr := platform.Parse(sp); perr != nil && sp != "all" && platNode.Kind == yaml.SequenceNode {
				bad = sp
				return im, p.errorf(platNode.Content[i], perr, "platform %q", bad)
			}
		}
		return im, p.errorf(platNode, unwrapPlatform(err), "platforms")
	}
	return im, nil
}

// syntaxError is a yaml.v3 syntax error as a FileError at its line.
func syntaxError(path string, err error) error {
	line := yamlErrorLine(err)
	msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "yaml: "), fmt.Sprintf("line %d: ", line))
	return &FileError{Path: path, Line: line, Msg: msg}
}

// checkEncoding refuses a file that is not UTF-8: yaml.v3 would decode
// UTF-16 (with its byte order mark) and an edit would then rewrite the
// file as UTF-8, so the file's encoding is one the tool keeps. A UTF-8
// byte order mark is UTF-8 and is let through.
func checkEncoding(path string, data []byte) error {
	for _, bom := range []struct {
		mark []byte
		name string
	}{
		{[]byte{0x00, 0x00, 0xfe, 0xff}, "UTF-32"},
		{[]byte{0xff, 0xfe, 0x00, 0x00}, "UTF-32"},
		{[]byte{0xfe, 0xff}, "UTF-16"},
		{[]byte{0xff, 0xfe}, "UTF-16"},
	} {
		if bytes.HasPrefix(data, bom.mark) {
			return &FileError{Path: path, Msg: fmt.Sprintf("the file is %s (it starts with a %s byte order mark): vendorimg.yaml must be UTF-8", bom.name, bom.name)}
		}
	}
	if utf8.Valid(data) && bytes.IndexByte(data, 0) < 0 {
		return nil
	}
	off := bytes.IndexByte(data, 0)
	if bad := firstInvalidUTF8(data); off < 0 || (bad >= 0 && bad < off) {
		off = bad
	}
	msg := fmt.Sprintf("a byte that is not UTF-8 at byte %d: vendorimg.yaml must be UTF-8", off)
	if data[off] == 0 {
		msg = fmt.Sprintf("a NUL byte at byte %d: vendorimg.yaml must be UTF-8 (is it UTF-16 or UTF-32 without a byte order mark?)", off)
	}
	return &FileError{Path: path, Line: 1 + bytes.Count(data[:off], []byte("\n")), Msg: msg}
}

// firstInvalidUTF8 is the offset of the first byte of data that does not
// start a valid UTF-8 sequence, or -1.
func firstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// yamlErrorLine digs the line out of a yaml.v3 syntax error ("yaml: line
// 3: did not find expected key"), or 0.
func yamlErrorLine(err error) int {
	var line int
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr != nil {
		return 0
	}
	return line
}

func unwrapPlatform(err error) error {
	if errors.Is(err, errs.ErrInvalidPlatform) {
		return err
	}
	return errors.Join(errs.ErrInvalidPlatform, err)
}

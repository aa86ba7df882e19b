package reference

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/errs"
)

// DockerHub is the canonical registry name of Docker Hub, as docker and
// containerd write it in image names.
const DockerHub = "docker.io"

// maxNameLength is the limit distribution puts on a repository name; it
// is checked on the normalised name ("docker.io/library/..."), which is
// what registries and index.json see.
const maxNameLength = 255

// Reference names an image in a registry: a repository plus a tag, a
// digest, or both. The zero value is not valid; build one with Parse.
type Reference struct {
	// Registry is the host (and port) of the registry, "docker.io" for
	// Docker Hub.
	Registry string
	// Repository is the path inside the registry, "library/alpine" for
	// Docker Hub's official images.
	Repository string
	// Tag is empty when the reference has only a digest.
	Tag string
	// Digest is empty when the reference has only a tag.
	Digest digest.Digest
}

// Parse parses and normalises an image reference the way docker does (as
// github.com/distribution/reference's ParseNormalizedNamed does): a missing
// registry means docker.io, a single-component Docker Hub name gets
// "library/", and a reference with neither tag nor digest gets the tag
// "latest". Only sha256 digests are accepted. The error wraps
// errs.ErrInvalidReference (and errs.ErrInvalidDigest for a bad digest) and
// says which part is wrong.
func Parse(s string) (Reference, error) {
	bad := func(format string, args ...any) (Reference, error) {
		return Reference{}, fmt.Errorf("%w %q: %s", errs.ErrInvalidReference, s, fmt.Sprintf(format, args...))
	}
	switch {
	case s == "":
		return bad("empty")
	case strings.TrimSpace(s) != s:
		return bad("leading or trailing space")
	}
	// The digest first: only sha256, with our messages.
	var pin digest.Digest
	if name, d, ok := strings.Cut(s, "@"); ok {
		var err error
		if pin, err = ParseDigest(d); err != nil {
			return Reference{}, fmt.Errorf("%w %q: %w", errs.ErrInvalidReference, s, err)
		}
		if name == "" {
			return bad("no repository")
		}
	}
	domain, path, tag, err := parseNormalized(s)
	if err != nil {
		return bad("%s", diagnose(s, err))
	}
	ref := Reference{Registry: domain, Repository: path, Tag: tag, Digest: pin}
	if ref.Registry == "registry-1.docker.io" {
		// Docker Hub's API host; distribution maps only index.docker.io.
		ref.Registry = DockerHub
		if !strings.Contains(ref.Repository, "/") {
			ref.Repository = "library/" + ref.Repository
		}
	}
	if n := len(ref.Name()); n > maxNameLength {
		return bad("name is %d characters, more than %d", n, maxNameLength)
	}
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = "latest"
	}
	return ref, nil
}

// diagnose names the part of s (without its digest) that the grammar
// refused, falling back to err, parseNormalized's error.
func diagnose(s string, err error) string {
	name, _, _ := strings.Cut(s, "@")
	if i := strings.LastIndex(name, ":"); i >= 0 && !strings.Contains(name[i+1:], "/") {
		if tag := name[i+1:]; !isTag(tag) {
			return fmt.Sprintf("tag %q must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", tag)
		}
		name = name[:i]
	}
	if name == "" {
		return "no repository"
	}
	parts := strings.Split(name, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost" || strings.ToLower(parts[0]) != parts[0]) {
		if !isDomain(parts[0]) {
			return fmt.Sprintf("registry host %q is not a host name or address with an optional port", parts[0])
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if !isPathComponent(p) {
			return fmt.Sprintf("path component %q must be lowercase letters and digits separated by '.', '_', '__' or '-'", p)
		}
	}
	if errors.Is(err, errNameTooLong) {
		return fmt.Sprintf("name is more than %d characters", maxNameLength)
	}
	return err.Error()
}

// ParseDigest checks that s is a sha256 digest in its canonical form. Only
// sha256 is accepted, because it is the only algorithm registries and the
// OCI layout agree on in practice; the error wraps errs.ErrInvalidDigest.
func ParseDigest(s string) (digest.Digest, error) {
	d := digest.Digest(s)
	if err := CheckDigest(d); err != nil {
		return "", err
	}
	return d, nil
}

// CheckDigest accepts only canonical sha256 digests: "sha256:" and 64
// lowercase hexadecimal characters. It is the one digest check of
// vendorimg, for references, descriptors and blob paths alike, and it
// keeps a hostile digest such as "sha256:../../x" from becoming a path.
// The error wraps errs.ErrInvalidDigest.
func CheckDigest(d digest.Digest) error {
	algo, hex, ok := strings.Cut(string(d), ":")
	switch {
	case !ok:
		return fmt.Errorf("%w %q: want sha256:<64 hex characters>", errs.ErrInvalidDigest, string(d))
	case algo != "sha256":
		return fmt.Errorf("%w %q: algorithm %q is not supported, only sha256", errs.ErrInvalidDigest, string(d), algo)
	case !isLowerHex(hex, 64):
		return fmt.Errorf("%w %q: want sha256: followed by 64 lowercase hexadecimal characters", errs.ErrInvalidDigest, string(d))
	}
	return nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Short is a digest's first 12 hexadecimal characters after its
// algorithm, "sha256:4abcf2066143", the form vendorimg prints digests and
// image IDs in when a full one would not fit.
func Short(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

// Name is the repository's full name, "docker.io/library/alpine".
func (r Reference) Name() string { return r.Registry + "/" + r.Repository }

// String is the full reference: name, then ":tag" and "@digest" when set.
// It is what vendorimg writes as the image name in index.json.
func (r Reference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// Familiar is the short form docker prints: "alpine:3.19" rather than
// "docker.io/library/alpine:3.19".
func (r Reference) Familiar() string {
	s := r.String()
	if r.Registry != DockerHub {
		return s
	}
	// Shorten only as far as the short form still names r: "library/a/b"
	// without "library/" would be the user "a"'s repository, and a first
	// component that looks like a host would become the registry.
	short := strings.TrimPrefix(s, DockerHub+"/")
	for _, f := range []string{strings.TrimPrefix(short, "library/"), short} {
		if again, err := Parse(f); err == nil && again == r {
			return f
		}
	}
	return s
}

// WithDigest returns r pinned to d, keeping its tag.
func (r Reference) WithDigest(d digest.Digest) Reference {
	r.Digest = d
	return r
}

// WithoutDigest returns r with its tag only.
func (r Reference) WithoutDigest() Reference {
	r.Digest = ""
	return r
}

// ParseHost checks a registry host as written in vendorimg.yaml's mirrors
// and insecure lists: a host name or address with an optional port.
func ParseHost(s string) (string, error) {
	if !isDomain(s) {
		return "", fmt.Errorf("%w: registry host %q is not a host name or address with an optional port", errs.ErrInvalidReference, s)
	}
	switch s {
	case "index.docker.io", "registry-1.docker.io":
		return DockerHub, nil
	}
	return s, nil
}

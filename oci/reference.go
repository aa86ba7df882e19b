package oci

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/errs"
)

// DockerHub is the canonical registry name of Docker Hub, as docker and
// containerd write it in image names.
const DockerHub = "docker.io"

// Grammar from the distribution reference package (reference/regexp.go),
// restated here so that the error can say which part is wrong.
var (
	pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	tagPattern    = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	hostPattern   = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	hexPattern    = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// maxNameLength is the limit distribution puts on a repository name.
const maxNameLength = 255

// Reference names an image in a registry: a repository plus a tag, a
// digest, or both. The zero value is not valid; build one with
// ParseReference.
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

// ParseReference parses and normalises an image reference the way docker
// does: a missing registry means docker.io, a single-component Docker Hub
// name gets "library/", and a reference with neither tag nor digest gets the
// tag "latest". The error wraps errs.ErrInvalidReference or
// errs.ErrInvalidDigest and says which part is wrong.
func ParseReference(s string) (Reference, error) {
	bad := func(format string, args ...any) (Reference, error) {
		return Reference{}, fmt.Errorf("%w %q: %s", errs.ErrInvalidReference, s, fmt.Sprintf(format, args...))
	}
	if s == "" {
		return bad("empty")
	}
	if strings.TrimSpace(s) != s {
		return bad("leading or trailing space")
	}
	var ref Reference
	rest := s
	if i := strings.Index(rest, "@"); i >= 0 {
		d, err := ParseDigest(rest[i+1:])
		if err != nil {
			return Reference{}, fmt.Errorf("%w %q: %w", errs.ErrInvalidReference, s, err)
		}
		ref.Digest = d
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i+1:], "/") {
		ref.Tag = rest[i+1:]
		rest = rest[:i]
		if !tagPattern.MatchString(ref.Tag) {
			return bad("tag %q must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", ref.Tag)
		}
	}
	if rest == "" {
		return bad("no repository")
	}
	parts := strings.Split(rest, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost" || strings.ToLower(parts[0]) != parts[0]) {
		ref.Registry = parts[0]
		parts = parts[1:]
		if !hostPattern.MatchString(ref.Registry) {
			return bad("registry host %q is not a host name or address with an optional port", ref.Registry)
		}
	} else {
		ref.Registry = DockerHub
	}
	switch ref.Registry {
	case "index.docker.io", "registry-1.docker.io":
		ref.Registry = DockerHub
	}
	if ref.Registry == DockerHub && len(parts) == 1 {
		parts = []string{"library", parts[0]}
	}
	for _, p := range parts {
		if !pathComponent.MatchString(p) {
			return bad("path component %q must be lowercase letters and digits separated by '.', '_', '__' or '-'", p)
		}
	}
	ref.Repository = strings.Join(parts, "/")
	if n := len(ref.Name()); n > maxNameLength {
		return bad("name is %d characters, more than %d", n, maxNameLength)
	}
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = "latest"
	}
	return ref, nil
}

// ParseDigest checks that s is a sha256 digest in its canonical form. Only
// sha256 is accepted, because it is the only algorithm registries and the
// OCI layout agree on in practice; the error wraps errs.ErrInvalidDigest.
func ParseDigest(s string) (digest.Digest, error) {
	algo, hex, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("%w %q: want sha256:<64 hex characters>", errs.ErrInvalidDigest, s)
	}
	if algo != "sha256" {
		return "", fmt.Errorf("%w %q: algorithm %q is not supported, only sha256", errs.ErrInvalidDigest, s, algo)
	}
	if !hexPattern.MatchString(hex) {
		return "", fmt.Errorf("%w %q: want 64 lowercase hexadecimal characters after sha256:", errs.ErrInvalidDigest, s)
	}
	return digest.Digest(s), nil
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
		if again, err := ParseReference(f); err == nil && again == r {
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
	if !hostPattern.MatchString(s) {
		return "", fmt.Errorf("%w: registry host %q is not a host name or address with an optional port", errs.ErrInvalidReference, s)
	}
	switch s {
	case "index.docker.io", "registry-1.docker.io":
		return DockerHub, nil
	}
	return s, nil
}

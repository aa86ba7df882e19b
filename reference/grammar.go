package reference

import (
	"errors"
	"fmt"
	"strings"
)

// This file is the reference grammar of docker and
// github.com/distribution/reference, written out by hand: that package
// compiles its regular expressions at package init, the costliest init
// of the binary (STYLE.md 17). Every function here answers exactly what
// its distribution counterpart answers (parseNormalized refuses one thing
// more, see there), and FuzzParseMatchesDistribution checks that against
// distribution itself.
// Go's regexp classes used by the grammar are all ASCII, so working on
// bytes is the same as working on runes: any other byte matches nothing.

// maxTagLength is the length limit of a tag: `[\w][\w.-]{0,127}`.
const maxTagLength = 128

// Errors distribution's parser gives, with its texts (less its "invalid
// reference format: " prefix), for diagnose to fall back on when none of
// a reference's parts is wrong on its own.
var (
	errNameTooLong      = errors.New("repository name must not be more than 255 characters")
	errNameUppercase    = errors.New("repository name must be lowercase")
	errReferenceInvalid = errors.New("invalid reference format")
)

// parseNormalized is distribution's ParseNormalizedNamed on s, a
// reference whose digest, if any, Parse has already checked: it returns
// the domain, path and tag distribution would, or distribution's error.
// Unlike distribution, it refuses a first component that looks like a
// host but is not one ("a_b.c/x"), which distribution reads as a path
// component of a name without a domain: it would leave vendorimg with no
// registry, and index.json with a name ("/a_b.c/x:latest") it cannot
// parse back.
func parseNormalized(s string) (domain, path, tag string, err error) {
	if isLowerHex(s, 64) {
		return "", "", "", fmt.Errorf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s)
	}
	domain, remainder := splitDockerDomain(s)
	remote, _, _ := strings.Cut(remainder, ":")
	if strings.ToLower(remote) != remote {
		return "", "", "", fmt.Errorf("repository name (%s) must be lowercase", remote)
	}
	// The checked digest is the whole of s after its first '@', which
	// comes after its first '/' (a digest has none).
	full, _, _ := strings.Cut(domain+"/"+remainder, "@")
	domain, path, tag, ok := matchName(full)
	switch {
	case !ok && matchesName(strings.ToLower(full)):
		return "", "", "", errNameUppercase
	case !ok:
		return "", "", "", errReferenceInvalid
	case len(path) > maxNameLength:
		return "", "", "", errNameTooLong
	case domain == "":
		return "", "", "", errReferenceInvalid // diagnose names the host
	}
	return domain, path, tag, nil
}

// matchesName reports whether matchName accepts s.
func matchesName(s string) bool {
	_, _, _, ok := matchName(s)
	return ok
}

// splitDockerDomain splits name into the registry docker would use and
// the rest, adding Docker Hub's defaults. The first component is a
// registry host when it is "localhost", contains '.' or ':', or has an
// uppercase letter (repositories are lowercase); whether it is a valid
// host is left to matchName.
func splitDockerDomain(name string) (domain, remainder string) {
	first, rest, ok := strings.Cut(name, "/")
	switch {
	case !ok:
		// "alpine" and "alpine:3", never "host:port".
		return DockerHub, "library/" + name
	case first == "index.docker.io":
		domain, remainder = DockerHub, rest
	case first == "localhost" || strings.ContainsAny(first, ".:") || strings.ToLower(first) != first:
		domain, remainder = first, rest
	default:
		domain, remainder = DockerHub, name
	}
	if domain == DockerHub && !strings.Contains(remainder, "/") {
		remainder = "library/" + remainder
	}
	return domain, remainder
}

// matchName matches s, which has at least one '/', against
// `(?:domain/)?path(?::tag)?`, the name part of distribution's
// ReferenceRegexp, and returns its parts. Neither path components nor tags
// contain ':' or '/', so the domain, if any, is the first component and
// the tag starts at the first ':' after it. Like the regexp, it falls
// back to reading a first component that is no host as a path component.
func matchName(s string) (domain, path, tag string, ok bool) {
	first, rest, _ := strings.Cut(s, "/")
	path, tag, tagged := strings.Cut(rest, ":")
	if tagged && !isTag(tag) {
		return "", "", "", false
	}
	for c := range strings.SplitSeq(path, "/") {
		if !isPathComponent(c) {
			return "", "", "", false
		}
	}
	switch {
	case isDomain(first):
		return first, path, tag, true
	case isPathComponent(first):
		return "", first + "/" + path, tag, true
	}
	return "", "", "", false
}

// isTag matches `[\w][\w.-]{0,127}`: 1 to 128 letters, digits, '_', '.'
// or '-', not starting with '.' or '-'.
func isTag(s string) bool {
	if s == "" || len(s) > maxTagLength || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// isPathComponent matches `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`: runs
// of lowercase letters and digits separated by one '.', one or two '_',
// or any number of '-'.
func isPathComponent(s string) bool {
	i := 0
	for {
		start := i
		for i < len(s) && isLowerAlnum(s[i]) {
			i++
		}
		if i == start {
			return false // empty, or a separator not followed by a run
		}
		if i == len(s) {
			return true
		}
		switch s[i] {
		case '.':
			i++
		case '_':
			i++
			if i < len(s) && s[i] == '_' {
				i++
			}
		case '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

// isDomain matches distribution's DomainRegexp, anchored: a host name of
// dot-separated labels (letters, digits and inner '-'), an IPv4 address
// written so, or an IPv6 address in brackets (hexadecimal digits and
// ':'), then an optional ":port" of decimal digits.
func isDomain(s string) bool {
	var port string // after the host
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || !isIPv6(s[1:end]) {
			return false
		}
		port = s[end+1:]
	} else {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			i = len(s)
		}
		for label := range strings.SplitSeq(s[:i], ".") {
			if !isLabel(label) {
				return false
			}
		}
		port = s[i:]
	}
	return port == "" || port[0] == ':' && isDigits(port[1:])
}

// isLabel matches `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
func isLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// isIPv6 matches `[a-fA-F0-9:]+`, what distribution takes for an IPv6
// address; it is no check that s is one.
func isIPv6(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isHexDigit(c) && c != ':' {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

func isAlnum(c byte) bool { return isLowerAlnum(c) || 'A' <= c && c <= 'Z' }

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

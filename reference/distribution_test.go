package reference

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	distref "github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/errs"
)

// This file checks the hand-written grammar against
// github.com/distribution/reference, which only tests link: oracleParse
// and oracleParseHost are Parse and ParseHost as they were when they
// called distribution, less one bug (see oracleParse), and the
// grammar's functions are compared with distribution's exported regexps.

// distPatterns are distribution's patterns, anchored.
var distPatterns = sync.OnceValue(func() struct{ tag, domain, component *regexp.Regexp } {
	a := func(p string) *regexp.Regexp { return regexp.MustCompile(`^(?:` + p + `)$`) }
	return struct{ tag, domain, component *regexp.Regexp }{
		tag:    a(distref.TagRegexp.String()),
		domain: a(distref.DomainRegexp.String()),
		// NameRegexp on one component without a slash: a path component.
		component: a(distref.NameRegexp.String()),
	}
})

// oracleParse is Parse as it was on distribution's ParseNormalizedNamed,
// and like Parse it refuses what distribution parses without a domain
// ("a_b.c/x": a first component that looks like a host but is none is
// read as a path component): it used to return an empty Registry.
func oracleParse(s string) (Reference, error) {
	bad := func(format string, args ...any) (Reference, error) {
		return Reference{}, fmt.Errorf("%w %q: %s", errs.ErrInvalidReference, s, fmt.Sprintf(format, args...))
	}
	switch {
	case s == "":
		return bad("empty")
	case strings.TrimSpace(s) != s:
		return bad("leading or trailing space")
	}
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
	named, err := distref.ParseNormalizedNamed(s)
	if err != nil {
		return bad("%s", oracleDiagnose(s, err))
	}
	if distref.Domain(named) == "" {
		return bad("%s", oracleDiagnose(s, distref.ErrReferenceInvalidFormat))
	}
	ref := Reference{Registry: distref.Domain(named), Repository: distref.Path(named), Digest: pin}
	if t, ok := named.(distref.Tagged); ok {
		ref.Tag = t.Tag()
	}
	if ref.Registry == "registry-1.docker.io" {
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

// oracleDiagnose is diagnose as it was on distribution's patterns and
// errors.
func oracleDiagnose(s string, err error) string {
	name, _, _ := strings.Cut(s, "@")
	re := distPatterns()
	if i := strings.LastIndex(name, ":"); i >= 0 && !strings.Contains(name[i+1:], "/") {
		if tag := name[i+1:]; !re.tag.MatchString(tag) {
			return fmt.Sprintf("tag %q must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", tag)
		}
		name = name[:i]
	}
	if name == "" {
		return "no repository"
	}
	parts := strings.Split(name, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost" || strings.ToLower(parts[0]) != parts[0]) {
		if !re.domain.MatchString(parts[0]) {
			return fmt.Sprintf("registry host %q is not a host name or address with an optional port", parts[0])
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if !re.component.MatchString(p) {
			return fmt.Sprintf("path component %q must be lowercase letters and digits separated by '.', '_', '__' or '-'", p)
		}
	}
	if errors.Is(err, distref.ErrNameTooLong) {
		return fmt.Sprintf("name is more than %d characters", maxNameLength)
	}
	return strings.TrimPrefix(err.Error(), "invalid reference format: ")
}

// oracleParseHost is ParseHost as it was on distribution's DomainRegexp.
func oracleParseHost(s string) (string, error) {
	if !distPatterns().domain.MatchString(s) {
		return "", fmt.Errorf("%w: registry host %q is not a host name or address with an optional port", errs.ErrInvalidReference, s)
	}
	switch s {
	case "index.docker.io", "registry-1.docker.io":
		return DockerHub, nil
	}
	return s, nil
}

// distributionSeeds are inputs where a hand-written grammar is easy to get
// wrong: hosts, ports, IPv6, case, separators, lengths and digests.
func distributionSeeds() []string {
	const d = "sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b"
	hex := d[len("sha256:"):]
	long := strings.Repeat("a", 300)
	return []string{
		"alpine", "alpine:3.19.1", "alpine@" + d, "alpine:3@" + d, "library/alpine", "docker.io/alpine",
		"docker.io/library/alpine:3.19.1@" + d, "index.docker.io/busybox", "index.docker.io/a/b",
		"registry-1.docker.io/busybox", "registry-1.docker.io/user/app:v1", "INDEX.docker.io/x",
		"localhost", "localhost/x", "localhost:5000/x", "localhost:5000", "localhost:5000/x@" + d,
		"Localhost/x", "example.test/x", "example.test:5000/a/b:c", "example.test:/x", "example.test:5000:1/x",
		"example.test:http/x", "https://example.test/x", "example.test./x", ".example.test/x",
		"-bad.test/x", "bad-.test/x", "a--b.test/x", "a.b.c.d.e/x", "a_b.c/x", "a__b.c/x/y:t", "A_b.c/x",
		"a-b.c_d/x", "127.0.0.1/x", "127.0.0.1:5000/a/b:tag", "1.2.3.4.5/x", "256.1.1.1/x",
		"[::1]/x", "[::1]:5000/x", "[::1]:5000/x:v2", "[::1]", "[::1]:5000", "[]/x", "[::1/x", "::1/x",
		"[fe80::1%eth0]/x", "[FE80::A]:1/x", "[::1]]:1/x", "[::1]x/x", "[g::1]/x",
		"Registry/app", "REGISTRY:5000/app", "Alpine", "docker.io/Library/alpine", "a/B", "\u212a/x", "x\u212a",
		"a_b/c__d/e-f--g/h.i:T_1", "a___b", "a._b", "a-_b", "a.", ".a", "a-", "_a", "a..b", "a__", "a----b",
		"a:", "a:-x", "a:.x", "a:_x", "a:x.-_", "a:" + strings.Repeat("t", 128), "a:" + strings.Repeat("t", 129),
		"a:b:c", "a:B:c", "a/b:c/d", "a:b/c", ":x", "@" + d, "a@", "a@sha512:" + strings.Repeat("a", 128),
		"a@" + d + "@" + d, "a@sha256:" + strings.ToUpper(hex), hex, hex + "@" + d, hex + ":tag", "x/" + hex,
		strings.ToUpper(hex), hex[:63], long, "example.test/" + long[:242], "example.test/" + long[:243],
		long[:240], long[:246], long[:247], "docker.io/" + long[:256], "registry-1.docker.io/" + long[:240],
		"registry-1.docker.io/" + long[:255], "a_b.c/" + long[:255], "a//b", "a/", "/a", "a/../b",
		" alpine", "alpine\n", "al pine", "alpine:3 19", "\u00a0alpine", "a\u0085", "a\xff", "\xff/x", "a/\xff:t",
		"\u0130/x", "a:\u212a", "", "/", ":", "@", "a:b@c",
	}
}

func FuzzParseMatchesDistribution(f *testing.F) {
	for _, s := range distributionSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkMatchesDistribution(t, s)
	})
}

// TestParseMatchesDistribution runs the fuzz target's comparisons on
// its seeds.
func TestParseMatchesDistribution(t *testing.T) {
	for _, s := range distributionSeeds() {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) { checkMatchesDistribution(t, s) })
	}
}

// checkMatchesDistribution compares Parse, ParseHost and the grammar's
// functions on s with distribution's answers.
func checkMatchesDistribution(t *testing.T, s string) {
	t.Helper()
	got, err := Parse(s)
	want, wantErr := oracleParse(s)
	if got != want || fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Errorf("Parse(%q) = %+v, %v, want %+v, %v (distribution)", s, got, err, want, wantErr)
	}
	for _, sentinel := range []error{errs.ErrInvalidReference, errs.ErrInvalidDigest} {
		if errors.Is(err, sentinel) != errors.Is(wantErr, sentinel) {
			t.Errorf("Parse(%q) = %v: errors.Is(%v) = %v, want %v", s, err, sentinel, errors.Is(err, sentinel), !errors.Is(err, sentinel))
		}
	}
	host, err := ParseHost(s)
	wantHost, wantErr := oracleParseHost(s)
	if host != wantHost || fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Errorf("ParseHost(%q) = %q, %v, want %q, %v (distribution)", s, host, err, wantHost, wantErr)
	}
	re := distPatterns()
	for _, c := range []struct {
		name string
		got  bool
		re   *regexp.Regexp
	}{
		{"isTag", isTag(s), re.tag},
		{"isDomain", isDomain(s), re.domain},
		{"isPathComponent", isPathComponent(s), re.component},
	} {
		// A '/' makes NameRegexp more than a path component.
		if c.name == "isPathComponent" && strings.Contains(s, "/") {
			continue
		}
		if want := c.re.MatchString(s); c.got != want {
			t.Errorf("%s(%q) = %v, want %v (`%s`)", c.name, s, c.got, want, c.re)
		}
	}
	checkMatchName(t, s)
}

// checkMatchName compares matchName with distribution's Parse on names
// with a '/' and no digest, the only ones parseNormalized gives it.
func checkMatchName(t *testing.T, s string) {
	t.Helper()
	if !strings.Contains(s, "/") || strings.Contains(s, "@") {
		return
	}
	domain, path, tag, ok := matchName(s)
	ref, err := distref.Parse(s)
	if errors.Is(err, distref.ErrNameTooLong) {
		if !ok || len(path) <= maxNameLength {
			t.Errorf("matchName(%q) = %q, %q, %q, %v, want a path of more than %d characters", s, domain, path, tag, ok, maxNameLength)
		}
		return
	}
	named, isNamed := ref.(distref.Named)
	if ok != (err == nil) || err == nil && !isNamed {
		t.Fatalf("matchName(%q) ok = %v, distribution's Parse = %v, %v", s, ok, ref, err)
	}
	if !ok {
		return
	}
	var wantTag string
	if tagged, isTagged := ref.(distref.Tagged); isTagged {
		wantTag = tagged.Tag()
	}
	if domain != distref.Domain(named) || path != distref.Path(named) || tag != wantTag {
		t.Errorf("matchName(%q) = %q, %q, %q, want %q, %q, %q (distribution)", s, domain, path, tag, distref.Domain(named), distref.Path(named), wantTag)
	}
}

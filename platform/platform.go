package platform

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
)

// knownOS and knownArch are the values image-spec v1.1 points to (Go's
// GOOS and GOARCH). They are listed so that a typo is caught when the pin
// is written, not after a download finds nothing to match.
var (
	knownOS = []string{"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js",
		"linux", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows"}
	knownArch = []string{"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le",
		"mipsle", "ppc64", "ppc64le", "riscv64", "s390x", "sparc64", "wasm"}
	variantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.]*$`)
)

// kernelArch maps the architecture names of kernels (uname -m), engines'
// /info and some registries to OCI's (Go's), with the variant each
// implies, as containerd normalises them: armel is arm/v6, armhf arm/v7.
// It is the one table for parsing, matching and engines.
var kernelArch = map[string]struct{ arch, variant string }{
	"x86_64": {"amd64", ""}, "x86-64": {"amd64", ""},
	"aarch64": {"arm64", ""},
	"armv8l":  {"arm", "v8"}, "armv7l": {"arm", "v7"}, "armv7": {"arm", "v7"}, "armhf": {"arm", "v7"},
	"armv6l": {"arm", "v6"}, "armel": {"arm", "v6"},
	"armv5tel": {"arm", "v5"}, "armv5l": {"arm", "v5"},
	"i386": {"386", ""}, "i486": {"386", ""}, "i586": {"386", ""}, "i686": {"386", ""},
	"loongarch64": {"loong64", ""},
}

// defaultVariant is the variant a platform without one means, as in
// containerd's platform normalisation.
var defaultVariant = map[string]string{"arm64": "v8", "arm": "v7", "amd64": "v1"}

// Platform is an os/architecture[/variant] triple such as linux/arm64 or
// linux/arm/v7.
type Platform struct {
	OS           string
	Architecture string
	Variant      string
}

// Parse parses "os/arch" or "os/arch/variant". The os and
// architecture must be known Go values, in lowercase; the error wraps
// errs.ErrInvalidPlatform and says which part is wrong.
func Parse(s string) (Platform, error) {
	bad := func(format string, args ...any) (Platform, error) {
		return Platform{}, fmt.Errorf("%w %q: %s", errs.ErrInvalidPlatform, s, fmt.Sprintf(format, args...))
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return bad("want os/arch or os/arch/variant, for example linux/amd64 or linux/arm/v7")
	}
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
		if !variantPattern.MatchString(p.Variant) {
			return bad("variant %q must be lowercase letters, digits and dots, like v7 or v8", p.Variant)
		}
	}
	if !slices.Contains(knownOS, p.OS) {
		return bad("unknown os %q (known: %s)", p.OS, strings.Join(knownOS, ", "))
	}
	if alias, ok := kernelArch[p.Architecture]; ok {
		if alias.variant != "" {
			return bad("architecture %q is spelled %q in OCI images (%s/%s/%s)", p.Architecture, alias.arch, p.OS, alias.arch, alias.variant)
		}
		return bad("architecture %q is spelled %q in OCI images", p.Architecture, alias.arch)
	}
	if !slices.Contains(knownArch, p.Architecture) {
		return bad("unknown architecture %q (known: %s)", p.Architecture, strings.Join(knownArch, ", "))
	}
	return p, nil
}

// String is "os/arch" or "os/arch/variant".
func (p Platform) String() string {
	if p.Variant == "" {
		return p.OS + "/" + p.Architecture
	}
	return p.OS + "/" + p.Architecture + "/" + p.Variant
}

// Matches reports whether an image's platform object satisfies p. A
// missing variant on either side means the architecture's default variant
// (arm64 is arm64/v8, arm is arm/v7), so linux/arm64 matches an index entry
// for linux/arm64/v8 and the reverse. OS version and features are ignored.
func (p Platform) Matches(q ocispec.Platform) bool {
	arch, variant := q.Architecture, q.Variant
	if alias, ok := kernelArch[arch]; ok {
		arch = alias.arch
		if variant == "" {
			variant = alias.variant
		}
	}
	if p.OS != q.OS || p.Architecture != arch {
		return false
	}
	return normVariant(p.Architecture, p.Variant) == normVariant(arch, variant)
}

// FromKernel is the platform of a machine whose kernel (or engine, in its
// /info) reports osType and arch, such as "linux" and "x86_64" or
// "armv7l": the names are mapped to OCI's (amd64, arm/v7) and then parsed.
// The error wraps errs.ErrInvalidPlatform.
func FromKernel(osType, arch string) (Platform, error) {
	osType, arch = strings.ToLower(strings.TrimSpace(osType)), strings.ToLower(strings.TrimSpace(arch))
	s := osType + "/" + arch
	if m, ok := kernelArch[arch]; ok {
		s = osType + "/" + m.arch
		if m.variant != "" {
			s += "/" + m.variant
		}
	}
	return Parse(s)
}

func normVariant(arch, variant string) string {
	if variant == "" {
		return defaultVariant[arch]
	}
	return variant
}

// Selection is the set of platforms an image is vendored for: either every
// platform the image has, or a list. The zero value selects nothing.
type Selection struct {
	All       bool
	Platforms []Platform
}

// All is the selection written as "all" in vendorimg.yaml.
var All = Selection{All: true}

// ParseSelection parses a list of platforms as given on the command line or
// in vendorimg.yaml; the single word "all" selects every platform.
// Duplicates are an error, so that the written file stays tidy.
func ParseSelection(specs []string) (Selection, error) {
	if len(specs) == 1 && specs[0] == "all" {
		return All, nil
	}
	var sel Selection
	for _, s := range specs {
		if s == "all" {
			return Selection{}, fmt.Errorf("%w %q: \"all\" cannot be combined with other platforms", errs.ErrInvalidPlatform, s)
		}
		p, err := Parse(s)
		if err != nil {
			return Selection{}, err
		}
		for _, q := range sel.Platforms {
			if q.Matches(p.OCI()) {
				return Selection{}, fmt.Errorf("%w %q: listed twice (as %s)", errs.ErrInvalidPlatform, s, q)
			}
		}
		sel.Platforms = append(sel.Platforms, p)
	}
	if len(sel.Platforms) == 0 {
		return Selection{}, fmt.Errorf("%w: no platform given (list some, or \"all\")", errs.ErrInvalidPlatform)
	}
	return sel, nil
}

// Matches reports whether an image with platform q is selected. A nil
// platform (an index entry without one, as attestation manifests and some
// artifact indexes have) is selected only by "all".
func (s Selection) Matches(q *ocispec.Platform) bool {
	if s.All {
		return true
	}
	if q == nil {
		return false
	}
	for _, p := range s.Platforms {
		if p.Matches(*q) {
			return true
		}
	}
	return false
}

// Strings is the selection as vendorimg.yaml writes it.
func (s Selection) Strings() []string {
	if s.All {
		return []string{"all"}
	}
	out := make([]string, len(s.Platforms))
	for i, p := range s.Platforms {
		out[i] = p.String()
	}
	return out
}

// String is the selection as a comma-separated list, or "all".
func (s Selection) String() string { return strings.Join(s.Strings(), ",") }

// Equal reports whether two selections select the same platforms, in any
// order.
func (s Selection) Equal(t Selection) bool {
	if s.All || t.All {
		return s.All == t.All
	}
	if len(s.Platforms) != len(t.Platforms) {
		return false
	}
	for _, p := range s.Platforms {
		if o := p.OCI(); !t.Matches(&o) {
			return false
		}
	}
	return true
}

// FromOCI returns the platform an image-spec platform object describes,
// in the form Parse reads.
func FromOCI(p ocispec.Platform) Platform {
	return Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// OCI is p as an image-spec platform object.
func (p Platform) OCI() ocispec.Platform {
	return ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

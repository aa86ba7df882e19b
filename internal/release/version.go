package release

import (
	"fmt"
	"regexp"
	"sync"
)

// Version is a release's version in the spellings each place needs.
type Version struct {
	// Plain is the version without a leading "v": "1.2.3", "1.2.3-rc.1".
	// Archive names use it.
	Plain string
	// Go is Plain with a leading "v", what go install of the module's tag
	// records, and what the binary prints.
	Go string
	// Python is the same version as PEP 440 spells it: "1.2.3",
	// "1.2.3rc1". Wheels use it.
	Python string
}

// versionRE is the versions a release may have: MAJOR.MINOR.PATCH with an
// optional pre-release of the three kinds PEP 440 also has, so that the
// binary's and the wheels' versions say the same thing.
var versionRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-(alpha|beta|rc)\.(0|[1-9][0-9]*))?$`)
})

// pep440Pre is each pre-release kind's PEP 440 letter.
var pep440Pre = map[string]string{"alpha": "a", "beta": "b", "rc": "rc"}

// ParseVersion reads a release version: "1.2.3" or "v1.2.3", optionally
// with "-alpha.N", "-beta.N" or "-rc.N". Other semver pre-releases and
// build metadata are refused: PEP 440 has no spelling that keeps their
// order.
func ParseVersion(s string) (Version, error) {
	m := versionRE().FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("version %q: want MAJOR.MINOR.PATCH, optionally with -alpha.N, -beta.N or -rc.N (such as 1.2.3 or 1.2.3-rc.1)", s)
	}
	plain := m[1] + "." + m[2] + "." + m[3]
	python := plain
	if m[4] != "" {
		plain += "-" + m[4] + "." + m[5]
		python += pep440Pre[m[4]] + m[5]
	}
	return Version{Plain: plain, Go: "v" + plain, Python: python}, nil
}

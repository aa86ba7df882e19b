package release

import (
	"bytes"
	"debug/macho"
	"fmt"
)

// Platform is an OS and architecture vendorimg is released for.
type Platform struct{ OS, Arch string }

// String is "os/arch".
func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Platforms are the platforms a release is built for. Windows is not one:
// vendorimg locks the layout with flock(2) on its folder, which Windows
// lacks (internal/flock), so every command that reads or writes a layout
// would fail there.
var Platforms = []Platform{
	{"linux", "amd64"},
	{"linux", "arm64"},
	{"darwin", "amd64"},
	{"darwin", "arm64"},
}

// linuxArch and macArch are each architecture's name in wheel tags.
var (
	linuxArch = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}
	macArch   = map[string]string{"amd64": "x86_64", "arm64": "arm64"}
)

// wheelPlatforms is the platform tags of p's wheel. The binaries are
// static (CGO_ENABLED=0), so a Linux one runs on any glibc and any musl:
// it takes the oldest manylinux tag pip still knows (2014, glibc 2.17) and
// musllinux 1.1. A macOS binary's tag is the macOS version it was linked
// for, read from binary (its LC_BUILD_VERSION), so that the tag is what
// the toolchain promised, not what we guess.
func wheelPlatforms(p Platform, binary []byte) ([]string, error) {
	switch p.OS {
	case "linux":
		a, ok := linuxArch[p.Arch]
		if !ok {
			return nil, fmt.Errorf("no wheel tag for %s", p)
		}
		return []string{"manylinux_2_17_" + a, "manylinux2014_" + a, "musllinux_1_1_" + a}, nil
	case "darwin":
		a, ok := macArch[p.Arch]
		if !ok {
			return nil, fmt.Errorf("no wheel tag for %s", p)
		}
		major, minor, err := macMinOS(binary)
		if err != nil {
			return nil, fmt.Errorf("reading the %s binary's minimum macOS: %w", p, err)
		}
		if major >= 11 {
			// pip and uv match macOS 11 and later by major version only.
			minor = 0
		}
		return []string{fmt.Sprintf("macosx_%d_%d_%s", major, minor, a)}, nil
	}
	return nil, fmt.Errorf("no wheel tag for %s", p)
}

// lcBuildVersion is the Mach-O load command that names the minimum OS
// version (struct build_version_command).
const lcBuildVersion = 0x32

// macMinOS reads the minimum macOS version from a Mach-O binary's
// LC_BUILD_VERSION load command.
func macMinOS(b []byte) (major, minor uint32, err error) {
	f, err := macho.NewFile(bytes.NewReader(b))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	for _, l := range f.Loads {
		raw := l.Raw()
		if len(raw) < 16 || f.ByteOrder.Uint32(raw) != lcBuildVersion {
			continue
		}
		// cmd, cmdsize, platform, minos (xxxx.yy.zz nibbles), sdk, ...
		minos := f.ByteOrder.Uint32(raw[12:16])
		return minos >> 16, (minos >> 8) & 0xff, nil
	}
	return 0, 0, fmt.Errorf("no LC_BUILD_VERSION load command")
}

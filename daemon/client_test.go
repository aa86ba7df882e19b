package daemon

import (
	"errors"
	"testing"

	"github.com/moby/moby/api/types/system"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/platform"
)

func TestEnginePlatform(t *testing.T) {
	for _, tc := range []struct {
		os, arch string
		want     string
		err      error
	}{
		{"linux", "x86_64", "linux/amd64", nil},
		{"linux", "aarch64", "linux/arm64", nil},
		{"linux", "arm64", "linux/arm64", nil},
		{"linux", "armv7l", "linux/arm/v7", nil},
		{"linux", "armv6l", "linux/arm/v6", nil},
		{"linux", "i686", "linux/386", nil},
		{"linux", "ppc64le", "linux/ppc64le", nil},
		{"linux", "s390x", "linux/s390x", nil},
		{"linux", "riscv64", "linux/riscv64", nil},
		{"linux", "loongarch64", "linux/loong64", nil},
		{"windows", "x86_64", "windows/amd64", nil},
		{"Linux", " X86_64 ", "linux/amd64", nil},
		{"linux", "", "", errs.ErrInvalidPlatform},
		{"", "x86_64", "", errs.ErrInvalidPlatform},
		{"linux", "pdp11", "", errs.ErrInvalidPlatform},
		{"linux", "arm/v7/x", "", errs.ErrInvalidPlatform},
	} {
		t.Run(tc.os+"-"+tc.arch, func(t *testing.T) {
			got, err := EnginePlatform(tc.os, tc.arch)
			if !errors.Is(err, tc.err) {
				t.Fatalf("EnginePlatform(%q, %q) = %v, want %v", tc.os, tc.arch, err, tc.err)
			}
			if err == nil && got.String() != tc.want {
				t.Errorf("EnginePlatform(%q, %q) = %s, want %s", tc.os, tc.arch, got, tc.want)
			}
		})
	}
}

func FuzzEnginePlatform(f *testing.F) {
	for _, s := range []string{"x86_64", "aarch64", "armv7l", "s390x", "", "arm/v7"} {
		f.Add("linux", s)
	}
	f.Fuzz(func(t *testing.T, osType, arch string) {
		p, err := EnginePlatform(osType, arch)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidPlatform) {
				t.Errorf("EnginePlatform(%q, %q) = %v, want errs.ErrInvalidPlatform", osType, arch, err)
			}
			return
		}
		// What it returns is a platform vendorimg.yaml could hold.
		if q, err := platform.Parse(p.String()); err != nil || q != p {
			t.Errorf("EnginePlatform(%q, %q) = %s, which does not parse back: %v", osType, arch, p, err)
		}
	})
}

func TestEngineFromInfo(t *testing.T) {
	for _, tc := range []struct {
		name  string
		info  system.Info
		store string
	}{
		{"classic", system.Info{OSType: "linux", Architecture: "x86_64", Driver: "overlay2", DriverStatus: [][2]string{{"Backing Filesystem", "extfs"}}}, StoreClassic},
		{"containerd", system.Info{OSType: "linux", Architecture: "aarch64", Driver: "overlayfs", DriverStatus: [][2]string{{"driver-type", "io.containerd.snapshotter.v1"}}}, StoreContainerd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := EngineFromInfo(tc.info)
			if err != nil || e.Store != tc.store {
				t.Errorf("EngineFromInfo(%+v) = %+v, %v, want store %s", tc.info, e, err, tc.store)
			}
		})
	}
}

package platform_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/platform"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want platform.Platform
	}{
		{"linux amd64", "linux/amd64", platform.Platform{OS: "linux", Architecture: "amd64"}},
		{"linux arm64", "linux/arm64", platform.Platform{OS: "linux", Architecture: "arm64"}},
		{"arm v7", "linux/arm/v7", platform.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{"arm64 v8", "linux/arm64/v8", platform.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		{"amd64 v3", "linux/amd64/v3", platform.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}},
		{"variant with dot", "linux/arm/v8.2", platform.Platform{OS: "linux", Architecture: "arm", Variant: "v8.2"}},
		{"windows", "windows/amd64", platform.Platform{OS: "windows", Architecture: "amd64"}},
		{"ppc64le", "linux/ppc64le", platform.Platform{OS: "linux", Architecture: "ppc64le"}},
		{"s390x", "linux/s390x", platform.Platform{OS: "linux", Architecture: "s390x"}},
		{"riscv64", "linux/riscv64", platform.Platform{OS: "linux", Architecture: "riscv64"}},
		{"386", "linux/386", platform.Platform{OS: "linux", Architecture: "386"}},
		{"wasip1", "wasip1/wasm", platform.Platform{OS: "wasip1", Architecture: "wasm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := platform.Parse(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.in, s, tt.in)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		// wantIn are substrings the message must hold, so that it says
		// which part is wrong.
		wantIn []string
	}{
		{"empty", "", []string{"want os/arch"}},
		{"os only", "linux", []string{"want os/arch"}},
		{"four parts", "linux/arm/v7/x", []string{"want os/arch"}},
		{"trailing slash", "linux/arm/", []string{"variant \"\""}},
		{"no os", "/amd64", []string{"unknown os \"\""}},
		{"no arch", "linux/", []string{"unknown architecture \"\""}},
		{"unknown os", "linuxx/amd64", []string{"unknown os \"linuxx\"", "linux"}},
		{"uppercase os", "Linux/amd64", []string{"unknown os \"Linux\""}},
		{"unknown arch", "linux/amd65", []string{"unknown architecture \"amd65\"", "amd64"}},
		{"uppercase arch", "linux/AMD64", []string{"unknown architecture \"AMD64\""}},
		{"x86_64 alias", "linux/x86_64", []string{"\"x86_64\"", "spelled \"amd64\""}},
		{"x86-64 alias", "linux/x86-64", []string{"spelled \"amd64\""}},
		{"aarch64 alias", "linux/aarch64", []string{"\"aarch64\"", "spelled \"arm64\""}},
		{"armhf alias", "linux/armhf", []string{"spelled \"arm\""}},
		{"i386 alias", "linux/i386", []string{"spelled \"386\""}},
		{"uppercase variant", "linux/arm/V7", []string{"variant \"V7\""}},
		{"variant with space", "linux/arm/v 7", []string{"variant \"v 7\""}},
		{"variant starting with dot", "linux/arm/.v7", []string{"variant \".v7\""}},
		{"spaces", " linux/amd64", []string{"unknown os \" linux\""}},
		{"comma list", "linux/amd64,linux/arm64", []string{"unknown architecture \"amd64,linux\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := platform.Parse(tt.in)
			if !errors.Is(err, errs.ErrInvalidPlatform) {
				t.Fatalf("Parse(%q) = %+v, %v, want %v", tt.in, got, err, errs.ErrInvalidPlatform)
			}
			if got != (platform.Platform{}) {
				t.Errorf("Parse(%q) = %+v with an error, want the zero Platform", tt.in, got)
			}
			msg := err.Error()
			if !strings.Contains(msg, fmt.Sprintf("%q", tt.in)) {
				t.Errorf("Parse(%q) error %q does not quote the input", tt.in, msg)
			}
			for _, w := range tt.wantIn {
				if !strings.Contains(msg, w) {
					t.Errorf("Parse(%q) error %q, want it to contain %q", tt.in, msg, w)
				}
			}
		})
	}
}

func TestMatches(t *testing.T) {
	tests := []struct {
		name string
		p    string
		q    ocispec.Platform
		want bool
	}{
		{"same", "linux/amd64", ocispec.Platform{OS: "linux", Architecture: "amd64"}, true},
		{"arm64 is arm64/v8", "linux/arm64", ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, true},
		{"arm64/v8 is arm64", "linux/arm64/v8", ocispec.Platform{OS: "linux", Architecture: "arm64"}, true},
		{"arm is arm/v7", "linux/arm", ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, true},
		{"arm/v7 is arm", "linux/arm/v7", ocispec.Platform{OS: "linux", Architecture: "arm"}, true},
		{"amd64 is amd64/v1", "linux/amd64", ocispec.Platform{OS: "linux", Architecture: "amd64", Variant: "v1"}, true},
		{"amd64/v1 is amd64", "linux/amd64/v1", ocispec.Platform{OS: "linux", Architecture: "amd64"}, true},
		{"image arch alias x86_64", "linux/amd64", ocispec.Platform{OS: "linux", Architecture: "x86_64"}, true},
		{"image arch alias aarch64", "linux/arm64", ocispec.Platform{OS: "linux", Architecture: "aarch64"}, true},
		{"os version ignored", "windows/amd64", ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1"}, true},
		{"features ignored", "linux/amd64", ocispec.Platform{OS: "linux", Architecture: "amd64", OSFeatures: []string{"x"}}, true},
		{"arm/v6 is not arm", "linux/arm", ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, false},
		{"arm is not arm/v6", "linux/arm/v6", ocispec.Platform{OS: "linux", Architecture: "arm"}, false},
		{"amd64 is not amd64/v3", "linux/amd64", ocispec.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}, false},
		{"arm64 is not arm", "linux/arm64", ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v8"}, false},
		{"other os", "linux/amd64", ocispec.Platform{OS: "windows", Architecture: "amd64"}, false},
		{"other arch", "linux/amd64", ocispec.Platform{OS: "linux", Architecture: "arm64"}, false},
		{"attestation unknown", "linux/amd64", ocispec.Platform{OS: "unknown", Architecture: "unknown"}, false},
		{"empty", "linux/amd64", ocispec.Platform{}, false},
		{"case matters", "linux/amd64", ocispec.Platform{OS: "Linux", Architecture: "amd64"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := platform.Parse(tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Matches(tt.q); got != tt.want {
				t.Errorf("Parse(%q).Matches(%+v) = %v, want %v", tt.p, tt.q, got, tt.want)
			}
		})
	}
}

func TestParseSelection(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []string // Strings() of the result
		wantErr string   // substring of the error, "" for success
	}{
		{"all", []string{"all"}, []string{"all"}, ""},
		{"one", []string{"linux/amd64"}, []string{"linux/amd64"}, ""},
		{"two in order", []string{"linux/arm64", "linux/amd64"}, []string{"linux/arm64", "linux/amd64"}, ""},
		{"variants differ", []string{"linux/arm/v6", "linux/arm/v7"}, []string{"linux/arm/v6", "linux/arm/v7"}, ""},
		{"amd64 levels differ", []string{"linux/amd64", "linux/amd64/v3"}, []string{"linux/amd64", "linux/amd64/v3"}, ""},
		{"nil", nil, nil, "no platform given"},
		{"empty", []string{}, nil, "no platform given"},
		{"duplicate", []string{"linux/amd64", "linux/amd64"}, nil, "listed twice"},
		{"duplicate by default variant", []string{"linux/arm64", "linux/arm64/v8"}, nil, "listed twice (as linux/arm64)"},
		{"duplicate arm v7", []string{"linux/arm/v7", "linux/arm"}, nil, "listed twice"},
		{"all then other", []string{"all", "linux/amd64"}, nil, "cannot be combined"},
		{"other then all", []string{"linux/amd64", "all"}, nil, "cannot be combined"},
		{"all twice", []string{"all", "all"}, nil, "cannot be combined"},
		{"bad platform", []string{"linux/amd64", "linux/x86_64"}, nil, "\"linux/x86_64\""},
		{"uppercase all", []string{"ALL"}, nil, "want os/arch"},
		{"comma list", []string{"linux/amd64,linux/arm64"}, nil, "unknown architecture"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := platform.ParseSelection(tt.in)
			if tt.wantErr != "" {
				if !errors.Is(err, errs.ErrInvalidPlatform) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSelection(%q) = %v, %v, want an error wrapping %v containing %q", tt.in, sel, err, errs.ErrInvalidPlatform, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSelection(%q) = %v, want nil", tt.in, err)
			}
			if got := sel.Strings(); !slices.Equal(got, tt.want) {
				t.Errorf("ParseSelection(%q).Strings() = %q, want %q", tt.in, got, tt.want)
			}
			if got, want := sel.String(), strings.Join(tt.want, ","); got != want {
				t.Errorf("ParseSelection(%q).String() = %q, want %q", tt.in, got, want)
			}
			again, err := platform.ParseSelection(sel.Strings())
			if err != nil || !again.Equal(sel) {
				t.Errorf("ParseSelection(%q) = %v, %v, want it to re-parse to %v", sel.Strings(), again, err, sel)
			}
		})
	}
}

func TestSelectionMatches(t *testing.T) {
	amd64 := &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm64v8 := &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	attestation := &ocispec.Platform{OS: "unknown", Architecture: "unknown"}
	tests := []struct {
		name string
		sel  platform.Selection
		q    *ocispec.Platform
		want bool
	}{
		{"all selects nil", platform.All, nil, true},
		{"all selects anything", platform.All, attestation, true},
		{"list does not select nil", mustSelection(t, "linux/amd64"), nil, false},
		{"zero selects nothing", platform.Selection{}, amd64, false},
		{"zero does not select nil", platform.Selection{}, nil, false},
		{"listed", mustSelection(t, "linux/arm64", "linux/amd64"), amd64, true},
		{"listed with default variant", mustSelection(t, "linux/arm64"), arm64v8, true},
		{"not listed", mustSelection(t, "linux/amd64"), arm64v8, false},
		{"attestation not listed", mustSelection(t, "linux/amd64"), attestation, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.sel.Matches(tt.q); got != tt.want {
				t.Errorf("Selection(%v).Matches(%+v) = %v, want %v", tt.sel, tt.q, got, tt.want)
			}
		})
	}
}

func TestSelectionEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b platform.Selection
		want bool
	}{
		{"all", platform.All, platform.All, true},
		{"all and list", platform.All, mustSelection(t, "linux/amd64"), false},
		{"list and all", mustSelection(t, "linux/amd64"), platform.All, false},
		{"same order", mustSelection(t, "linux/amd64", "linux/arm64"), mustSelection(t, "linux/amd64", "linux/arm64"), true},
		{"other order", mustSelection(t, "linux/amd64", "linux/arm64"), mustSelection(t, "linux/arm64", "linux/amd64"), true},
		{"default variant", mustSelection(t, "linux/arm64"), mustSelection(t, "linux/arm64/v8"), true},
		{"fewer", mustSelection(t, "linux/amd64", "linux/arm64"), mustSelection(t, "linux/amd64"), false},
		{"different", mustSelection(t, "linux/amd64"), mustSelection(t, "linux/arm64"), false},
		{"zero values", platform.Selection{}, platform.Selection{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Equal(tt.b); got != tt.want {
				t.Errorf("Selection(%v).Equal(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestOCIRoundTrip(t *testing.T) {
	for _, s := range []string{"linux/amd64", "linux/arm/v7", "windows/arm64"} {
		t.Run(s, func(t *testing.T) {
			p, err := platform.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := platform.FromOCI(p.OCI()); got != p {
				t.Errorf("FromOCI(%+v) = %+v, want %+v", p.OCI(), got, p)
			}
			if !p.Matches(p.OCI()) {
				t.Errorf("Parse(%q).Matches(itself) = false, want true", s)
			}
		})
	}
}

func mustSelection(t *testing.T, specs ...string) platform.Selection {
	t.Helper()
	sel, err := platform.ParseSelection(specs)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

func ExampleParse() {
	p, err := platform.Parse("linux/arm64")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p, p.Matches(ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}))

	_, err = platform.Parse("linux/x86_64")
	fmt.Println(err)
	// Output:
	// linux/arm64 true
	// invalid platform "linux/x86_64": architecture "x86_64" is spelled "amd64" in OCI images
}

func ExampleParseSelection() {
	sel, err := platform.ParseSelection([]string{"linux/amd64", "linux/arm64"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sel)
	fmt.Println(sel.Matches(&ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}))
	fmt.Println(sel.Matches(nil), platform.All.Matches(nil))
	// Output:
	// linux/amd64,linux/arm64
	// true
	// false true
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"linux/amd64", "linux/arm/v7", "linux/arm64/v8", "linux/x86_64", "", "/", "//", "linux/arm/v8.2", "all"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := platform.Parse(s)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidPlatform) {
				t.Fatalf("Parse(%q) = %v, want an error wrapping %v", s, err, errs.ErrInvalidPlatform)
			}
			return
		}
		if got := p.String(); got != s {
			t.Fatalf("Parse(%q).String() = %q, want %q", s, got, s)
		}
		if !p.Matches(p.OCI()) {
			t.Fatalf("Parse(%q).Matches(itself) = false, want true", s)
		}
		sel, err := platform.ParseSelection([]string{s})
		if err != nil || !sel.Matches(new(p.OCI())) {
			t.Fatalf("ParseSelection([%q]) = %v, %v, want a selection matching %v", s, sel, err, p)
		}
	})
}

// TestFromKernel: one table maps kernel and engine architecture names,
// for engines as for index entries, the way containerd does (armel is
// arm/v6, armhf arm/v7).
func TestFromKernel(t *testing.T) {
	for _, tt := range []struct{ os, arch, want string }{
		{"linux", "x86_64", "linux/amd64"},
		{"linux", "aarch64", "linux/arm64"},
		{"linux", "armel", "linux/arm/v6"},
		{"linux", "armhf", "linux/arm/v7"},
		{"linux", "armv7l", "linux/arm/v7"},
		{"linux", "i686", "linux/386"},
		{"Linux", " AMD64 ", "linux/amd64"},
	} {
		got, err := platform.FromKernel(tt.os, tt.arch)
		if err != nil || got.String() != tt.want {
			t.Errorf("FromKernel(%q, %q) = %v, %v, want %s", tt.os, tt.arch, got, err, tt.want)
		}
		// An index entry written with the kernel's name matches the same.
		p, _ := platform.Parse(tt.want)
		if q := (ocispec.Platform{OS: strings.ToLower(strings.TrimSpace(tt.os)), Architecture: strings.ToLower(strings.TrimSpace(tt.arch))}); !p.Matches(q) {
			t.Errorf("Parse(%q).Matches(%+v) = false, want true", tt.want, q)
		}
	}
	if _, err := platform.FromKernel("linux", "pdp11"); !errors.Is(err, errs.ErrInvalidPlatform) {
		t.Errorf("FromKernel(linux, pdp11) = %v, want %v", err, errs.ErrInvalidPlatform)
	}
	armv7, _ := platform.Parse("linux/arm/v7")
	if armv7.Matches(ocispec.Platform{OS: "linux", Architecture: "armel"}) {
		t.Errorf("linux/arm/v7 matches an armel (arm/v6) entry, want no match")
	}
}

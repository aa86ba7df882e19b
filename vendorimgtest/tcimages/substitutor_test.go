package tcimages_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/testcontainers/testcontainers-go"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/vendorimgtest/tcimages"
)

const (
	alpinePin   = "sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b"
	alpineAMD64 = "sha256:6457d53fb065d6f250e1504b9bc42d5b6c65941d57532c072d929dd0628977d0"
	probePin    = "sha256:e351f403b6dfee83d32166c7d66efb05595650fccb420c74041a4e77f41dd0cd"
	untaggedPin = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
)

const testConfig = `layout: testdata/images
images:
  - ref: alpine:3.19.1
    digest: ` + alpinePin + `
    platforms: [linux/amd64, linux/arm64]
  - ref: registry.vendorimg.test/probe:1
    digest: ` + probePin + `
    platforms: [linux/amd64, linux/arm64]
  - ref: registry.vendorimg.test/untagged@` + untaggedPin + `
    platforms: [linux/amd64]
`

func testSubstitutor(t *testing.T) *tcimages.Substitutor {
	t.Helper()
	cfg, err := config.Parse("/src/project/vendorimg.yaml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	s, err := tcimages.NewSubstitutor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSubstitute(t *testing.T) {
	s := testSubstitutor(t)
	const alpine = "alpine:3.19.1" // the tag vendorimg load makes
	const probe = "registry.vendorimg.test/probe:1"
	tests := []struct {
		name    string
		image   string
		want    string
		wantErr error    // errors.Is target when an error is expected
		wantMsg []string // substrings of the error
	}{
		{name: "short", image: "alpine:3.19.1", want: alpine},
		{name: "library", image: "library/alpine:3.19.1", want: alpine},
		{name: "full", image: "docker.io/library/alpine:3.19.1", want: alpine},
		{name: "docker hub alias", image: "index.docker.io/library/alpine:3.19.1", want: alpine},
		{name: "short pinned", image: "alpine:3.19.1@" + alpinePin, want: alpine},
		{name: "full pinned", image: "docker.io/library/alpine:3.19.1@" + alpinePin, want: alpine},
		{name: "digest only, the pin", image: "alpine@" + alpinePin, want: alpine},
		{name: "other registry", image: probe, want: probe},
		{name: "other registry pinned", image: probe + "@" + probePin, want: probe},
		{
			name: "unknown tag", image: "alpine:3.20", wantErr: errs.ErrConfig,
			wantMsg: []string{"alpine:3.20 is not vendored in /src/project/vendorimg.yaml", "vendorimg add docker.io/library/alpine:3.20"},
		},
		{
			name: "unknown repository", image: "busybox", wantErr: errs.ErrConfig,
			wantMsg: []string{"busybox is not vendored in /src/project/vendorimg.yaml"},
		},
		{
			name: "same tag in another registry", image: "registry.vendorimg.test/alpine:3.19.1", wantErr: errs.ErrConfig,
			wantMsg: []string{"is not vendored"},
		},
		{
			name: "wrong digest", image: "alpine:3.19.1@" + alpineAMD64, wantErr: errs.ErrConfig,
			wantMsg: []string{"pins " + alpineAMD64, "/src/project/vendorimg.yaml pins " + alpinePin + " for docker.io/library/alpine:3.19.1"},
		},
		{
			name: "digest only, not the pin", image: "alpine@" + alpineAMD64, wantErr: errs.ErrConfig,
			wantMsg: []string{"is not vendored"},
		},
		{
			name: "vendored by digest alone", image: "registry.vendorimg.test/untagged@" + untaggedPin, wantErr: errs.ErrConfig,
			wantMsg: []string{"by digest alone", "does not tag it"},
		},
		{name: "malformed", image: "Alpine:3.19.1", wantErr: errs.ErrInvalidReference},
		{name: "malformed digest", image: "alpine:3.19.1@sha256:abc", wantErr: errs.ErrInvalidDigest},
		{name: "empty", image: "", wantErr: errs.ErrInvalidReference},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Substitute(tt.image)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Fatalf("Substitute(%q) = %q, %v; want %q, nil", tt.image, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || got != "" {
				t.Fatalf("Substitute(%q) = %q, %v; want an error wrapping %v", tt.image, got, err, tt.wantErr)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("Substitute(%q) error %q does not say %q", tt.image, err, m)
				}
			}
		})
	}
}

func TestSubstitutorIsAnImageSubstitutor(t *testing.T) {
	var is testcontainers.ImageSubstitutor = testSubstitutor(t)
	if d := is.Description(); !strings.Contains(d, "vendorimg") || !strings.Contains(d, "/src/project/vendorimg.yaml") {
		t.Errorf("Description() = %q, want it to name vendorimg and the file", d)
	}
}

func TestNewSubstitutorCopiesImages(t *testing.T) {
	cfg, err := config.Parse("/src/project/vendorimg.yaml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	s, err := tcimages.NewSubstitutor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Images = cfg.Images[:0]
	if got, err := s.Substitute("alpine:3.19.1"); err != nil {
		t.Errorf("Substitute after the config's images changed = %q, %v; want the image it was built with", got, err)
	}
	if _, err := tcimages.NewSubstitutor(nil); err == nil {
		t.Error("NewSubstitutor(nil) = nil error, want one")
	}
}

func TestFindSubstitutor(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "e2e", "tests")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := tcimages.FindSubstitutor(sub)
	if err != nil {
		t.Fatalf("FindSubstitutor(%q) = %v", sub, err)
	}
	if got, err := s.Substitute("docker.io/library/alpine:3.19.1@" + alpinePin); err != nil || got != "alpine:3.19.1" {
		t.Errorf("Substitute() = %q, %v; want alpine:3.19.1", got, err)
	}
	if _, err := s.Substitute("busybox:1"); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, config.FileName)) {
		t.Errorf("Substitute(busybox:1) = %v, want an error naming %s", err, filepath.Join(dir, config.FileName))
	}

	if _, err := tcimages.FindSubstitutor(t.TempDir()); !errors.Is(err, errs.ErrNoConfig) {
		t.Errorf("FindSubstitutor(empty folder) = %v, want %v", err, errs.ErrNoConfig)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, config.FileName), []byte("images:\n  - ref: alpine:3.19.1\n    platfroms: all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tcimages.FindSubstitutor(bad); !errors.Is(err, errs.ErrConfig) {
		t.Errorf("FindSubstitutor(malformed) = %v, want %v", err, errs.ErrConfig)
	}
}

func TestZeroSubstitutorRefuses(t *testing.T) {
	var s tcimages.Substitutor
	if got, err := s.Substitute("alpine:3.19.1"); !errors.Is(err, errs.ErrConfig) {
		t.Errorf("zero Substitutor: Substitute() = %q, %v; want an error wrapping %v", got, err, errs.ErrConfig)
	}
}

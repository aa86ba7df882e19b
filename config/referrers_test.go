package config_test

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
)

func TestParseReferrersAndVerify(t *testing.T) {
	const file = `layout: images
referrers: [signatures]
verify: {key: keys/cosign.pub}
images:
  - ref: a.test/default:1
    digest: ` + alpineDigest + `
    platforms: [linux/amd64]
  - ref: a.test/own:1
    digest: ` + alpineDigest + `
    platforms: [linux/amd64]
    referrers: [sboms, application/vnd.example+json]
    verify:
      identity: dev@example.test
      issuer: https://issuer.example.test
      trustedRoot: /etc/trusted_root.json
  - ref: a.test/none:1
    digest: ` + alpineDigest + `
    platforms: [linux/amd64]
    referrers: []
`
	path := filepath.Join(t.TempDir(), config.FileName)
	c, err := config.Parse(path, []byte(file))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	tests := []struct {
		name      string
		referrers []string
		key       string
		identity  string
	}{
		{"a.test/default:1", []string{"signatures"}, filepath.Join(filepath.Dir(path), "keys", "cosign.pub"), ""},
		{"a.test/own:1", []string{"sboms", "application/vnd.example+json"}, "", "dev@example.test"},
		{"a.test/none:1", nil, filepath.Join(filepath.Dir(path), "keys", "cosign.pub"), ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im := c.Images[i]
			if !slices.Equal(im.Referrers, tt.referrers) && len(im.Referrers)+len(tt.referrers) > 0 {
				t.Errorf("Referrers = %q, want %q", im.Referrers, tt.referrers)
			}
			if im.Verify == nil {
				t.Fatalf("Verify = nil, want a policy")
			}
			if im.Verify.Key != tt.key || im.Verify.Identity != tt.identity {
				t.Errorf("Verify = %+v, want key %q identity %q", *im.Verify, tt.key, tt.identity)
			}
		})
	}
	if c.Images[0].WantsReferrers() != true || c.Images[2].WantsReferrers() != false {
		t.Errorf("WantsReferrers = %v, %v, want true, false", c.Images[0].WantsReferrers(), c.Images[2].WantsReferrers())
	}
}

func TestParseReferrersErrors(t *testing.T) {
	img := "images:\n  - ref: a.test/x:1\n    digest: " + alpineDigest + "\n    platforms: [linux/amd64]\n"
	tests := []struct {
		name, file, want string
	}{
		{"unknown class", img + "    referrers: [signatures, bogus]\n", ":5: unknown referrers value \"bogus\""},
		{"not a list", "referrers: some\n" + img, ":1: referrers must be a list"},
		{"unknown policy key", "verify: {key: k.pub, keyring: x}\n" + img, ":1: unknown key \"keyring\" in verify"},
		{"key and keyless", "verify: {key: k.pub, identity: a, issuer: b, trustedRoot: r.json}\n" + img, ":1: verify takes either key"},
		{"keyless without root", img + "    verify: {identity: a, issuer: b}\n", ":5: verify needs key, or all of identity"},
		{"verify not a mapping", "verify: k.pub\n" + img, ":1: verify must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("vendorimg.yaml", []byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, errs.ErrConfig) {
				t.Errorf("Parse = %v, want an ErrConfig containing %q", err, tt.want)
			}
		})
	}
}

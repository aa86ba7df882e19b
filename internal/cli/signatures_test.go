package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/internal/testsupport/testbin"
	"github.com/vendorimg/vendorimg/layout"
)

// signedProject writes a vendorimg.yaml with a key policy (its key
// missing) and an empty layout.
func signedProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	yaml := "layout: images\nverify: {key: cosign.pub}\nimages:\n  - ref: registry.vendorimg.test/signed:1\n    digest: sha256:e351f403b6dfee83d32166c7d66efb05595650fccb420c74041a4e77f41dd0cd\n    platforms: [linux/amd64]\n"
	if err := os.WriteFile(filepath.Join(dir, "vendorimg.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := layout.New(filepath.Join(dir, "images")).Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestVerifyRunsSigverify: verify checks a verify: policy through the
// vendorimg-sigverify program; with none anywhere, it fails with the kind
// no-sigverify and says how to get it.
func TestVerifyRunsSigverify(t *testing.T) {
	dir := signedProject(t)
	helper := testbin.SigverifyPath(t) // with the go command of PATH
	t.Setenv("PATH", t.TempDir())      // none there, nor beside the test binary

	t.Run("found", func(t *testing.T) {
		t.Setenv("VENDORIMG_SIGVERIFY", helper)
		code, stdout, stderr := run(t, "-C", dir, "--json", "verify")
		var doc struct {
			Layout struct {
				Findings []layout.Finding `json:"findings"`
			} `json:"layout"`
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("verify --json: %v\n%s%s", err, stdout, stderr)
		}
		var signature bool
		for _, f := range doc.Layout.Findings {
			signature = signature || f.Kind == layout.KindSignature && strings.Contains(f.Message, "cannot load the verify: policy")
		}
		if code != 1 || doc.Kind != "verify-failed" || !signature {
			t.Errorf("verify --json = %d, kind %q, findings %+v, want 1, verify-failed and the policy's finding\n%s", code, doc.Kind, doc.Layout.Findings, stderr)
		}
	})

	t.Run("missing", func(t *testing.T) {
		t.Setenv("VENDORIMG_SIGVERIFY", "")
		code, stdout, stderr := run(t, "-C", dir, "--json", "verify")
		var doc struct {
			Error string `json:"error"`
			Kind  string `json:"kind"`
		}
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("verify --json: %v\n%s%s", err, stdout, stderr)
		}
		if code != 1 || doc.Kind != "no-sigverify" {
			t.Errorf("verify --json without vendorimg-sigverify = %d, kind %q, want 1, no-sigverify (%s)", code, doc.Kind, doc.Error)
		}
		for _, want := range []string{"no vendorimg-sigverify", "the release archive and the vendorimg wheel carry it beside vendorimg", "VENDORIMG_SIGVERIFY"} {
			if !strings.Contains(doc.Error, want) {
				t.Errorf("verify --json's error %q does not say %q", doc.Error, want)
			}
		}
		code, _, stderr = run(t, "-C", dir, "verify")
		if code != 1 || !strings.HasPrefix(stderr, "vendorimg: verifying the signatures in ") || !strings.Contains(stderr, "no vendorimg-sigverify") {
			t.Errorf("verify without vendorimg-sigverify = %d, stderr %q, want 1 and the error", code, stderr)
		}
	})
}

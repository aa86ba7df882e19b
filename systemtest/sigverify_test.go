package systemtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/testbin"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/sigverify"
)

// sigverifyRun is one run of vendorimg verify --json.
type sigverifyRun struct {
	code   int
	doc    sigVerifyDoc
	error  string
	kind   string
	stderr string
}

// verifyWith runs the vendorimg binary at exe (verify --json in dir) with
// PATH and VENDORIMG_SIGVERIFY as given and nothing else of the test's
// environment that could point it to a vendorimg-sigverify.
func verifyWith(t *testing.T, exe, dir, path, sigverifyEnv string) sigverifyRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-C", dir, "--json", "verify")
	cmd.Env = []string{"PATH=" + path, "HOME=" + t.TempDir(), "VENDORIMG_SIGVERIFY=" + sigverifyEnv}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() < 0 {
		t.Fatalf("%s verify: %v\n%s", exe, err, stderr.String())
	}
	r := sigverifyRun{code: cmd.ProcessState.ExitCode(), stderr: stderr.String()}
	var doc struct {
		sigVerifyDoc
		Error string `json:"error"`
		Kind  string `json:"kind"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("%s verify --json: %v\n%s%s", exe, err, stdout.String(), stderr.String())
	}
	r.doc, r.error, r.kind = doc.sigVerifyDoc, doc.Error, doc.Kind
	return r
}

// TestSigverifyLookup runs the real vendorimg with a verify: policy (its
// key missing, so that vendorimg-sigverify answers with a finding) and
// vendorimg-sigverify in each place vendorimg looks: beside the file that
// a symbolic link to vendorimg points to, on PATH, in
// $VENDORIMG_SIGVERIFY; and nowhere, or of another version: then verify
// fails with the kind no-sigverify and says how to get the right one.
func TestSigverifyLookup(t *testing.T) {
	t.Parallel()
	exe, helper := vendorimgBinary(t), testbin.SigverifyPath(t)
	dir := t.TempDir()
	yaml := "layout: images\nverify: {key: cosign.pub}\nimages:\n  - ref: registry.vendorimg.test/signed:1\n    digest: sha256:e351f403b6dfee83d32166c7d66efb05595650fccb420c74041a4e77f41dd0cd\n    platforms: [linux/amd64]\n"
	if err := os.WriteFile(filepath.Join(dir, "vendorimg.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := layout.New(filepath.Join(dir, "images")).Init(context.Background()); err != nil {
		t.Fatal(err)
	}

	// vendorimg through a symbolic link in another folder (a ~/.local/bin
	// link to an unpacked release), vendorimg alone in a folder, and a
	// vendorimg-sigverify of another version.
	links := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(links, "vendorimg")); err != nil {
		t.Fatal(err)
	}
	alone := t.TempDir()
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(alone, "vendorimg"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := testbin.BuildSigverify(ctx, stale, "-ldflags=-X github.com/vendorimg/vendorimg/internal/version.version=v0.0.1-stale"); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()

	tests := []struct {
		name, exe, path, env string
		kind                 string   // the error document's kind; "verify-failed": the program ran
		message              []string // in the error
	}{
		{"beside the link's target", filepath.Join(links, "vendorimg"), empty, "", "verify-failed", nil},
		{"on PATH", filepath.Join(alone, "vendorimg"), filepath.Dir(helper), "", "verify-failed", nil},
		{"VENDORIMG_SIGVERIFY", filepath.Join(alone, "vendorimg"), empty, helper, "verify-failed", nil},
		{"nowhere", filepath.Join(alone, "vendorimg"), empty, "", "no-sigverify",
			[]string{"no vendorimg-sigverify", "beside vendorimg (" + filepath.Join(alone, "vendorimg-sigverify") + ")", "the release archive and the vendorimg wheel carry it beside vendorimg", "VENDORIMG_SIGVERIFY"}},
		{"another version", exe, empty, filepath.Join(stale, "vendorimg-sigverify"), "no-sigverify",
			[]string{"no vendorimg-sigverify", "vendorimg-sigverify is version v0.0.1-stale", ", but vendorimg is "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := verifyWith(t, tt.exe, dir, tt.path, tt.env)
			if r.code != 1 || r.kind != tt.kind {
				t.Fatalf("verify = exit %d, kind %q (%s), want exit 1, kind %q\n%s", r.code, r.kind, r.error, tt.kind, r.stderr)
			}
			if tt.kind == "verify-failed" && !hasFinding(r.doc, layout.KindSignature, "registry.vendorimg.test/signed:1") {
				t.Errorf("verify found no signature finding, so vendorimg-sigverify did not answer: %+v", r.doc)
			}
			for _, m := range tt.message {
				if !strings.Contains(r.error, m) {
					t.Errorf("verify's error %q does not say %q", r.error, m)
				}
			}
		})
	}
}

// checkInProcess checks s's project with Check and sigverify.Verify in
// this process, and fails t unless its findings are the ones doc (what
// vendorimg verify --json printed through vendorimg-sigverify) holds.
func (s *signedImage) checkInProcess(t *testing.T, doc sigVerifyDoc) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(ctx, filepath.Join(s.dir, "vendorimg.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := vendorimg.Check(ctx, cfg, vendorimg.CheckOptions{Signatures: sigverify.Verify})
	if err != nil {
		t.Fatalf("Check(Signatures: sigverify.Verify): %v", err)
	}
	if rep.OK != doc.OK || !slices.Equal(rep.Layout.Findings, doc.Layout.Findings) {
		t.Errorf("Check(Signatures: sigverify.Verify) = OK %t, findings %+v; through vendorimg-sigverify, OK %t, findings %+v", rep.OK, rep.Layout.Findings, doc.OK, doc.Layout.Findings)
	}
}

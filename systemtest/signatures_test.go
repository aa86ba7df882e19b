package systemtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
)

// signedImage is a multi-platform image in a registry, signed by the
// real cosign with a key generated for the test (no transparency log),
// with an SBOM attestation, and a project that vendors it with its
// referrers.
type signedImage struct {
	dir       string // the project: vendorimg.yaml, images/, the keys
	host      string
	pin       digest.Digest
	amd64     digest.Digest // the vendored platform's manifest
	cosign    string
	cosignEnv []string
}

const sbomPredicate = `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"signed","dataLicense":"CC0-1.0","documentNamespace":"https://vendorimg.test/signed","creationInfo":{"created":"2026-12-07T00:00:00Z","creators":["Tool: vendorimg-test"]},"packages":[]}`

// newSignedImage pushes the image to host, signs it (its index only, or
// with recursive each platform's manifest too), attests an SBOM, and
// writes a vendorimg.yaml that vendors platforms with signatures and
// SBOMs and the key policy.
func newSignedImage(t *testing.T, host string, recursive bool, platforms string) *signedImage {
	t.Helper()
	s := &signedImage{dir: t.TempDir(), host: host, cosign: toolCacheBinary(t, "cosign")}
	home := t.TempDir()
	s.cosignEnv = []string{"HOME=" + home, "COSIGN_PASSWORD=", "TUF_ROOT=" + filepath.Join(home, "tuf")}
	idx := registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 1, 2048, 19, registrytest.OCI)
	s.pin = registrytest.Push(t, host+"/signed:1", idx)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.Architecture == "amd64" {
			s.amd64 = digest.Digest(m.Digest.String())
		}
	}
	for _, d := range []string{s.dir, filepath.Join(s.dir, "other")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		s.run(t, d, "generate-key-pair")
	}
	signed := host + "/signed@" + s.pin.String()
	args := []string{"sign", "--key", filepath.Join(s.dir, "cosign.key"), "--tlog-upload=false", "--use-signing-config=false", "--yes"}
	if recursive {
		args = append(args, "--recursive")
	}
	s.run(t, s.dir, append(args, signed)...)
	if err := os.WriteFile(filepath.Join(s.dir, "sbom.spdx.json"), []byte(sbomPredicate), 0o644); err != nil {
		t.Fatal(err)
	}
	s.run(t, s.dir, "attest", "--key", filepath.Join(s.dir, "cosign.key"), "--type", "spdxjson", "--predicate", filepath.Join(s.dir, "sbom.spdx.json"),
		"--tlog-upload=false", "--use-signing-config=false", "--yes", signed)
	s.writeConfig(t, "cosign.pub", platforms, "[signatures, sboms]")
	return s
}

func (s *signedImage) writeConfig(t *testing.T, key, platforms, referrers string) {
	t.Helper()
	cfg := fmt.Sprintf(`layout: images
referrers: %s
verify: {key: %s}
images:
  - ref: %s/signed:1
    digest: %s
    platforms: %s
`, referrers, key, s.host, s.pin, platforms)
	if err := os.WriteFile(filepath.Join(s.dir, "vendorimg.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs cosign in dir, failing the test when it fails.
func (s *signedImage) run(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(s.cosign, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), s.cosignEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// offline runs script in a network namespace with only loopback up (no
// route anywhere), with $VENDORIMG, $COSIGN and $DIR set, and returns its
// output and error.
func (s *signedImage) offline(t *testing.T, script string) (string, error) {
	t.Helper()
	lookPath(t, "unshare", "util-linux")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--", "sh", "-c", "set -e\nip link set lo up\n"+script)
	cmd.Env = append(os.Environ(), s.cosignEnv...)
	cmd.Env = append(cmd.Env, "VENDORIMG="+vendorimgBinary(t), "COSIGN="+s.cosign, "DIR="+s.dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// serveAndVerify is the script that serves the layout on 127.0.0.1:5000
// and runs cosign verify against it for each digest.
func serveAndVerify(pub string, digests ...digest.Digest) string {
	var b strings.Builder
	b.WriteString(`"$VENDORIMG" -C "$DIR" serve --addr 127.0.0.1:5000 --json >"$DIR/serve.out" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for i in $(seq 600); do [ -s "$DIR/serve.out" ] && break; sleep 0.1; done
`)
	for _, d := range digests {
		fmt.Fprintf(&b, "\"$COSIGN\" verify --key %q --insecure-ignore-tlog=true 127.0.0.1:5000/signed@%s >/dev/null\n", pub, d)
	}
	return b.String()
}

const localVerify = `"$COSIGN" verify --key "$DIR/cosign.pub" --insecure-ignore-tlog=true --local-image "$DIR/images" >/dev/null`

type sigVerifyDoc struct {
	OK     bool `json:"ok"`
	Layout struct {
		Findings []layout.Finding `json:"findings"`
	} `json:"layout"`
}

// vendorimgVerify runs vendorimg verify --json offline.
func (s *signedImage) vendorimgVerify(t *testing.T) (sigVerifyDoc, string) {
	t.Helper()
	out, _ := s.offline(t, `"$VENDORIMG" -C "$DIR" --json verify`)
	var doc sigVerifyDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("vendorimg verify --json: %v\n%s", err, out)
	}
	return doc, out
}

// TestSignaturesTravel vendors one platform of a signed multi-platform
// image with its signatures and SBOM attestation, and checks them offline
// in vendorimg and in cosign, from the layout and through serve; a
// flipped byte in a signature, or a policy with another key, fails.
// vendorimg verify checks through vendorimg-sigverify (built beside it);
// each time, Check with sigverify.Verify in this process finds the same.
func TestSignaturesTravel(t *testing.T) {
	// Each case has its own registry, project, keys and cosign HOME, and
	// runs its offline steps in network namespaces of their own: they
	// overlap each other and the package's other long tests, waiting on
	// cosign and the registries.
	t.Parallel()
	tests := []struct {
		name      string
		recursive bool // each platform's manifest is signed too
		referrers bool // the registry has the referrers API
		platforms string
		push      bool
	}{
		// The Debian distribution registry (2.8) has no referrers API:
		// cosign pushes the sha256-HEX tag, and sync reads it.
		{"platforms signed with the tag schema", true, false, "[linux/amd64]", false},
		{"index signed with the tag schema", false, false, "[linux/amd64]", false},
		// go-containerregistry's registry has the referrers API.
		{"index signed with the referrers API", false, true, "all", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var host string
			if tt.referrers {
				host, _ = referrersRegistry(t)
			} else {
				host = registrytest.Start(t, registrytest.Options{}).Host
			}
			s := newSignedImage(t, host, tt.recursive, tt.platforms)
			var res struct {
				Images []struct {
					Referrers int `json:"referrers"`
				} `json:"images"`
			}
			vendorimgJSON(t, s.dir, &res, "sync")
			// The pin and each vendored platform are subjects; the signed
			// ones have a signature each, the pin the SBOM attestation too.
			subjects, platforms := 1, 1
			if tt.platforms == "all" {
				platforms = 2
			}
			if tt.recursive {
				subjects += platforms
			}
			if len(res.Images) != 1 || res.Images[0].Referrers != subjects+1 {
				st, _ := s.offline(t, `"$VENDORIMG" -C "$DIR" --json status`)
				t.Fatalf("sync vendored %+v referrers, want %d; status:\n%s", res.Images, subjects+1, st)
			}
			refs := s.referrers(t)
			if len(refs) != 1+platforms {
				t.Fatalf("the layout has the referrers of %d subjects, want %d", len(refs), 1+platforms)
			}

			// A no-op sync makes no request: it passes with no network.
			if out, err := s.offline(t, `"$VENDORIMG" -C "$DIR" --json sync`); err != nil || !strings.Contains(out, `"upToDate": true`) {
				t.Fatalf("sync of a complete layout offline: %v\n%s", err, out)
			}
			doc, out := s.vendorimgVerify(t)
			if !doc.OK {
				t.Fatalf("vendorimg verify with the key policy failed:\n%s", out)
			}
			s.checkInProcess(t, doc)
			if out, err := s.offline(t, localVerify); err != nil {
				t.Fatalf("cosign verify --local-image offline: %v\n%s", err, out)
			}
			served := []digest.Digest{s.pin}
			if tt.recursive {
				served = append(served, s.amd64)
			}
			if out, err := s.offline(t, serveAndVerify(filepath.Join(s.dir, "cosign.pub"), served...)); err != nil {
				t.Fatalf("cosign verify against vendorimg serve offline: %v\n%s", err, out)
			}
			s.checkPeers(t)
			if tt.push {
				s.checkPush(t)
			}

			// Another key: verify fails, naming the image.
			s.writeConfig(t, "other/cosign.pub", tt.platforms, "[signatures, sboms]")
			doc, out = s.vendorimgVerify(t)
			if doc.OK || !hasFinding(doc, layout.KindSignature, s.host+"/signed:1") {
				t.Fatalf("vendorimg verify with another key passed or named no image:\n%s", out)
			}
			s.checkInProcess(t, doc)

			// The signatures only: cosign takes any bundle the key verifies
			// as the image's signature, the SBOM attestation too, so a
			// flipped signature would go unnoticed beside it. The sync
			// looks again (the setting changed) and prunes the SBOM.
			s.writeConfig(t, "cosign.pub", tt.platforms, "[signatures]")
			vendorimgJSON(t, s.dir, &res, "sync")
			if res.Images[0].Referrers != subjects {
				t.Fatalf("sync with referrers: [signatures] kept %d referrers, want %d", res.Images[0].Referrers, subjects)
			}
			refs = s.referrers(t)

			// A flipped byte in the pin's signature bundle.
			bundle := s.signatureBundle(t, refs)
			flip(t, bundle)
			doc, out = s.vendorimgVerify(t)
			if doc.OK || !hasFinding(doc, layout.KindDigest, "") {
				t.Errorf("vendorimg verify passed a flipped byte in %s:\n%s", bundle, out)
			}
			if !tt.recursive && !hasFinding(doc, layout.KindSignature, s.host+"/signed:1") {
				t.Errorf("vendorimg verify did not report the signature of the index as invalid:\n%s", out)
			}
			s.checkInProcess(t, doc)
			if out, err := s.offline(t, localVerify); err == nil {
				t.Errorf("cosign verify --local-image passed a flipped byte in %s:\n%s", bundle, out)
			}
			if out, err := s.offline(t, serveAndVerify(filepath.Join(s.dir, "cosign.pub"), s.pin)); err == nil {
				t.Errorf("cosign verify against serve passed a flipped byte in %s:\n%s", bundle, out)
			}
			flip(t, bundle)
			if doc, out := s.vendorimgVerify(t); !doc.OK {
				t.Fatalf("vendorimg verify after the byte was put back:\n%s", out)
			}
		})
	}
}

func hasFinding(doc sigVerifyDoc, kind layout.Kind, image string) bool {
	for _, f := range doc.Layout.Findings {
		if f.Kind == kind && (image == "" || f.Image == image) {
			return true
		}
	}
	return false
}

// referrers reads the layout's referrers indexes.
func (s *signedImage) referrers(t *testing.T) []layout.Referrers {
	t.Helper()
	l := layout.New(filepath.Join(s.dir, "images"))
	idx, err := l.ReadIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	refs, err := l.ReferrersOf(context.Background(), idx, s.host+"/signed:1")
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

// signatureBundle is the path of the pin's signature bundle.
func (s *signedImage) signatureBundle(t *testing.T, refs []layout.Referrers) string {
	t.Helper()
	l := layout.New(filepath.Join(s.dir, "images"))
	for _, r := range refs {
		if r.Subject != s.pin {
			continue
		}
		for _, m := range r.Manifests {
			if !manifest.IsSignatureReferrer(m) {
				continue
			}
			raw, err := l.ReadBlob(context.Background(), m.Digest, manifest.MaxManifestSize)
			if err != nil {
				t.Fatal(err)
			}
			var mf ocispec.Manifest
			if err := json.Unmarshal(raw, &mf); err != nil {
				t.Fatal(err)
			}
			for _, layer := range mf.Layers {
				if strings.HasPrefix(layer.MediaType, manifest.MediaTypeBundlePrefix) {
					p, err := l.BlobPath(layer.Digest)
					if err != nil {
						t.Fatal(err)
					}
					return p
				}
			}
		}
	}
	t.Fatalf("no signature bundle of %s in the layout", s.pin)
	return ""
}

// flip inverts one byte in the middle of the file (twice puts it back).
func flip(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkPeers has oras and regctl list the vendored referrers of the pin
// from the layout.
func (s *signedImage) checkPeers(t *testing.T) {
	t.Helper()
	var want []digest.Digest
	for _, r := range s.referrers(t) {
		if r.Subject == s.pin {
			for _, m := range r.Manifests {
				want = append(want, m.Digest)
			}
		}
	}
	checkPeerListings(t, filepath.Join(s.dir, "images"), s.pin, "", s.pin, want)
}

// checkPeerListings has oras discover --oci-layout and regctl artifact
// list ocidir:// list want as the referrers of subject in the layout oci:
// the pin, or the manifest of its platform plat (oras finds a platform's
// manifest in a layout through its index only: --platform).
func checkPeerListings(t *testing.T, oci string, pin digest.Digest, plat string, subject digest.Digest, want []digest.Digest) {
	t.Helper()
	oras := toolCacheBinary(t, "oras")
	args := []string{"discover", "--format", "json", "--oci-layout", oci + "@" + pin.String()}
	if plat != "" {
		args = append(args, "--platform", plat)
	}
	out := runTool(t, oras, args...)
	for _, d := range want {
		if !bytes.Contains(out, []byte(d)) {
			t.Errorf("oras discover --oci-layout does not list %s:\n%s", d, out)
		}
	}
	regctl := toolCacheBinary(t, "regctl")
	cmd := exec.Command(regctl, "artifact", "list", "--format", "{{jsonPretty .}}", "ocidir://"+oci+"@"+subject.String())
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("regctl artifact list: %v\n%s", err, out)
	}
	for _, d := range want {
		if !bytes.Contains(out, []byte(d)) {
			t.Errorf("regctl artifact list ocidir:// does not list %s:\n%s", d, out)
		}
	}
}

// checkPush pushes the vendored image to a second registry, a
// distribution registry with no referrers API, and has cosign verify it
// there.
func (s *signedImage) checkPush(t *testing.T) {
	t.Helper()
	second := registrytest.Start(t, registrytest.Options{})
	var res struct {
		Images []struct {
			Referrers int `json:"referrers"`
		} `json:"images"`
	}
	vendorimgJSON(t, s.dir, &res, "push", second.Host)
	if len(res.Images) != 1 || res.Images[0].Referrers == 0 {
		t.Fatalf("push copied no referrer: %+v", res)
	}
	cmd := exec.Command(s.cosign, "verify", "--key", filepath.Join(s.dir, "cosign.pub"), "--insecure-ignore-tlog=true", second.Host+"/signed@"+s.pin.String())
	cmd.Env = append(os.Environ(), s.cosignEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign verify in the registry pushed to: %v\n%s", err, out)
	}
}

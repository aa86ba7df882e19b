package sigverify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/reference"
	"github.com/vendorimg/vendorimg/sigverify"
)

// signedLayout writes a layout holding, as sync vendors them, a Sigstore
// bundle signing subject (an in-toto statement of cosign's signing
// predicate, DSSE-signed by a new key, as cosign v3 signs an image) for
// the image named name, and returns the key's public half's path and the
// bundle's blob path.
func signedLayout(t *testing.T, l *layout.Layout, name string, subject digest.Digest) (pub, bundlePath string) {
	t.Helper()
	key, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := sign.Bundle(&sign.DSSEData{Data: signPayload(subject), PayloadType: "application/vnd.in-toto+json"}, key, sign.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := key.GetPublicKeyPem()
	if err != nil {
		t.Fatal(err)
	}
	pub = filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(pub, []byte(pem), 0o644); err != nil {
		t.Fatal(err)
	}
	return pub, vendorBundle(t, l, name, subject, bundle)
}

// signPayload returns what cosign v3 signs for subject: an in-toto
// statement of its signing predicate.
func signPayload(subject digest.Digest) []byte {
	return fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"image","digest":{"sha256":%q}}],"predicateType":%q,"predicate":{}}`,
		subject.Encoded(), manifest.CosignSignPredicate)
}

// vendorBundle writes bundle into l as sync vendors a signature of
// subject for the image named name (a referrer manifest with the bundle
// as its layer, recorded in index.json), and returns the bundle's blob
// path.
func vendorBundle(t *testing.T, l *layout.Layout, name string, subject digest.Digest, bundle []byte) string {
	t.Helper()
	ctx := context.Background()
	if err := l.Init(ctx); err != nil {
		t.Fatal(err)
	}
	put := func(mt string, b []byte) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
		if err := l.WriteBlobBytes(ctx, d, b); err != nil {
			t.Fatal(err)
		}
		return d
	}
	const bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	layer := put(bundleType, bundle)
	cfg := put("application/vnd.oci.empty.v1+json", []byte("{}"))
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: bundleType, Config: cfg, Layers: []ocispec.Descriptor{layer},
		Subject: &ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: subject, Size: 100}}
	m.SchemaVersion = 2
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	md := put(ocispec.MediaTypeImageManifest, raw)
	md.ArtifactType = bundleType
	md.Annotations = map[string]string{manifest.AnnotationBundlePredicateType: manifest.CosignSignPredicate}
	idxRaw, idxDesc, err := layout.EncodeReferrers([]ocispec.Descriptor{md})
	if err != nil {
		t.Fatal(err)
	}
	put(ocispec.MediaTypeImageIndex, idxRaw)
	if _, err := l.WriteIndex(ctx, []ocispec.Descriptor{layout.ReferrersEntry(idxDesc, "registry.test/app", name, subject, "signatures")}); err != nil {
		t.Fatal(err)
	}
	p, err := l.BlobPath(layer.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	subject := digest.FromString("the image")
	ref, err := reference.Parse("registry.test/app:1")
	if err != nil {
		t.Fatal(err)
	}
	l := layout.New(t.TempDir())
	pub, bundlePath := signedLayout(t, l, "registry.test/app:1", subject)
	otherPub, _ := signedLayout(t, layout.New(t.TempDir()), "registry.test/app:1", subject)
	image := func(key string) config.Image {
		return config.Image{Ref: ref, Digest: subject, Referrers: []string{"signatures"}, Verify: &config.Policy{Key: key}}
	}
	tests := []struct {
		name   string
		image  config.Image
		tamper bool
		want   string // in the finding's message; "" for none
	}{
		{"the key", image(pub), false, ""},
		{"another key", image(otherPub), false, "no valid signature"},
		{"another subject", config.Image{Ref: ref, Digest: digest.FromString("another"), Verify: &config.Policy{Key: pub}}, false, "its referrers are not vendored"},
		{"a flipped byte", image(pub), true, "no valid signature"},
		{"no such key", image(filepath.Join(t.TempDir(), "absent.pub")), false, "cannot load the verify: policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.tamper {
				flip(t, bundlePath)
				defer flip(t, bundlePath)
			}
			findings, err := sigverify.Verify(ctx, l, []config.Image{tt.image})
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			switch {
			case tt.want == "" && len(findings) > 0:
				t.Errorf("Verify = %v, want no finding", findings)
			case tt.want != "" && (len(findings) != 1 || findings[0].Kind != layout.KindSignature || findings[0].Image != "registry.test/app:1" || !strings.Contains(findings[0].Message, tt.want)):
				t.Errorf("Verify = %v, want one signature finding for registry.test/app:1 containing %q", findings, tt.want)
			}
		})
	}
}

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

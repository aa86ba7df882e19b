package sigverify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	"github.com/google/certificate-transparency-go/x509util"
	"github.com/opencontainers/go-digest"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/reference"
	"github.com/vendorimg/vendorimg/sigverify"
)

// testSigstore is a Sigstore that lives in the test: sigstore-go's
// VirtualSigstore is its transparency log (Rekor v1) and timestamp
// authority, and the test holds its own Fulcio CA and CT log, because the
// VirtualSigstore's certificates carry no SCT and a keyless policy
// requires one, as cosign's does.
type testSigstore struct {
	vs        *ca.VirtualSigstore
	fulcio    *root.FulcioCertificateAuthority
	interKey  *ecdsa.PrivateKey
	ctKey     *ecdsa.PrivateKey
	ctLogID   [sha256.Size]byte
	notBefore time.Time
}

func newTestSigstore(t *testing.T) *testSigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	inter, interKey, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	ctKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(ctKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	// The certificates the ca package makes are valid from a few minutes
	// ago: so is everything here, whatever the clock says.
	notBefore := inter.NotBefore
	return &testSigstore{
		vs: vs,
		fulcio: &root.FulcioCertificateAuthority{Root: rootCert, Intermediates: []*x509.Certificate{inter},
			ValidityPeriodStart: rootCert.NotBefore, ValidityPeriodEnd: rootCert.NotAfter, URI: "https://fulcio.test"},
		interKey: interKey, ctKey: ctKey, ctLogID: sha256.Sum256(spki), notBefore: notBefore,
	}
}

// trustedRoot writes the trusted_root.json a keyless policy names.
func (s *testSigstore) trustedRoot(t *testing.T) string {
	t.Helper()
	// The VirtualSigstore keys its Rekor logs by the hex log ID but sets
	// ID to that hex text, not the raw ID a trusted_root.json holds.
	rekor := map[string]*root.TransparencyLog{}
	for id, tl := range s.vs.RekorLogs() {
		c := *tl
		raw, err := hex.DecodeString(id)
		if err != nil {
			t.Fatal(err)
		}
		c.ID = raw
		rekor[id] = &c
	}
	ctID := hex.EncodeToString(s.ctLogID[:])
	ctlogs := map[string]*root.TransparencyLog{ctID: {BaseURL: "https://ctfe.test", ID: s.ctLogID[:], HashFunc: crypto.SHA256,
		PublicKey: s.ctKey.Public(), SignatureHashFunc: crypto.SHA256, ValidityPeriodStart: s.fulcio.ValidityPeriodStart}}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{s.fulcio}, ctlogs, s.vs.TimestampingAuthorities(), rekor)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// leaf issues a Fulcio-like certificate for identity (an email) and
// issuer, with an SCT from the test's CT log embedded as Fulcio does.
func (s *testSigstore) leaf(t *testing.T, identity, issuer string, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	issuerExt, err := asn1.MarshalWithParams(issuer, "utf8")
	if err != nil {
		t.Fatal(err)
	}
	inter := s.fulcio.Intermediates[0]
	issue := func(sctList []byte) *x509.Certificate {
		ext, err := asn1.Marshal(sctList)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(2), EmailAddresses: []string{identity},
			NotBefore: s.notBefore, NotAfter: s.notBefore.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
			ExtraExtensions: []pkix.Extension{
				{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, Value: issuerExt}, // the OIDC issuer (v2)
				{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}, Value: ext},    // the SCT list
			},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, inter, key.Public(), s.interKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// An SCT signs the certificate without its SCT list: issue it with a
	// placeholder list, sign that, then issue it again with the real list.
	sctListBytes := func(scts ...*ct.SignedCertificateTimestamp) []byte {
		list, err := x509util.MarshalSCTsIntoSCTList(scts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := cttls.Marshal(*list)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sct := &ct.SignedCertificateTimestamp{SCTVersion: ct.V1, LogID: ct.LogID{KeyID: s.ctLogID},
		Timestamp: uint64(s.notBefore.Add(time.Second).UnixMilli()),
		Signature: ct.DigitallySigned{Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA}, Signature: []byte{0}}}
	placeholder := issue(sctListBytes(sct))
	chain, err := ctx509.ParseCertificates(append(append([]byte{}, placeholder.Raw...), inter.Raw...))
	if err != nil {
		t.Fatal(err)
	}
	mtl, err := ct.MerkleTreeLeafForEmbeddedSCT(chain, sct.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	input, err := ct.SerializeSCTSignatureInput(*sct, ct.LogEntry{Leaf: *mtl})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(input)
	sig, err := ecdsa.SignASN1(rand.Reader, s.ctKey, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sct.Signature.Signature = sig
	return issue(sctListBytes(sct))
}

// sign returns the bundle (v0.3) of payload DSSE-signed by identity
// of issuer, with the VirtualSigstore's log entry (inclusion proof) and
// signed timestamp, as cosign v3 makes it for an image.
func (s *testSigstore) sign(t *testing.T, identity, issuer string, payload []byte) *protobundle.Bundle {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := s.leaf(t, identity, issuer, key)
	sv, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := dsse.NewEnvelopeSigner(&sigdsse.SignerAdapter{SignatureSigner: sv, Pub: key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	const payloadType = "application/vnd.in-toto+json"
	env, err := signer.SignPayload(context.Background(), payloadType, payload)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := s.vs.GenerateTlogEntry(cert, env, sig, s.notBefore.Add(time.Second).Unix(), true)
	if err != nil {
		t.Fatal(err)
	}
	tle := proto.Clone(entry.TransparencyLogEntry()).(*protorekor.TransparencyLogEntry)
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	tsr, err := s.vs.TimestampResponse(sig)
	if err != nil {
		t.Fatal(err)
	}
	return &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}},
			TlogEntries:               []*protorekor.TransparencyLogEntry{tle},
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tsr}}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: payload, PayloadType: payloadType, Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}
}

func marshalBundle(t *testing.T, pb *protobundle.Bundle) []byte {
	t.Helper()
	b, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyKeyless(t *testing.T) {
	ctx := context.Background()
	const (
		name     = "registry.test/app:1"
		identity = "release@vendorimg.test"
		issuer   = "https://issuer.test"
	)
	subject := digest.FromString("the image")
	ref, err := reference.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	ss := newTestSigstore(t)
	pb := ss.sign(t, identity, issuer, signPayload(subject))
	l := layout.New(t.TempDir())
	bundlePath := vendorBundle(t, l, name, subject, marshalBundle(t, pb))
	// A flipped byte in the signature itself, vendored under the bundle's
	// new digest, so that it passes the rehash and Sigstore verification
	// has to catch it.
	forged := proto.Clone(pb).(*protobundle.Bundle)
	forged.GetDsseEnvelope().Signatures[0].Sig[10] ^= 0x01
	forgedLayout := layout.New(t.TempDir())
	vendorBundle(t, forgedLayout, name, subject, marshalBundle(t, forged))
	trusted := ss.trustedRoot(t)
	otherRoot := newTestSigstore(t).trustedRoot(t)
	image := func(identity, issuer, trustedRoot string) config.Image {
		return config.Image{Ref: ref, Digest: subject, Referrers: []string{"signatures"},
			Verify: &config.Policy{Identity: identity, Issuer: issuer, TrustedRoot: trustedRoot}}
	}
	tests := []struct {
		name   string
		l      *layout.Layout
		image  config.Image
		tamper bool
		want   string // in the finding's message; "" for none
	}{
		{"the identity and issuer", l, image(identity, issuer, trusted), false, ""},
		{"another identity", l, image("someone@else.test", issuer, trusted), false, `expected SAN value "someone@else.test"`},
		{"another issuer", l, image(identity, "https://other-issuer.test", trusted), false, `expected issuer value "https://other-issuer.test"`},
		{"another Sigstore's trusted root", l, image(identity, issuer, otherRoot), false, "no valid signature"},
		{"a flipped byte in the bundle blob", l, image(identity, issuer, trusted), true, "digest mismatch"},
		{"a flipped byte in the signature", forgedLayout, image(identity, issuer, trusted), false, "no valid signature"},
		{"no trusted root", l, image(identity, issuer, filepath.Join(t.TempDir(), "absent.json")), false, "cannot load the verify: policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.tamper {
				flip(t, bundlePath)
				defer flip(t, bundlePath)
			}
			findings, err := sigverify.Verify(ctx, tt.l, []config.Image{tt.image})
			if err != nil {
				t.Fatalf("Verify(%q) = %v, want no error", tt.name, err)
			}
			switch {
			case tt.want == "" && len(findings) > 0:
				t.Errorf("Verify(%q) = %v, want no finding", tt.name, findings)
			case tt.want != "" && (len(findings) != 1 || findings[0].Kind != layout.KindSignature || findings[0].Image != name || !strings.Contains(findings[0].Message, tt.want)):
				t.Errorf("Verify(%q) = %v, want one signature finding for %s containing %q", tt.name, findings, name, tt.want)
			}
		})
	}
}

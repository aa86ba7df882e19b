// Package sigverify checks, offline, the signatures vendored with an
// image (cosign v3's Sigstore bundles, vendored as OCI referrers by sync)
// against an image's verify: policy: a cosign public key, or keyless, a
// certificate identity and issuer against a Sigstore trusted_root.json.
// It uses the Sigstore Go libraries (sigstore-go) and never the network:
// no transparency log lookup, no TUF refresh, no time server.
//
// It is the only package that links sigstore-go (deps_test.go fences it):
// commands that do not verify signatures do not carry it.
package sigverify

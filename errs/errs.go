// Package errs holds the sentinel errors that vendorimg's packages wrap and
// that callers branch on with errors.Is. Every error the library returns
// that matches one of these wraps it with context (which image, blob, file
// or registry), so the message alone is enough for a human and the sentinel
// is enough for a program.
package errs

import "errors"

var (
	// ErrInvalidReference: an image reference does not follow the
	// distribution reference grammar.
	ErrInvalidReference = errors.New("invalid reference")
	// ErrInvalidDigest: a digest is not "sha256:" followed by 64 lowercase
	// hexadecimal characters.
	ErrInvalidDigest = errors.New("invalid digest")
	// ErrInvalidPlatform: a platform is not os/arch[/variant] with a known
	// os and architecture.
	ErrInvalidPlatform = errors.New("invalid platform")
	// ErrConfig: vendorimg.yaml is malformed or inconsistent.
	ErrConfig = errors.New("invalid config")
	// ErrNoConfig: no vendorimg.yaml was found.
	ErrNoConfig = errors.New("no vendorimg.yaml found")

	// ErrNotFound: the registry does not have the manifest, blob or tag.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the registry refused the credentials (or their absence).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrCredentials: the credentials for a registry could not be read: a
	// credential helper or store failed, or the docker config is
	// unreadable. The error names the helper or file, never what the helper
	// printed, which may be the secret itself.
	ErrCredentials = errors.New("credentials unavailable")
	// ErrTimeout: a registry kept vendorimg waiting longer than a bound
	// allows: no response headers, or a body that stalled or trickled
	// (registry.Timeouts).
	ErrTimeout = errors.New("timed out")
	// ErrInsecure: plain http was needed for a registry that is neither on
	// a loopback address nor declared insecure.
	ErrInsecure = errors.New("plain http not allowed")
	// ErrDigestMismatch: bytes do not hash to the digest they were asked for.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrSizeMismatch: a blob is shorter or longer than its descriptor says.
	ErrSizeMismatch = errors.New("size mismatch")
	// ErrTooLarge: a manifest or config is larger than vendorimg accepts to
	// hold in memory.
	ErrTooLarge = errors.New("too large")

	// ErrOffline: the operation needs the network but was told not to use it.
	ErrOffline = errors.New("offline")
	// ErrPlatformMissing: the requested platform is not in the image (or not
	// vendored).
	ErrPlatformMissing = errors.New("platform not available")
	// ErrSparseIndex: a registry refused an index because it lists
	// platforms that were not vendored (the distribution registry checks
	// that an index's manifests are present).
	ErrSparseIndex = errors.New("index lists platforms not vendored")
	// ErrUnsupportedMediaType: a manifest's media type is not one vendorimg
	// knows how to walk.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrTooDeep: an image graph nests indexes more deeply than vendorimg
	// follows (layout.MaxDepth); nothing below the cut is read.
	ErrTooDeep = errors.New("image graph nested too deeply")
	// ErrInvalidLayout: the layout on disk is malformed (index.json,
	// oci-layout, or a file where a folder should be).
	ErrInvalidLayout = errors.New("invalid layout")
	// ErrVerifyFailed: verification found at least one problem; the report
	// lists them all.
	ErrVerifyFailed = errors.New("verification failed")
	// ErrNoEngine: no docker engine answers where the environment points
	// (DOCKER_HOST, or the local socket): the connection itself failed.
	ErrNoEngine = errors.New("no docker engine")
	// ErrInvalidOption: an option of a library call has a value it
	// cannot take (a negative count or duration); the message names it.
	ErrInvalidOption = errors.New("invalid option")
	// ErrNoSigverify: an image has a verify: policy, and the
	// vendorimg-sigverify program that checks it cannot be used: it is
	// not found ($VENDORIMG_SIGVERIFY, beside vendorimg, on PATH), cannot
	// be started, or is of another version than vendorimg. The message
	// says which, and how to get the right one.
	ErrNoSigverify = errors.New("no vendorimg-sigverify")
)

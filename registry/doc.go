// Package registry is vendorimg's client of the OCI distribution API
// (distribution-spec v1.1): it resolves tags and fetches manifests and
// blobs by digest, with credentials from the docker config, retries with
// backoff, timeouts that keep a stalled registry from hanging a request
// (Timeouts, RetryPolicy.MaxWait), mirrors, and a plain-http policy. Its
// errors say in words what was not found where, or which credentials were
// refused (never the credentials). Image references are package
// reference's.
//
// The Client never converts or re-marshals what a registry serves: a
// manifest's bytes are checked against the digest they were asked for and
// returned as they are, and blobs are returned as streams for the caller to
// hash while it stores them.
package registry

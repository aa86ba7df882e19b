// Package registry is vendorimg's client of the OCI distribution API
// (distribution-spec v1.1): it resolves tags and fetches manifests and
// blobs by digest, with credentials from the docker config, retries with
// backoff, timeouts that keep a stalled registry from hanging a request
// (Timeouts, RetryPolicy.MaxWait), mirrors, and a plain-http policy. Its
// errors say in words what was not found where, or which credentials were
// refused (never the credentials). Image references are package
// reference's.
//
// It is also the one home of the client's construction and of retrying:
// ForConfig (config.go) makes the client every command uses for a
// configuration; RetryPolicy (transport.go) retries requests that fail
// before their body, Restarts (restart.go) starts again a transfer whose
// body was cut, and Timeouts (timeout.go) bound each wait.
//
// The Client never converts or re-marshals what a registry serves: a
// manifest's bytes are checked against the digest they were asked for and
// returned as they are, and blobs are returned as streams for the caller to
// hash while it stores them.
package registry

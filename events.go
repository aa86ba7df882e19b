package vendorimg

import (
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/layout"
)

// EventKind says what an Event reports.
type EventKind string

// Event kinds.
const (
	// EventWaiting: another vendorimg holds the layout's lock.
	EventWaiting EventKind = "waiting"
	// EventResolve: an image's manifests are being read or fetched.
	EventResolve EventKind = "resolve"
	// EventPlan: the blobs to fetch are known (Blobs, Size).
	EventPlan EventKind = "plan"
	// EventFetchStart: a blob download starts.
	EventFetchStart EventKind = "fetch-start"
	// EventFetchProgress: Done of Size bytes of a blob are written.
	EventFetchProgress EventKind = "fetch-progress"
	// EventFetchDone: a blob is verified and stored.
	EventFetchDone EventKind = "fetch-done"
	// EventRetry: a blob download failed for a passing reason and is
	// tried again.
	EventRetry EventKind = "retry"
	// EventImageDone: an image is complete in the layout.
	EventImageDone EventKind = "image-done"
)

// Event is a progress report. Callbacks receive them from several
// goroutines, never concurrently.
type Event struct {
	Kind   EventKind
	Image  string
	Digest digest.Digest
	Role   layout.Role
	// Size is the blob's size (for EventPlan, the total to fetch).
	Size int64
	// Done is the bytes written so far.
	Done int64
	// Blobs is, for EventPlan, the number of blobs to fetch.
	Blobs int
	// Err is, for EventRetry, why.
	Err error
}

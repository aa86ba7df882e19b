package progress

import "github.com/opencontainers/go-digest"

// Kind says what an Event reports. The values are stable.
type Kind string

// Event kinds.
const (
	// Waiting: another vendorimg holds the layout's lock; the operation
	// waits for it. Sent once per wait.
	Waiting Kind = "waiting"
	// Resolve: an image's documents (index, manifests, configs) are being
	// read from the layout or fetched.
	Resolve Kind = "resolve"
	// Plan: the work is known: Blobs blobs (or images) of Size bytes in all.
	Plan Kind = "plan"
	// Start: a blob (or, for load and push, an image) starts: Size bytes.
	Start Kind = "start"
	// Advance: Done of Size bytes of a blob or image are through. For
	// verify, Image and Digest are empty and Done and Size count the whole
	// run.
	Advance Kind = "advance"
	// Done: a blob (or image) is finished: verified and stored, streamed,
	// pushed.
	Done Kind = "done"
	// Retry: a passing failure (Err); the blob is tried again.
	Retry Kind = "retry"
	// Notice: something the person running vendorimg should see even
	// without -v (a long wait a registry asked for, a mirror that failed);
	// Message says it.
	Notice Kind = "notice"
	// Unpacking: load has sent the whole image and waits for the engine to
	// unpack it.
	Unpacking Kind = "unpacking"
	// ImageDone: an image is complete.
	ImageDone Kind = "image-done"
)

// Event is a progress report. An operation calls its Func from several
// goroutines, but never concurrently.
type Event struct {
	Kind Kind
	// Image is the image's full reference, when the event concerns one.
	Image string
	// Digest is the blob's digest, when the event concerns one.
	Digest digest.Digest
	// Role is what the blob is to its image: index, manifest, config,
	// layer or blob.
	Role string
	// Size is the blob's or image's size; for Plan, the total.
	Size int64
	// Done is the bytes through so far.
	Done int64
	// Blobs is, for Plan, how many blobs (or images) there are.
	Blobs int
	// Message is, for Notice, what to show.
	Message string
	// Err is, for Retry, why.
	Err error
}

// Func receives events. A nil Func discards them.
type Func func(Event)

// Emit calls f with e, unless f is nil.
func (f Func) Emit(e Event) {
	if f != nil {
		f(e)
	}
}

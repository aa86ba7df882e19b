package daemon

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
)

// How Watcher.Check knows that no image changed in the engine without
// asking for its image list (Watcher.Quiet). The values are part of the
// JSON output of vendorimg watch.
const (
	// QuietByEvents: dockerd, on this machine. Its event log is written
	// before the call that changed an image returns, and a bounded query
	// (since, until) is answered from the log it keeps in memory: no image
	// event and no container commit in the window since the last check
	// means no tag moved. One request, about a millisecond.
	QuietByEvents = "events"
	// QuietByStoreFile: podman (containers/storage), whose image store is
	// readable here. Every change of an image or a name rewrites the store's
	// images.json; the same bytes as at the last check mean no change. No
	// request at all. (podman's event log cannot serve: it writes image
	// events from a queue it drains every 100 ms, after the call returns.)
	QuietByStoreFile = "store-file"
	// QuietByNone: no cheap proof here (an engine on another machine, a
	// podman store that is not readable): every check lists the images.
	QuietByNone = "none"
)

// quietEventLimit: a window with this many events or more is not trusted
// to be whole. dockerd keeps its last 256 events (64 in old versions) and
// answers a bounded query from them; fewer than 64 in the window leaves
// room for the events logged after the window, before the query.
const quietEventLimit = 64

// pinger is what *APIClient tells beside WatchClient: who answers
// (/_ping's Server header) and where the engine is.
type pinger interface {
	Ping(ctx context.Context) (Ping, error)
	DaemonHost() string
}

// quietWay picks the cheap proof for the engine c: the store file for
// podman when readable here, the event log for a dockerd on this machine,
// else none (with the reason, for the debug log). The engine's /_ping
// says who it is: "Docker/20.10.24 (linux)" from dockerd, "Libpod/4.3.1
// (linux)" from podman (its /version says so too, but podman takes most
// of a second to answer that).
func quietWay(ctx context.Context, c WatchClient, eng Engine) (way, file, why string) {
	d, ok := c.(pinger)
	if !ok {
		return QuietByNone, "", "the client cannot tell which engine it talks to"
	}
	pctx, cancel := context.WithTimeout(ctx, eventsTimeout)
	defer cancel()
	ping, err := d.Ping(pctx)
	if err != nil {
		return QuietByNone, "", "asking the engine who it is: " + err.Error()
	}
	server := ping.Server
	if strings.HasPrefix(server, "Libpod/") {
		if eng.root == "" || eng.driver == "" {
			return QuietByNone, "", "podman did not name its storage (GraphRoot, driver)"
		}
		file = filepath.Join(eng.root, eng.driver+"-images", "images.json")
		if _, err := os.ReadFile(file); err != nil {
			return QuietByNone, "", "podman's image store is not readable here: " + err.Error()
		}
		return QuietByStoreFile, file, ""
	}
	if !strings.HasPrefix(server, "Docker/") {
		return QuietByNone, "", fmt.Sprintf("the engine answers as %q, neither dockerd nor podman", server)
	}
	if !onThisMachine(d.DaemonHost()) {
		// The window's bounds are this machine's clock; another machine's
		// log is timed by its own.
		return QuietByNone, "", "the engine is not on this machine"
	}
	return QuietByEvents, "", ""
}

// onThisMachine: a unix socket, or TCP to a loopback address.
func onThisMachine(host string) bool {
	u, err := url.Parse(host)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "unix", "npipe":
		return true
	case "tcp", "http", "https":
		h := u.Hostname()
		return h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1"
	}
	return false
}

// quiet tells whether the engine's images certainly did not change since
// the previous call (or NewWatcher): false means "maybe", and Check lists
// the images. until is the end of the window, taken before any of this
// check's requests; storeSum the store file's sum read now, which Check
// keeps as the next baseline only after a full check saw no change.
func (w *Watcher) quiet(ctx context.Context, until time.Time) (quiet bool, storeSum [32]byte) {
	switch w.quietBy {
	case QuietByEvents:
		ok, err := w.eventsQuiet(ctx, w.quietSince, until)
		if err != nil {
			w.logger.Debug("the event log could not tell; listing the images", "error", err)
		}
		return ok && err == nil, storeSum
	case QuietByStoreFile:
		b, err := os.ReadFile(w.storeFile)
		if err != nil {
			w.logger.Debug("podman's image store could not be read; listing the images", "error", err)
			return false, storeSum
		}
		storeSum = sha256.Sum256(b)
		return w.storeKnown && storeSum == w.storeSum, storeSum
	}
	return false, storeSum
}

// eventsQuiet reads the engine's events between since and until (a
// millisecond earlier, for the clock's grain) and says whether none of
// them can have changed an image: no image event (tag, untag, delete,
// pull, load, import, create...; not save or push) and no container
// commit, and fewer than quietEventLimit events in all.
func (w *Watcher) eventsQuiet(ctx context.Context, since, until time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, eventsTimeout)
	defer cancel()
	msgs, err := w.c.Events(ctx, since.Add(-time.Millisecond), until)
	if err != nil {
		return false, err
	}
	if len(msgs) >= quietEventLimit || slices.ContainsFunc(msgs, mayChangeImages) {
		return false, nil
	}
	return true, nil
}

// mayChangeImages: an event that can move, add or remove a tag or an image.
func mayChangeImages(m events.Message) bool {
	switch m.Type {
	case events.ImageEventType:
		return m.Action != events.ActionSave && m.Action != events.ActionPush
	case events.ContainerEventType:
		return m.Action == events.ActionCommit
	}
	return false
}

package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// WatchClient is what a Watcher needs of the engine: Client, the image
// list (one request tells every tag's image) and the event log (which
// says what changed a tag). *APIClient implements it.
type WatchClient interface {
	Client
	// ImageList is GET /images/json.
	ImageList(ctx context.Context) ([]image.Summary, error)
	// Events is GET /events of the window from since to until, which the
	// engine answers from its log and then ends.
	Events(ctx context.Context, since, until time.Time) ([]events.Message, error)
}

// Kinds of TagFinding. The values are part of the JSON output.
const (
	// TagMoved: the tag points to another image (a docker commit or build
	// onto it, a re-tag, a pull or load that replaced it).
	TagMoved = "tag-moved"
	// TagRemoved: the tag is gone (docker rmi, docker untag).
	TagRemoved = "tag-removed"
	// ImageRemoved: the engine no longer holds the vendored image at all.
	ImageRemoved = "image-removed"
)

// WatchOptions configure NewWatcher.
type WatchOptions struct {
	// Platform is the vendored platform that was loaded. Default: the
	// engine's own, as Load's default.
	Platform *platform.Platform
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
}

// Watcher is the per-test check of loaded images: Check tells whether any
// test since the last Check moved or removed a loaded image's tag, removed
// the image, or changed a file of the layout, and asks the engine's event
// log what did it; with restore it puts the vendored images back. It is
// built for a test harness that checks after every test: when nothing
// changed, a check is a stat of each watched layout file and one short
// request to the engine or none (Quiet, watch_quiet.go); only a change, or
// an engine where that cannot tell, costs the image list. A Watcher is not
// safe for concurrent use.
type Watcher struct {
	c      WatchClient
	l      *layout.Layout
	logger *slog.Logger
	eng    Engine
	images []*watchedImage
	fp     *layout.Fingerprint
	// since is when the last Check (or NewWatcher) ended: the start of the
	// window whose events explain a change.
	since time.Time
	// before are the layout files that were already wrong when the
	// Watcher started.
	before []layout.FileChange
	// quietBy is how Check knows that no image changed without listing
	// them (watch_quiet.go); quietSince starts the window of the next
	// events query; storeFile is podman's images.json, storeSum its sum
	// when a full check last saw no change (storeKnown).
	quietBy    string
	quietSince time.Time
	storeFile  string
	storeSum   [32]byte
	storeKnown bool
}

// watchedImage is one loaded image.
type watchedImage struct {
	im config.Image
	v  *vendored
	// id is the engine's ID of the vendored image.
	id string
	// names are the forms the engine may list the tag in (familiar and
	// full); empty for a digest-only reference.
	names []string
	// own are tags given to single tests (AddTag), not checked.
	own []string
}

// tag is the image's tag as docker shows it, or its ID when it has none.
func (wi *watchedImage) tag() string {
	if wi.v.tag != "" {
		return wi.v.tag
	}
	return wi.id
}

// NewWatcher starts watching images, which should be loaded already
// (Load): it reads them from the layout, finds each in the engine (by its
// tag, else by the IDs either store gives it) and rehashes their blobs and
// index.json once, remembering each file's record (layout.Fingerprint).
// Files already wrong are in Before. An image whose tag is not the
// vendored image (another process's test may be changing it) is watched
// all the same: the first Check reports it. NewWatcher holds the layout's
// shared lock only while it reads.
func NewWatcher(ctx context.Context, c WatchClient, l *layout.Layout, images []config.Image, opts WatchOptions) (*Watcher, error) {
	if c == nil {
		return nil, errors.New("watching images: no docker client")
	}
	logger, eng, err := begin(ctx, c, "watching images", opts.Logger)
	if err != nil {
		return nil, err
	}
	want := eng.platform
	if opts.Platform != nil {
		want = *opts.Platform
	}
	w := &Watcher{c: c, l: l, logger: logger, eng: eng, quietSince: time.Now()}
	var why string
	w.quietBy, w.storeFile, why = quietWay(ctx, c, eng)
	logger.Debug("per-test check", "quiet-by", w.quietBy, "why-none", why)
	idx, unlock, err := openLayout(ctx, l, nil)
	if err != nil {
		return nil, err
	}
	var blobs []digest.Digest
	for _, im := range images {
		vs, err := readVendored(ctx, l, idx, im)
		if err != nil {
			unlock()
			return nil, err
		}
		v, err := pick(im.Name(), vs, want)
		if err != nil {
			unlock()
			return nil, err
		}
		if err := v.readConfig(ctx, l); err != nil {
			unlock()
			return nil, err
		}
		id, err := loadedID(ctx, c, eng, v)
		if err != nil {
			unlock()
			return nil, err
		}
		wi := &watchedImage{im: im, v: v, id: id}
		if v.tag != "" {
			wi.names = []string{v.tag, im.Ref.WithoutDigest().String()}
		}
		w.images = append(w.images, wi)
		blobs = append(blobs, v.top.Digest, v.manifest.Digest, v.config.Digest)
		for _, d := range v.layers {
			blobs = append(blobs, d.Digest)
		}
	}
	w.fp, w.before, err = l.Fingerprint(ctx, blobs)
	unlock()
	if err != nil {
		return nil, err
	}
	w.since = time.Now()
	return w, nil
}

// Engine is the engine watched.
func (w *Watcher) Engine() Engine { return w.eng }

// Quiet is how Check knows that no image changed without listing the
// images: QuietByEvents, QuietByStoreFile or QuietByNone.
func (w *Watcher) Quiet() string { return w.quietBy }

// Files is how many layout files the Watcher watches.
func (w *Watcher) Files() int { return w.fp.Files() }

// Before are the layout files that were already wrong when the Watcher
// started (they are not reported by Check unless they change again).
func (w *Watcher) Before() []layout.FileChange { return w.before }

// WatchedImage is a watched image as the engine holds it.
type WatchedImage struct {
	// Ref is the image's full reference in the layout.
	Ref string `json:"ref"`
	// Tag is the engine's tag ("" for a digest-only reference).
	Tag string `json:"tag"`
	// ImageID is the vendored image's ID in the engine.
	ImageID string `json:"imageId"`
	// Platform is the vendored platform loaded.
	Platform string `json:"platform"`
}

// Images are the watched images.
func (w *Watcher) Images() []WatchedImage {
	out := make([]WatchedImage, 0, len(w.images))
	for _, wi := range w.images {
		out = append(out, WatchedImage{Ref: wi.v.name, Tag: wi.v.tag, ImageID: wi.id, Platform: wi.v.platformString()})
	}
	return out
}

// TagFinding is a loaded image whose tag no longer names the vendored
// image.
type TagFinding struct {
	// Ref is the image's full reference in the layout; Tag its engine tag
	// (its ID for a digest-only reference).
	Ref string `json:"ref"`
	Tag string `json:"tag"`
	// Kind is TagMoved, TagRemoved or ImageRemoved.
	Kind string `json:"kind"`
	// Expected is the vendored image's ID; Actual the image the tag now
	// points to ("" when the tag is gone).
	Expected string `json:"expected"`
	Actual   string `json:"actual,omitempty"`
	// Message says it in a sentence.
	Message string `json:"message"`
}

// WatchEvent is an engine event that touched a watched image or tag.
type WatchEvent struct {
	// Time is when the engine logged it.
	Time time.Time `json:"time"`
	// Type and Action are the engine's ("image" "tag", "container"
	// "commit").
	Type   string `json:"type"`
	Action string `json:"action"`
	// ID is the image's or container's ID; Name the name the event
	// carries (the tag, the container's name).
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Text says what happened in the words of the docker command.
	Text string `json:"text"`
}

// Restoration is what Check did to put one thing back.
type Restoration struct {
	// Tag or Path is what was put back (or could not be).
	Tag  string `json:"tag,omitempty"`
	Path string `json:"path,omitempty"`
	// Action is RestoreRetagged, RestoreLoaded or RestoreNone.
	Action string `json:"action"`
	// Displaced is the image the tag pointed to instead; DisplacedAction
	// what became of it: "removed" (nothing else used it), or why it is
	// kept.
	Displaced       string `json:"displaced,omitempty"`
	DisplacedAction string `json:"displacedAction,omitempty"`
	// Error is why the restore failed ("" when it did not).
	Error string `json:"error,omitempty"`
}

// What Check did to restore. The values are part of the JSON output.
const (
	// RestoreRetagged: the engine still held the vendored image; the tag
	// was set on it again.
	RestoreRetagged = "re-tagged"
	// RestoreLoaded: the engine no longer held it; it was loaded from the
	// layout.
	RestoreLoaded = "loaded"
	// RestoreNone: nothing can be done from here (a layout file changed:
	// restore it from version control).
	RestoreNone = "not restored"
)

// WatchReport is what a Check found.
type WatchReport struct {
	// OK: no tag finding and no layout change (a file put back is not one).
	OK bool `json:"ok"`
	// Since and Until delimit the window checked: from the end of the
	// previous Check to the start of this one (quiet) or its image list.
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Quiet: the engine's event log or image store file showed that no
	// image changed (Watcher.Quiet), so the images were not listed.
	Quiet bool `json:"quiet,omitempty"`
	// Tags are the loaded images whose tag changed.
	Tags []TagFinding `json:"tags,omitempty"`
	// Layout are the watched layout files that changed (or were put back).
	Layout []layout.FileChange `json:"layout,omitempty"`
	// Events are the engine's events about the watched images in the
	// window, when something changed.
	Events []WatchEvent `json:"events,omitempty"`
	// EventsError is why the events could not be read ("" when they were).
	EventsError string `json:"eventsError,omitempty"`
	// Restored says what was put back, when Check was asked to.
	Restored []Restoration `json:"restored,omitempty"`
}

// eventsTimeout bounds the events query after a change: the engine
// answers a bounded query (since and until) from its log at once.
const eventsTimeout = 10 * time.Second

// CheckTestOptions configure Watcher.Check.
type CheckTestOptions struct {
	// Restore puts the vendored images back after a change. Default
	// false: the change stays, for debugging.
	Restore bool
	// Since, when earlier than the end of the previous Check (or
	// NewWatcher), starts the window whose events explain a change: the
	// start of the test, when the Watcher started during it.
	Since time.Time
}

// Check tells whether anything changed since the previous Check (or
// NewWatcher): a loaded image's tag moved or removed, the vendored image
// removed, a watched layout file changed. It stats each watched file and
// rehashes those that moved; it asks the engine's event log (dockerd) or
// reads its image store's file (podman) whether an image may have changed
// in the window (Quiet), and lists the images only then, or when neither
// can tell; only when something changed does it read the engine's events
// of the window to say what did it.
// With opts.Restore it then puts the vendored images back (re-tags the
// vendored image, or loads it from the layout when the engine no longer
// has it) and removes the image a tag was moved to when nothing else
// names or uses it. The error is for what stops the check (the engine
// does not answer); findings are in the report.
func (w *Watcher) Check(ctx context.Context, opts CheckTestOptions) (*WatchReport, error) {
	until := time.Now()
	rep := &WatchReport{Since: w.since, Until: until}
	if !opts.Since.IsZero() && opts.Since.Before(rep.Since) {
		rep.Since = opts.Since
	}
	quiet, storeSum := w.quiet(ctx, until)
	// The next events window starts where this one ends: what happens
	// from here on (this check's list, a restore) is in it.
	w.quietSince = until
	var err error
	if rep.Layout, err = w.fp.Changes(ctx); err != nil {
		return nil, err
	}
	layoutOK := !slices.ContainsFunc(rep.Layout, func(c layout.FileChange) bool { return !c.Restored })
	if quiet && layoutOK {
		rep.OK, rep.Quiet = true, true
		w.since = time.Now()
		return rep, nil
	}
	list, err := listImages(ctx, w.c)
	if err != nil {
		return nil, fmt.Errorf("listing the engine's images: %w", err)
	}
	rep.Until = time.Now()
	byTag := map[string]string{}
	ids := map[string][]string{}
	for _, s := range list {
		ids[s.ID] = s.RepoTags
		for _, t := range s.RepoTags {
			byTag[t] = s.ID
		}
	}
	for _, wi := range w.images {
		if _, ok := ids[wi.id]; !ok {
			// The list leaves out an image that is only the parent of
			// another (the classic store, after a commit onto its tag):
			// ask for it by ID.
			if _, err := w.c.ImageInspect(ctx, wi.id); err == nil {
				ids[wi.id] = nil
			} else if !isNotFound(err) {
				return nil, fmt.Errorf("inspecting %s: %w", wi.id, err)
			}
		}
		if f, ok := wi.check(byTag, ids); !ok {
			rep.Tags = append(rep.Tags, f)
		}
	}
	rep.OK = len(rep.Tags) == 0 && layoutOK
	// The store file read before the list is the next baseline when the
	// list found every tag in place; after a change (restored or not) the
	// next check lists again.
	w.storeSum, w.storeKnown = storeSum, len(rep.Tags) == 0 && w.quietBy == QuietByStoreFile
	if !rep.OK {
		rep.Events, err = w.events(ctx, rep.Since, rep.Until)
		if err != nil {
			rep.EventsError = err.Error()
		}
		if opts.Restore {
			rep.Restored = w.restore(ctx, rep, ids)
		}
	}
	w.since = time.Now()
	return rep, nil
}

// check compares the image list with wi.
func (wi *watchedImage) check(byTag map[string]string, ids map[string][]string) (TagFinding, bool) {
	f := TagFinding{Ref: wi.v.name, Tag: wi.tag(), Expected: wi.id}
	_, present := ids[wi.id]
	if len(wi.names) == 0 {
		if present {
			return f, true
		}
		f.Kind, f.Message = ImageRemoved, fmt.Sprintf("image %s is no longer in the engine (docker rmi)", reference.Short(wi.id))
		return f, false
	}
	actual := ""
	for _, n := range wi.names {
		if id, ok := byTag[n]; ok {
			actual = id
			break
		}
	}
	switch {
	case actual == wi.id || (actual != "" && wi.v.matchID(actual) != ""):
		return f, true
	case actual == "" && present:
		f.Kind, f.Message = TagRemoved, fmt.Sprintf("the tag was removed (docker rmi or untag); the vendored image %s is still in the engine", reference.Short(wi.id))
	case actual == "":
		f.Kind, f.Message = ImageRemoved, fmt.Sprintf("the tag and the vendored image %s are no longer in the engine (docker rmi)", reference.Short(wi.id))
	default:
		f.Actual = actual
		f.Kind, f.Message = TagMoved, fmt.Sprintf("points to image %s, not the vendored %s (a docker commit or build onto the tag, a re-tag, or a pull or load replaced it)", reference.Short(actual), reference.Short(wi.id))
		if !present {
			f.Message += "; the vendored image is no longer in the engine"
		}
	}
	return f, false
}

// events reads the engine's log of image and container events between
// since and until and keeps those about the watched images.
func (w *Watcher) events(ctx context.Context, since, until time.Time) ([]WatchEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, eventsTimeout)
	defer cancel()
	msgs, err := w.c.Events(ctx, since.Add(-time.Millisecond), until.Add(time.Millisecond))
	ids := map[string]bool{}
	names := map[string]bool{}
	for _, wi := range w.images {
		ids[wi.id] = true
		for _, n := range wi.names {
			names[n] = true
		}
	}
	var out []WatchEvent
	for _, m := range msgs {
		if e, ok := watchEvent(m, ids, names); ok {
			out = append(out, e)
		}
	}
	if err != nil {
		return out, fmt.Errorf("reading the engine's events: %w", err)
	}
	return out, nil
}

// DescribeEvents says what events tell, in one line for messages:
// "docker commit of container X as probe:1 at 12:00:01.123; ...".
func DescribeEvents(es []WatchEvent) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, e.Text+" at "+e.Time.Format("15:04:05.000"))
	}
	return strings.Join(parts, "; ")
}

// loadedID is the engine's ID of the vendored image v: the one its tag
// or one of its IDs names, else (it is not in the engine) the ID the
// engine's store gives it when loaded.
func loadedID(ctx context.Context, c Client, eng Engine, v *vendored) (string, error) {
	ins, ok, err := lookup(ctx, c, v)
	if err != nil || ok {
		return ins.ID, err
	}
	if ins, ok, err = findByID(ctx, c, v); err != nil || ok {
		return ins.ID, err
	}
	if eng.Store == StoreContainerd {
		return v.manifest.Digest.String(), nil
	}
	return v.config.Digest.String(), nil
}

// imageLister is what listImages needs of the engine.
type imageLister interface {
	ImageList(ctx context.Context) ([]image.Summary, error)
}

// listAttempts bounds listImages' tries.
const listAttempts = 3

// listImages asks the engine for its image list. podman 4.3 fails the
// whole list with "image not known" when an image is removed while it
// lists (another test's cleanup, seen in CI), so the list is asked again
// then, listAttempts times in all; any other error is returned at once.
func listImages(ctx context.Context, c imageLister) ([]image.Summary, error) {
	var err error
	for range listAttempts {
		var list []image.Summary
		list, err = c.ImageList(ctx)
		if err == nil || !strings.Contains(err.Error(), "image not known") {
			return list, err
		}
	}
	return nil, err
}

package daemon

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// restore puts back what rep found changed; ids is the image list Check
// read (ID to tags).
func (w *Watcher) restore(ctx context.Context, rep *WatchReport, ids map[string][]string) []Restoration {
	var out []Restoration
	for _, f := range rep.Tags {
		i := slices.IndexFunc(w.images, func(wi *watchedImage) bool { return wi.v.name == f.Ref })
		wi := w.images[i]
		r := Restoration{Tag: f.Tag}
		if _, present := ids[wi.id]; !present {
			p := platform.FromOCI(wi.v.platform)
			lrep, err := Load(ctx, w.c, w.l, []config.Image{wi.im}, LoadOptions{Platform: &p, Logger: w.logger})
			switch {
			case err != nil:
				r.Error = fmt.Sprintf("loading it from the layout: %v", err)
			default:
				r.Action = RestoreLoaded
				wi.id = lrep.Images[0].ImageID
			}
		} else {
			if err := w.c.ImageTag(ctx, wi.id, wi.v.tag); err != nil {
				r.Error = fmt.Sprintf("tagging %s as %s: %v", wi.id, wi.v.tag, err)
			} else {
				r.Action = RestoreRetagged
			}
		}
		if f.Actual != "" && r.Error == "" {
			r.Displaced = f.Actual
			r.DisplacedAction = w.dropDisplaced(ctx, f.Actual, ids[f.Actual], wi)
		}
		out = append(out, r)
	}
	for _, c := range rep.Layout {
		if !c.Restored {
			out = append(out, Restoration{Path: c.Path, Action: RestoreNone, Error: fmt.Sprintf("vendorimg cannot put a layout file back: restore it from version control (git checkout -- %s)", c.Path)})
		}
	}
	return out
}

// dropDisplaced removes the image id a tag of wi was moved to, once the
// tag is back on the vendored image, unless other tags name it or a
// container uses it; it says what it did.
func (w *Watcher) dropDisplaced(ctx context.Context, id string, tags []string, wi *watchedImage) string {
	var others []string
	for _, t := range tags {
		if !slices.Contains(wi.names, t) {
			others = append(others, t)
		}
	}
	if len(others) > 0 {
		return "kept: still tagged " + strings.Join(others, ", ")
	}
	_, err := w.c.ImageRemove(ctx, id, false)
	switch {
	case err == nil || isNotFound(err):
		return "removed"
	case isConflict(err):
		return "kept: a container uses it"
	default:
		return fmt.Sprintf("kept: removing it failed: %v", err)
	}
}

// ownTagToken is what a token passed to AddTag may keep of itself.
var ownTagToken = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// maxTag is the engine's limit on a tag's length.
const maxTag = 128

// AddTag gives the vendored image ref (a watched image's full reference,
// WatchedImage.Ref) a tag of its own for one test, made of the image's
// repository and token ("registry.vendorimg.test/probe:1-t3"), and
// returns it. Check does not check such tags (the test may move them);
// RemoveTag drops it. Characters a tag cannot hold are replaced.
func (w *Watcher) AddTag(ctx context.Context, ref, token string) (string, error) {
	i := slices.IndexFunc(w.images, func(wi *watchedImage) bool { return wi.v.name == ref })
	if i < 0 {
		return "", fmt.Errorf("%s is not watched", ref)
	}
	wi := w.images[i]
	base := wi.im.Ref.Tag
	if base == "" {
		base = "vendorimg"
	}
	t := strings.Trim(ownTagToken.ReplaceAllString(base+"-"+token, "-"), "-.")
	if len(t) > maxTag {
		t = t[:maxTag]
	}
	r := wi.im.Ref.WithoutDigest()
	r.Tag = t
	tag := r.Familiar()
	if _, err := reference.Parse(tag); err != nil {
		return "", fmt.Errorf("own tag %q: %w", tag, err)
	}
	if err := w.c.ImageTag(ctx, wi.id, tag); err != nil {
		return "", fmt.Errorf("tagging %s as %s: %w", wi.id, tag, err)
	}
	wi.own = append(wi.own, tag)
	return tag, nil
}

// RemoveTag removes a tag AddTag made, and the image it points to when
// nothing else names it (a test's commit onto its own tag); it never
// removes the vendored image, and says what it did.
func (w *Watcher) RemoveTag(ctx context.Context, tag string) (string, error) {
	i := slices.IndexFunc(w.images, func(wi *watchedImage) bool { return slices.Contains(wi.own, tag) })
	if i < 0 {
		return "", fmt.Errorf("%s is not a tag of a single test", tag)
	}
	wi := w.images[i]
	wi.own = slices.DeleteFunc(wi.own, func(t string) bool { return t == tag })
	ins, err := w.c.ImageInspect(ctx, tag)
	switch {
	case isNotFound(err):
		return "absent", nil
	case err != nil:
		return "", fmt.Errorf("inspecting %s: %w", tag, err)
	}
	if ins.ID == wi.id && !slices.ContainsFunc(ins.RepoTags, func(t string) bool { return t != tag }) {
		// Removing the last tag would remove the vendored image: leave
		// that to the check (its tag is gone, which it reports).
		return "kept: the vendored image's only tag", nil
	}
	if _, err := w.c.ImageRemove(ctx, tag, false); err != nil {
		if isConflict(err) {
			return "kept: a container uses it", nil
		}
		return "", fmt.Errorf("removing %s: %w", tag, err)
	}
	if ins.ID == wi.id {
		return "untagged", nil
	}
	return "removed " + reference.Short(ins.ID), nil
}

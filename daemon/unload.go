package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/reference"
)

// What Unload did with an image. The values are part of the JSON output.
const (
	// UnloadRemoved: the tag was removed and, as nothing else used it,
	// the image too.
	UnloadRemoved = "removed"
	// UnloadUntagged: the tag was removed; the image stays because other
	// tags name it.
	UnloadUntagged = "untagged"
	// UnloadAbsent: the tag was not in docker; nothing to do.
	UnloadAbsent = "absent"
	// UnloadKept: nothing was removed: the tag points to an image that is
	// not the vendored one, or a container still uses the image. Reason
	// says which.
	UnloadKept = "kept"
)

// UnloadOptions configure Unload.
type UnloadOptions struct {
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
	// Progress, if not nil, receives a progress.Waiting event if another
	// vendorimg holds the layout's lock, before Unload waits for it.
	Progress progress.Func
}

// UnloadReport is what Unload did.
type UnloadReport struct {
	// Engine is the engine unloaded from.
	Engine Engine `json:"engine"`
	// Images are the images asked for, in order, each with its outcome.
	Images []UnloadResult `json:"images"`
}

// UnloadResult is one image's outcome.
type UnloadResult struct {
	// Ref is the image's full reference, its name in the layout.
	Ref string `json:"ref"`
	// Tag is the name docker knows it by ("" for a digest-only reference).
	Tag string `json:"tag"`
	// Action is UnloadRemoved, UnloadUntagged, UnloadAbsent or UnloadKept
	// ("" on error).
	Action string `json:"action,omitempty"`
	// ImageID is the image the tag pointed to.
	ImageID string `json:"imageId,omitempty"`
	// Untagged and Deleted are what the engine reports it removed, in
	// docker's forms whichever engine it is: names short as Tag writes them
	// ("alpine:3.19.1", where podman says "docker.io/library/alpine:3.19.1")
	// and IDs with their algorithm ("sha256:...", which podman leaves out).
	Untagged []string `json:"untagged"`
	Deleted  []string `json:"deleted"`
	// Reason says why an image was kept.
	Reason string `json:"reason,omitempty"`
	// Error is why the image failed ("" on success).
	Error string `json:"error,omitempty"`
}

// Unload removes from the engine c the tags Load makes for images, and
// each image when nothing else uses it. It never forces and never touches
// an image that is not the vendored one: a tag that now points elsewhere
// is reported (UnloadKept) and left alone, and so is an image a container
// still uses. It removes by tag, so an image that has other tags loses
// only this one; it never prunes parent images. For a reference with only a
// digest (loaded untagged), the vendored image is removed only if it has
// no tag at all. The identity check and the removal are two requests; a
// tag moved in between would be untagged.
func Unload(ctx context.Context, c Client, l *layout.Layout, images []config.Image, opts UnloadOptions) (*UnloadReport, error) {
	logger, eng, err := begin(ctx, c, "unloading images", opts.Logger)
	if err != nil {
		return nil, err
	}
	idx, unlock, err := openLayout(ctx, l, opts.Progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rep := &UnloadReport{Engine: eng, Images: []UnloadResult{}}
	var failed []error
	for _, im := range images {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		res := UnloadResult{Ref: im.Name(), Tag: dockerTag(im), Untagged: []string{}, Deleted: []string{}}
		vs, err := readVendoredWithConfigs(ctx, l, idx, nil, im)
		if err == nil {
			err = unloadOne(ctx, c, vs, &res)
		}
		if err != nil {
			res.Action, res.Error = "", err.Error()
			failed = append(failed, err)
		}
		logger.Debug("unload", "image", res.Ref, "tag", res.Tag, "action", res.Action, "reason", res.Reason, "error", res.Error)
		rep.Images = append(rep.Images, res)
	}
	return rep, errors.Join(failed...)
}

func unloadOne(ctx context.Context, c Client, vs []*vendored, res *UnloadResult) error {
	target := res.Tag
	if target == "" {
		for _, v := range vs {
			ins, ok, err := findByID(ctx, c, v)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			res.ImageID = ins.ID
			if len(ins.RepoTags) > 0 {
				res.Action, res.Reason = UnloadKept, "the image is tagged "+strings.Join(ins.RepoTags, ", ")
				return nil
			}
			target = ins.ID
			break
		}
		if target == "" {
			res.Action = UnloadAbsent
			return nil
		}
	} else {
		ins, err := c.ImageInspect(ctx, target)
		switch {
		case isNotFound(err):
			res.Action = UnloadAbsent
			return nil
		case err != nil:
			return fmt.Errorf("inspecting %s in docker: %w", target, err)
		}
		res.ImageID = ins.ID
		ours := false
		for _, v := range vs {
			if _, ok := v.identifies(ins); ok {
				ours = true
			}
		}
		if !ours {
			res.Action = UnloadKept
			res.Reason = fmt.Sprintf("the tag points to image %s, which is not the vendored image", reference.Short(ins.ID))
			return nil
		}
	}
	out, err := c.ImageRemove(ctx, target, false)
	switch {
	case isConflict(err):
		res.Action, res.Reason = UnloadKept, err.Error()
		return nil
	case isNotFound(err):
		res.Action = UnloadAbsent
		return nil
	case err != nil:
		return fmt.Errorf("removing %s from docker: %w", target, err)
	}
	for _, it := range out {
		if it.Untagged != "" {
			res.Untagged = append(res.Untagged, familiar(it.Untagged))
		}
		if it.Deleted != "" {
			res.Deleted = append(res.Deleted, fullID(it.Deleted))
		}
	}
	res.Action = UnloadUntagged
	for _, d := range res.Deleted {
		if d == res.ImageID {
			res.Action = UnloadRemoved
		}
	}
	return nil
}

// familiar is an image name in docker's short form, as dockerTag writes
// it; a name that does not parse is kept as the engine wrote it.
func familiar(name string) string {
	ref, err := reference.Parse(name)
	if err != nil {
		return name
	}
	return ref.Familiar()
}

// fullID is an image ID with its algorithm: podman's docker-compatible API
// reports the IDs it deleted as bare hexadecimal digests, where docker and
// every inspect answer write "sha256:...".
func fullID(id string) string {
	if len(id) == 64 && !strings.Contains(id, ":") {
		return "sha256:" + id
	}
	return id
}

package daemon

import (
	"context"
	"fmt"
	"strings"
)

// What became of the image a tag pointed to before Load moved it. The
// values are part of the JSON output.
const (
	// ReplacedUntagged: the image is still in the engine with no tag
	// ("docker image prune" or "docker rmi ID" removes it).
	ReplacedUntagged = "left in the engine, untagged"
	// ReplacedTagged: the image is still in the engine, under other tags.
	ReplacedTagged = "left in the engine, still tagged"
	// ReplacedRemoved: LoadOptions.Replace removed it.
	ReplacedRemoved = "removed (--replace)"
)

// replacedAction says what became of the image id a tag pointed to.
func (ld *loader) replacedAction(ctx context.Context, id string) string {
	ins, err := ld.c.ImageInspect(ctx, id)
	switch {
	case isNotFound(err):
		return "gone from the engine"
	case err != nil:
		return fmt.Sprintf("unknown (inspecting it: %v)", err)
	case len(ins.RepoTags) > 0:
		return ReplacedTagged + " " + strings.Join(ins.RepoTags, ", ")
	}
	return ReplacedUntagged
}

// remove removes the image id for LoadOptions.Replace, forcing it.
func (ld *loader) remove(ctx context.Context, id string) error {
	ld.logger.Debug("removing the image to load it again (replace)", "id", id)
	if _, err := ld.c.ImageRemove(ctx, id, true); err != nil && !isNotFound(err) {
		return fmt.Errorf("removing %s to load it again: %w", id, err)
	}
	return nil
}

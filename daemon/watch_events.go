package daemon

import (
	"fmt"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/vendorimg/vendorimg/reference"
)

// watchEvent turns an engine event into a WatchEvent when it is about a
// watched image (its ID) or tag (names).
func watchEvent(m events.Message, ids, names map[string]bool) (WatchEvent, bool) {
	a := m.Actor.Attributes
	e := WatchEvent{Type: string(m.Type), Action: string(m.Action), ID: m.Actor.ID, Name: a["name"]}
	switch {
	case m.TimeNano != 0:
		e.Time = time.Unix(0, m.TimeNano)
	default:
		e.Time = time.Unix(m.Time, 0)
	}
	short := reference.Short(m.Actor.ID)
	switch m.Type {
	case events.ImageEventType:
		if !ids[m.Actor.ID] && !names[e.Name] {
			return e, false
		}
		switch m.Action {
		case events.ActionTag:
			e.Text = fmt.Sprintf("docker tag: %s now names image %s", e.Name, short)
		case events.ActionUnTag:
			e.Text = fmt.Sprintf("docker rmi (untag) of image %s", short)
		case events.ActionDelete:
			e.Text = fmt.Sprintf("image %s deleted (docker rmi)", short)
		case events.ActionPull:
			e.Text = fmt.Sprintf("docker pull %s", e.Name)
		case events.ActionLoad:
			e.Text = fmt.Sprintf("docker load of %s", orID(e.Name, short))
		case events.ActionImport:
			e.Text = fmt.Sprintf("docker import as %s", orID(e.Name, short))
		default:
			e.Text = fmt.Sprintf("image %s: %s", orID(e.Name, short), m.Action)
		}
		return e, true
	case events.ContainerEventType:
		if m.Action != events.ActionCommit {
			return e, false
		}
		onto := a["imageRef"]
		if !names[onto] && !ids[a["imageID"]] {
			return e, false
		}
		e.ID = a["imageID"]
		e.Text = fmt.Sprintf("docker commit of container %s as %s (image %s)", orID(a["name"], reference.Short(m.Actor.ID)), orID(onto, "no tag"), reference.Short(a["imageID"]))
		return e, true
	}
	return e, false
}

func orID(name, id string) string {
	if name == "" {
		return id
	}
	return name
}

package daemon

import (
	"testing"

	"github.com/moby/moby/api/types/events"
)

func TestOnThisMachine(t *testing.T) {
	for host, want := range map[string]bool{
		"unix:///var/run/docker.sock":    true,
		"unix:///tmp/x/podman.sock":      true,
		"npipe:////./pipe/docker_engine": true,
		"tcp://127.0.0.1:2375":           true,
		"tcp://localhost:2375":           true,
		"tcp://[::1]:2375":               true,
		"tcp://10.0.0.5:2376":            false,
		"tcp://docker.example:2376":      false,
		"ssh://me@build-host":            false,
		"":                               false,
		"::not a url":                    false,
	} {
		if got := onThisMachine(host); got != want {
			t.Errorf("onThisMachine(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestMayChangeImages(t *testing.T) {
	for _, c := range []struct {
		typ    events.Type
		action events.Action
		want   bool
	}{
		{events.ImageEventType, events.ActionTag, true},
		{events.ImageEventType, events.ActionUnTag, true},
		{events.ImageEventType, events.ActionDelete, true},
		{events.ImageEventType, events.ActionPull, true},
		{events.ImageEventType, events.ActionLoad, true},
		{events.ImageEventType, events.ActionImport, true},
		{events.ImageEventType, events.ActionCreate, true},
		{events.ImageEventType, "prune", true},
		{events.ImageEventType, events.ActionSave, false},
		{events.ImageEventType, events.ActionPush, false},
		{events.ContainerEventType, events.ActionCommit, true},
		{events.ContainerEventType, events.ActionCreate, false},
		{events.ContainerEventType, events.ActionStart, false},
		{events.ContainerEventType, events.ActionDie, false},
		{events.ContainerEventType, events.ActionDestroy, false},
		{events.NetworkEventType, events.ActionConnect, false},
		{events.VolumeEventType, events.ActionCreate, false},
	} {
		m := events.Message{Type: c.typ, Action: c.action}
		if got := mayChangeImages(m); got != c.want {
			t.Errorf("mayChangeImages(%s %s) = %v, want %v", c.typ, c.action, got, c.want)
		}
	}
}

package enginetest

import (
	"context"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/vendorimg/vendorimg/daemon"
)

// CommitOptions say how Commit makes its image.
type CommitOptions struct {
	// Tag, when set, is where the commit goes: onto a vendored tag, as a
	// careless test would. Default: untagged.
	Tag string
	// Cmd is the created container's command; Entrypoint and Config are
	// the committed image's. Defaults: the probe's echo.
	Cmd, Entrypoint, ConfigCmd []string
	// Start runs the container before the commit where the engine can run
	// one (CanRun of image with "exit 0"). Default false: only created,
	// which is enough for a commit.
	Start bool
}

// Commit makes an image that is not image (a commit of a container of
// it) through the engine's API, with a config as the commit's body:
// podman's docker-compatible API refuses a commit without one ("Decode():
// EOF"), which is what the docker command sends. It removes the container
// at once and the image when the test ends, and returns the image's ID as
// inspect writes it ("sha256:...", which podman's commit answer leaves
// out).
func Commit(t testing.TB, image string, opts CommitOptions) string {
	t.Helper()
	if opts.Cmd == nil {
		opts.Cmd = []string{"echo", "other"}
	}
	if opts.Entrypoint == nil {
		opts.Entrypoint = []string{"/probe"}
	}
	if opts.ConfigCmd == nil {
		opts.ConfigCmd = []string{"echo", "other"}
	}
	ctx := context.Background()
	c, err := daemon.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mc, err := MobyClient()
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	ctr, err := mc.ContainerCreate(ctx, client.ContainerCreateOptions{Image: image, Config: &container.Config{Cmd: opts.Cmd}})
	if err != nil {
		t.Fatalf("creating a container of %s on %s: %v", image, Describe(t), err)
	}
	defer func() {
		if _, err := mc.ContainerRemove(context.Background(), ctr.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("removing the test's container %s: %v", ctr.ID, err)
		}
	}()
	if opts.Start && CanRun(t, image, "exit", "0") == nil {
		if _, err := docker("start", "--attach", ctr.ID); err != nil {
			t.Fatal(err)
		}
	}
	res, err := mc.ContainerCommit(ctx, ctr.ID, client.ContainerCommitOptions{
		Reference: opts.Tag, Comment: "changed by a test",
		Config: &container.Config{Entrypoint: opts.Entrypoint, Cmd: opts.ConfigCmd},
	})
	if err != nil {
		t.Fatalf("committing a container of %s on %s: %v", image, Describe(t), err)
	}
	id := res.ID
	if !strings.Contains(id, ":") {
		id = "sha256:" + id
	}
	t.Cleanup(func() {
		c, err := daemon.NewClient()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		if _, err := c.ImageRemove(context.Background(), id, false); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("removing the test's image %s: %v", id, err)
		}
	})
	ins, err := c.ImageInspect(ctx, id)
	if err != nil {
		t.Fatalf("inspecting the committed image %s: %v", id, err)
	}
	return ins.ID
}

// MobyClient is the docker project's own Engine API client, for what
// vendorimg's (daemon.APIClient) does not do: containers. It finds the
// engine as daemon.NewClient does (DOCKER_HOST, else the local socket).
func MobyClient() (*client.Client, error) {
	return client.New(client.WithHost(client.DefaultDockerHost), client.FromEnv)
}

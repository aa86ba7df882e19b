package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/platform"
)

// Client is the part of the docker Engine API that this package uses.
// *APIClient (NewClient) implements it; tests may use a fake.
type Client interface {
	// Info is GET /info: the engine's platform and image store.
	Info(ctx context.Context) (system.Info, error)
	// ImageInspect is GET /images/{name}/json, by tag or ID.
	ImageInspect(ctx context.Context, name string) (image.InspectResponse, error)
	// ImageLoad is POST /images/load, streaming input as the request body;
	// the response body is the engine's messages.
	ImageLoad(ctx context.Context, input io.Reader) (io.ReadCloser, error)
	// ImageTag is POST /images/{source}/tag: target then names source's
	// image.
	ImageTag(ctx context.Context, source, target string) error
	// ImageSave is GET /images/get ("docker save"), the archive streamed
	// as the response body, of the given platforms when there are any;
	// verify --daemon --deep reads it.
	ImageSave(ctx context.Context, names []string, platforms ...ocispec.Platform) (io.ReadCloser, error)
	// ImageRemove is DELETE /images/{name}, never pruning untagged
	// parents; Load calls it for the temporary name of podman's pull, and
	// forced with LoadOptions.Replace; Unload never forces.
	ImageRemove(ctx context.Context, name string, force bool) ([]image.DeleteResponse, error)
}

var _ WatchClient = (*APIClient)(nil)

// Image stores an engine may use, as Engine.Store reports them.
const (
	// StoreClassic is the graph-driver image store of docker before 29
	// (and of later engines that keep it): image IDs are config digests.
	StoreClassic = "classic"
	// StoreContainerd is the containerd image store (a snapshotter): image
	// IDs are the digests of the manifests or indexes images were loaded
	// from.
	StoreContainerd = "containerd"
)

// Engine describes the docker engine, from its /info.
type Engine struct {
	// Version is the engine's version ("20.10.24").
	Version string `json:"version"`
	// Platform is the engine's platform in OCI form ("linux/amd64"),
	// which load uses unless told otherwise.
	Platform string `json:"platform"`
	// Store is StoreClassic or StoreContainerd.
	Store string `json:"store"`

	platform platform.Platform
	// root and driver are where the engine keeps its data on its machine
	// and its storage driver, as /info reports them (DockerRootDir,
	// Driver): the per-test check reads podman's image store there.
	root, driver string
}

// Inspect asks the engine what it is. When no engine can be reached (no
// socket, connection refused), the error wraps errs.ErrNoEngine.
func Inspect(ctx context.Context, c Client) (Engine, error) {
	info, err := c.Info(ctx)
	if err != nil {
		if isConnectionFailed(err) {
			err = fmt.Errorf("%w: %w", errs.ErrNoEngine, err)
		}
		return Engine{}, fmt.Errorf("asking docker for its platform: %w", err)
	}
	return EngineFromInfo(info)
}

// EngineFromInfo reads an engine's description from its /info response.
// The architecture is the kernel's name for it (uname -m) and is mapped to
// the OCI name: x86_64 is amd64, aarch64 is arm64, armv7l is arm/v7.
func EngineFromInfo(info system.Info) (Engine, error) {
	p, err := EnginePlatform(info.OSType, info.Architecture)
	if err != nil {
		return Engine{}, err
	}
	e := Engine{Version: info.ServerVersion, Platform: p.String(), Store: StoreClassic, platform: p, root: info.DockerRootDir, driver: info.Driver}
	for _, kv := range info.DriverStatus {
		if kv[0] == "driver-type" && kv[1] == "io.containerd.snapshotter.v1" {
			e.Store = StoreContainerd
		}
	}
	return e, nil
}

// EnginePlatform maps an engine's OSType and Architecture, as /info
// reports them, to a platform. The error wraps errs.ErrInvalidPlatform.
func EnginePlatform(osType, arch string) (platform.Platform, error) {
	p, err := platform.FromKernel(osType, arch)
	if err != nil {
		return platform.Platform{}, fmt.Errorf("docker reports os %q and architecture %q: %w", osType, arch, err)
	}
	return p, nil
}

// isNotFound reports whether the engine said an image does not exist.
func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// isConflict reports whether the engine refused because something (a
// container) still uses an image.
func isConflict(err error) bool { return cerrdefs.IsConflict(err) }

// begin is what Load, Unload and Verify do first: check the client, default
// the logger to discard, and ask the engine what it is.
func begin(ctx context.Context, c Client, what string, logger *slog.Logger) (*slog.Logger, Engine, error) {
	if c == nil {
		return nil, Engine{}, fmt.Errorf("%s: no docker client", what)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	eng, err := Inspect(ctx, c)
	return logger, eng, err
}

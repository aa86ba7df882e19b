package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/platform"
)

// Client is the part of the docker Engine API that this package uses.
// *client.Client (github.com/moby/moby/client) implements it; tests may use
// a fake.
type Client interface {
	// Info is GET /info: the engine's platform and image store.
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	// ImageInspect is GET /images/{name}/json, by tag or ID.
	ImageInspect(ctx context.Context, image string, options ...client.ImageInspectOption) (client.ImageInspectResult, error)
	// ImageLoad is POST /images/load, streaming input as the request body.
	ImageLoad(ctx context.Context, input io.Reader, options ...client.ImageLoadOption) (client.ImageLoadResult, error)
	// ImageTag is POST /images/{name}/tag.
	ImageTag(ctx context.Context, options client.ImageTagOptions) (client.ImageTagResult, error)
	// ImageSave is GET /images/get ("docker save"), the archive streamed
	// as the response body; verify --daemon --deep reads it.
	ImageSave(ctx context.Context, images []string, options ...client.ImageSaveOption) (client.ImageSaveResult, error)
	// ImageRemove is DELETE /images/{name}; Load calls it for the
	// temporary name of podman's pull, and forced with
	// LoadOptions.Replace; Unload never forces.
	ImageRemove(ctx context.Context, image string, options client.ImageRemoveOptions) (client.ImageRemoveResult, error)
}

var _ Client = (*client.Client)(nil)

// NewClient returns a client for the docker engine the environment names,
// as the docker command finds it: DOCKER_HOST (default: the local socket),
// DOCKER_API_VERSION, DOCKER_CERT_PATH and DOCKER_TLS_VERIFY. The API
// version is negotiated on the first request, down to what the engine
// speaks (1.41 for Engine 20.10), unless DOCKER_API_VERSION fixes it.
// Docker CLI contexts are not read. NewClient does not contact the engine;
// the caller closes the client.
func NewClient() (*client.Client, error) {
	c, err := client.New(client.WithHTTPClient(engineHTTPClient()), client.WithHost(client.DefaultDockerHost), client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("connecting to docker: %w", err)
	}
	return c, nil
}

// engineHTTPClient is the docker client's default HTTP client (which
// FromEnv then points at the engine's socket or address) with larger
// connection buffers. A load streams hundreds of MiB as a chunked request
// body that the client copies in 32 KiB pieces: through the default 4 KiB
// write buffer each piece is two writes to the socket (the data, then its
// chunk's CRLF), 16,000 for 256 MiB; through 256 KiB, about 1,000. The
// read buffer does the same for verify --daemon --deep's exports.
func engineHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			// Replaced by the engine's socket or address (FromEnv); set
			// here so that the clone the docker client makes does not turn
			// HTTP/2, and with it a TLS configuration, on: the client would
			// then speak https to a plain socket.
			DialContext: (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
			// As the docker client's own default.
			MaxIdleConns:    6,
			IdleConnTimeout: 30 * time.Second,
			WriteBufferSize: engineBuffer,
			ReadBufferSize:  engineBuffer,
		},
		CheckRedirect: client.CheckRedirect,
	}
}

// engineBuffer is the size of engineHTTPClient's connection buffers.
const engineBuffer = 256 << 10

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
	res, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		if client.IsErrConnectionFailed(err) {
			err = fmt.Errorf("%w: %w", errs.ErrNoEngine, err)
		}
		return Engine{}, fmt.Errorf("asking docker for its platform: %w", err)
	}
	return EngineFromInfo(res.Info)
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

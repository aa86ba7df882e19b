package daemon_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	"github.com/opencontainers/go-digest"
	ocispecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/manifest"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// engine connects to the engine under test (DOCKER_HOST, or the local
// socket).
func engine(t testing.TB) *daemon.APIClient {
	t.Helper()
	c, err := daemon.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Ping(context.Background()); err != nil {
		t.Fatalf("docker engine not reachable (these tests need one): %v", err)
	}
	return c
}

// mobyClient is the docker project's client of the engine under test, for
// the containers vendorimg's own client does not make.
func mobyClient(t testing.TB) *client.Client {
	t.Helper()
	c, err := enginetest.MobyClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// randomSeed makes each test's images unique, so that image IDs never
// collide with another test's (or another package's) on the shared engine.
func randomSeed(t testing.TB) int64 {
	var b [7]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, x := range b {
		n = n<<8 | int64(x)
	}
	return n
}

var notRepoChar = regexp.MustCompile(`[^a-z0-9]+`)

// repoName is a repository name unique to the test.
func repoName(t testing.TB, suffix string) string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := strings.Trim(notRepoChar.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 60 {
		name = name[:60]
	}
	return "vendorimg-test/" + name + "-" + suffix + "-" + hex.EncodeToString(b[:])
}

// fixture is a registry, a vendorimg.yaml and a synced layout, and the
// engine under test with what it says it is.
type fixture struct {
	t   testing.TB
	c   *daemon.APIClient
	eng enginetest.Engine
	reg *registrytest.Registry
	cfg *config.Config
	l   *layout.Layout
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.New(filepath.Join(dir, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, c: engine(t), eng: enginetest.Describe(t), reg: registrytest.Start(t, registrytest.Options{}), cfg: cfg}
	f.l = layout.New(cfg.LayoutDir())
	return f
}

// add pushes img as repo:tag (tag may be empty for a digest-only
// reference), pins it for platforms and syncs. It removes from docker, at
// the end of the test, every image of every platform of it.
func (f *fixture) add(repo, tag string, img remote.Taggable, platforms ...string) config.Image {
	t := f.t
	t.Helper()
	pushTag := tag
	if pushTag == "" {
		pushTag = "pushed"
	}
	d := registrytest.Push(t, f.reg.Host+"/"+repo+":"+pushTag, img)
	s := f.reg.Host + "/" + repo
	if tag != "" {
		s += ":" + tag
	}
	ref, err := reference.Parse(s + "@" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	sel, err := platform.ParseSelection(platforms)
	if err != nil {
		t.Fatal(err)
	}
	im := config.Image{Ref: ref.WithoutDigest(), Digest: d, Platforms: sel}
	if err := f.cfg.Set(im); err != nil {
		t.Fatal(err)
	}
	if _, err := vendorimg.Sync(context.Background(), f.cfg, vendorimg.SyncOptions{}); err != nil {
		t.Fatalf("Sync() = %v", err)
	}
	im = f.cfg.Images[f.cfg.Lookup(im.Pinned())]
	// By every ID either store may give it: the config digest (classic)
	// or a manifest's or the index's digest (containerd).
	for _, p := range f.platformImages(im) {
		cleanupImage(t, f.c, p.config.String())
		cleanupImage(t, f.c, p.manifest.String())
	}
	cleanupImage(t, f.c, im.Digest.String())
	if tag != "" {
		cleanupImage(t, f.c, ref.WithoutDigest().Familiar())
	}
	return im
}

// platformImage is what a vendored platform is to docker.
type platformImage struct {
	platform string
	manifest digest.Digest
	config   digest.Digest
	diffIDs  []digest.Digest
}

// id is the image ID the engine under test gives p when it loads it:
// the config digest with the classic store, the platform manifest's
// digest with the containerd store (which loads it from the manifest the
// archive names).
func (f *fixture) id(p platformImage) string {
	if f.eng.Store == daemon.StoreContainerd {
		return p.manifest.String()
	}
	return p.config.String()
}

// rule is the identity rule the engine under test's IDs satisfy.
func (f *fixture) rule() string {
	if f.eng.Store == daemon.StoreContainerd {
		return daemon.MatchManifest
	}
	return daemon.MatchConfig
}

// normalID is an image ID as the inspect endpoints write it: podman's
// commit answers with the bare hexadecimal digest.
func normalID(id string) string {
	if id != "" && !strings.Contains(id, ":") {
		return "sha256:" + id
	}
	return id
}

func (f *fixture) platformImages(im config.Image) map[string]platformImage {
	t := f.t
	t.Helper()
	inv, err := f.l.Inventory(context.Background(), ocispecv1.Descriptor{Digest: im.Digest}, layout.WalkOptions{Platforms: im.Platforms})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]platformImage{}
	for _, ii := range inv.Images {
		raw, err := f.l.ReadBlob(context.Background(), ii.Config.Digest, manifest.MaxConfigSize)
		if err != nil {
			t.Fatal(err)
		}
		c, err := manifest.ParseConfig(raw)
		if err != nil {
			t.Fatal(err)
		}
		p := platform.FromOCI(ii.Platform).String()
		out[p] = platformImage{platform: p, manifest: ii.Manifest.Digest, config: ii.Config.Digest, diffIDs: c.RootFS.DiffIDs}
	}
	return out
}

// cleanupImage removes ref (a tag or an ID this test created) from docker
// when the test ends.
func cleanupImage(t testing.TB, c *daemon.APIClient, ref string) {
	t.Cleanup(func() {
		_, _ = c.ImageRemove(context.Background(), ref, true)
	})
}

// inspect returns the image docker has under ref, or ok false.
func inspect(t *testing.T, c *daemon.APIClient, ref string) (image.InspectResponse, bool) {
	t.Helper()
	res, err := c.ImageInspect(context.Background(), ref)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return res, false
		}
		t.Fatalf("ImageInspect(%q) = %v", ref, err)
	}
	return res, true
}

// ocispec is the index.json descriptor to walk im from.
func ocispec(im config.Image) ocispecv1.Descriptor { return ocispecv1.Descriptor{Digest: im.Digest} }

// containerConfig is what a container needs to be created from a random
// image, which has no command; it is never started.
var containerConfig = container.Config{Cmd: []string{"/never-run"}}

// committedConfig is the config a commit gives its image. It is sent as the
// commit's body: podman's docker-compatible API refuses a commit without
// one ("Decode(): EOF"), which is what the docker command sends.
var committedConfig = container.Config{Cmd: []string{"/never-run"}, Labels: map[string]string{"vendorimg.test": "committed"}}

func tagOf(im config.Image) string { return im.Ref.WithoutDigest().Familiar() }

func layersOf(ds []digest.Digest) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// changeBlob rewrites the layout's blob d as change makes it, as a file
// changed on disk would be.
func changeBlob(t testing.TB, l *layout.Layout, d digest.Digest, change func([]byte) []byte) {
	t.Helper()
	path, err := l.BlobPath(d)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, change(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

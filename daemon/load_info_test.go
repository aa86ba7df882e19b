package daemon

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/moby/moby/api/types/system"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/platform"
)

// podmanFake is the fake engine answering /_ping as podman on a unix
// socket (where nobody listens, so its pulls fail and archives go), with
// an /info that can say another platform than this machine's, or fail.
type podmanFake struct {
	*fakeEngine
	sock    string
	infoErr error
}

func (p *podmanFake) Ping(context.Context) (Ping, error) {
	return Ping{APIVersion: "1.41", Server: "Libpod/4.3.1 (linux)", Libpod: "4.3.1"}, nil
}

func (p *podmanFake) DaemonHost() string { return "unix://" + p.sock }

func (p *podmanFake) Info(ctx context.Context) (system.Info, error) {
	if p.infoErr != nil {
		return system.Info{}, p.infoErr
	}
	return p.fakeEngine.Info(ctx)
}

// otherArch is an architecture that is not this machine's, as the kernel
// names it, and its OCI name.
func otherArch() (kernel, oci string) {
	if runtime.GOARCH == "arm64" {
		return "x86_64", "amd64"
	}
	return "aarch64", "arm64"
}

// TestLoadAssumesPodmansPlatform: a load into podman asks /info beside its
// work under the assumption that the engine runs this machine's platform,
// and changes nothing in the engine before the answer: an engine of
// another platform gets that platform's image, and only it; an /info that
// fails fails the load with nothing loaded.
func TestLoadAssumesPodmansPlatform(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH == "arm" {
		t.Skipf("the load assumes the engine's platform only on linux, not 32-bit arm (here %s/%s)", runtime.GOOS, runtime.GOARCH)
	}
	kernel, other := otherArch()
	here := "linux/" + runtime.GOARCH
	l, im := writeImage(t, "registry.test/team/app:1.0", registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 2, 1000, 5, registrytest.OCI), "linux/amd64", "linux/arm64")
	newPodman := func(t *testing.T, arch string) *podmanFake {
		f := newFakeEngine(StoreClassic)
		f.podman = true
		if arch != "" {
			f.arch = arch
		}
		return &podmanFake{fakeEngine: f, sock: filepath.Join(t.TempDir(), "podman.sock")}
	}
	ctx := context.Background()

	t.Run("this machine's platform", func(t *testing.T) {
		eng := newPodman(t, "")
		if runtime.GOARCH == "arm64" {
			eng.arch = "aarch64"
		}
		rep, err := Load(ctx, eng, l, []config.Image{im}, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Engine.Platform != here || rep.Engine.Version != "fake" || rep.Images[0].Platform != here || rep.Images[0].Action != ActionLoaded {
			t.Errorf("Load() = engine %+v, image %+v; want %s loaded, and the engine's answer in the report", rep.Engine, rep.Images[0], here)
		}
	})

	t.Run("another platform", func(t *testing.T) {
		eng := newPodman(t, kernel)
		rep, err := Load(ctx, eng, l, []config.Image{im}, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := "linux/" + other
		if rep.Engine.Platform != want || rep.Platform != want || rep.Images[0].Platform != want || rep.Images[0].Action != ActionLoaded {
			t.Errorf("Load() = %s into engine %+v, image %+v; want %s", rep.Platform, rep.Engine, rep.Images[0], want)
		}
		// Only the engine's platform was loaded: nothing of the assumed one.
		if len(eng.images) != 1 || eng.loads != 1 {
			t.Errorf("the engine holds %d images after %d loads, want the %s image alone, loaded once", len(eng.images), eng.loads, want)
		}
		for _, ins := range eng.images {
			if ins.Architecture != other {
				t.Errorf("the engine holds a %s image, want %s only", ins.Architecture, other)
			}
		}
	})

	t.Run("another platform, named", func(t *testing.T) {
		// --platform names the platform: the engine's own does not matter.
		eng := newPodman(t, kernel)
		p := platform.Platform{OS: "linux", Architecture: runtime.GOARCH}
		rep, err := Load(ctx, eng, l, []config.Image{im}, LoadOptions{Platform: &p})
		if err != nil || rep.Images[0].Platform != here || rep.Engine.Platform != "linux/"+other || eng.loads != 1 {
			t.Errorf("Load(--platform %s) = %+v, %v after %d loads; want %s loaded once, the engine's own platform reported", p, rep, err, eng.loads, here)
		}
	})

	t.Run("info fails", func(t *testing.T) {
		eng := newPodman(t, "")
		eng.infoErr = &APIError{Status: 500, Message: "podman: cannot read its storage"}
		rep, err := Load(ctx, eng, l, []config.Image{im}, LoadOptions{})
		if err == nil || rep != nil || !errors.Is(err, eng.infoErr) {
			t.Errorf("Load() with a failing /info = %+v, %v; want no report and the engine's error", rep, err)
		}
		if len(eng.images) != 0 || len(eng.tags) != 0 {
			t.Errorf("the engine holds %d images and %d tags after a load whose /info failed, want none", len(eng.images), len(eng.tags))
		}
	})
}

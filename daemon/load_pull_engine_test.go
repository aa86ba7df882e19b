package daemon_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/internal/testsupport/testbin"
	"github.com/vendorimg/vendorimg/layout"
)

// engineNetns is the network namespace (/run/netns/NAME) of the engine
// under test when scripts/engines started it in one, "" when it shares
// the test's.
func engineNetns(t *testing.T) string {
	t.Helper()
	list, err := exec.Command("../scripts/engines", "list").Output()
	if err != nil {
		t.Fatalf("scripts/engines list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if name, host, _ := strings.Cut(line, "\t"); name == "containerd" && host == os.Getenv("DOCKER_HOST") {
			out, err := exec.Command("../scripts/engines", "netns").Output()
			if err != nil {
				t.Fatalf("scripts/engines netns: %v", err)
			}
			return strings.TrimSpace(string(out))
		}
	}
	return ""
}

// loadIn runs daemon.Load on a thread in the network namespace netns (""
// for the test's own), as a vendorimg running beside the engine there
// would: the loopback server Load starts listens in it. It returns the
// debug log.
func loadIn(t *testing.T, netns string, f *fixture, images []config.Image) (*daemon.LoadReport, string, error) {
	t.Helper()
	var log testbin.Log
	var rep *daemon.LoadReport
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if netns != "" {
			// Never unlocked: the thread ends with this goroutine, and no
			// other goroutine runs in the namespace.
			runtime.LockOSThread()
			fd, oerr := unix.Open(netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if oerr != nil {
				err = oerr
				return
			}
			defer unix.Close(fd)
			if serr := unix.Setns(fd, unix.CLONE_NEWNET); serr != nil {
				err = serr
				return
			}
		}
		rep, err = daemon.Load(context.Background(), f.c, f.l, images, daemon.LoadOptions{Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	}()
	<-done
	return rep, log.String(), err
}

var pullRef = regexp.MustCompile(`ref=(127\.0\.0\.1:[0-9]+/)`)

// noTemporaryName fails the test if the engine holds a name under the
// address of the loopback server the log names.
func noTemporaryName(t *testing.T, f *fixture, log string) {
	t.Helper()
	m := pullRef.FindStringSubmatch(log)
	if m == nil {
		return
	}
	list, err := f.c.ImageList(context.Background(), client.ImageListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range list.Items {
		for _, name := range append(im.RepoTags, im.RepoDigests...) {
			if strings.HasPrefix(name, m[1]) {
				t.Errorf("the engine still holds the temporary name %s (image %s)", name, im.ID)
			}
		}
	}
}

// pullingEngine: load has the engine under test pull from its loopback
// server (the containerd store, podman), rather than send an archive
// (Docker's classic store).
func pullingEngine(f *fixture) bool {
	return f.eng.Store == daemon.StoreContainerd || f.eng.Product == "podman"
}

// TestLoadPulls: a containerd-store engine and podman pull the images to
// load from vendorimg's loopback server when they can reach it (Load run
// in the engine's network namespace, if it has one), and get the archive
// when they cannot (Load run in the test's, when the engine has a
// namespace of its own); either way the tag points to the vendored image
// and no temporary name is left. Docker's classic store is never asked to
// pull.
func TestLoadPulls(t *testing.T) {
	netns := engineNetns(t)
	type route struct {
		name  string
		netns string
		pulls bool // the engine pulls; otherwise it gets the archive
	}
	routes := []route{{"beside the engine", netns, true}}
	if netns != "" {
		routes = append(routes, route{"out of the engine's reach", "", false})
	}
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			if r.netns != "" && os.Geteuid() != 0 {
				t.Fatalf("entering the engine's network namespace %s needs root", r.netns)
			}
			f := newFixture(t)
			a, b, c, _, _ := sharedImages(t, f)
			images := []config.Image{a, b, c}
			rep, log, err := loadIn(t, r.netns, f, images)
			if err != nil {
				t.Fatalf("Load() = %v\n%s", err, log)
			}
			asked := strings.Contains(log, "the engine pulls the image")
			pulled := asked && !strings.Contains(log, "the engine did not pull")
			switch {
			case !pullingEngine(f) && asked:
				t.Errorf("Load() asked %s to pull, want archives only:\n%s", f.eng, log)
			case pullingEngine(f) && pulled != r.pulls:
				t.Errorf("Load() on %s %s: pulled %v, want %v:\n%s", f.eng, r.name, pulled, r.pulls, log)
			}
			pa, pb := f.platformImages(a)["linux/amd64"], f.platformImages(b)["linux/amd64"]
			for i, w := range []struct{ action, id string }{{daemon.ActionLoaded, f.id(pa)}, {daemon.ActionLoaded, f.id(pb)}, {daemon.ActionTagged, f.id(pa)}} {
				got := rep.Images[i]
				if got.Action != w.action || got.ImageID != w.id || got.Match != f.rule() {
					t.Errorf("Load() image %d = %+v, want %s as %s", i, got, w.action, w.id)
				}
				if got.Action == daemon.ActionLoaded && got.Streamed <= 0 {
					t.Errorf("Load() image %d streamed %d bytes, want those the engine took", i, got.Streamed)
				}
			}
			noTemporaryName(t, f, log)
			vr, err := daemon.Verify(context.Background(), f.c, f.l, images, daemon.VerifyOptions{})
			if err != nil || !vr.OK() {
				t.Errorf("Verify() = %+v, %v, want OK", vr.Findings, err)
			}
		})
	}
}

// TestLoadPullTamperedBlob: a layer changed on disk makes the loopback
// server cut the engine's pull at once (the engine would retry); the
// archive route then names the blob and loads nothing of that image, and
// no temporary name is left.
func TestLoadPullTamperedBlob(t *testing.T) {
	t.Parallel()
	netns := engineNetns(t)
	if netns != "" && os.Geteuid() != 0 {
		t.Fatalf("entering the engine's network namespace %s needs root", netns)
	}
	f := newFixture(t)
	im := f.add(repoName(t, "img"), "1", registrytest.Index(t, []string{"linux/amd64"}, 2, 300_000, randomSeed(t), registrytest.OCI), "linux/amd64")
	bad := vendoredLayers(t, f, im)[1]
	changeBlob(t, f.l, bad, func(raw []byte) []byte { raw[len(raw)-1] ^= 0xff; return raw })
	rep, log, err := loadIn(t, netns, f, []config.Image{im})
	if !errors.Is(err, errs.ErrDigestMismatch) || !strings.Contains(err.Error(), layout.RelBlobPath(bad)) {
		t.Fatalf("Load() with a changed layer = %v, want a digest mismatch naming %s\n%s", err, layout.RelBlobPath(bad), log)
	}
	if pullingEngine(f) && !strings.Contains(log, "the engine pulls the image") {
		t.Errorf("Load() did not ask %s to pull:\n%s", f.eng, log)
	}
	if rep.Images[0].Action != "" {
		t.Errorf("Load() = %+v, want no action", rep.Images[0])
	}
	if _, ok := inspect(t, f.c, tagOf(im)); ok {
		t.Errorf("%s is in the engine after a load with a changed layer", tagOf(im))
	}
	noTemporaryName(t, f, log)
}

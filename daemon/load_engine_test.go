package daemon_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// These tests use the real engine DOCKER_HOST names (the machine's docker,
// a docker with the containerd image store, podman: scripts/engines). Each
// pushes random images (unique seeds and repository names) to a real
// registry, vendors them with vendorimg.Sync, and removes from the engine
// everything it created. They ask the engine which image store it has and
// expect the IDs that store gives (fixture.id).

func TestLoadSkipVerifyUnload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		format registrytest.Format
	}{
		{"oci-index", registrytest.OCI},
		{"docker-manifest-list", registrytest.Docker},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			im := f.add(repoName(t, "img"), "1.0", registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 2, 2000, randomSeed(t), tc.format), "linux/amd64", "linux/arm64")
			want := f.platformImages(im)["linux/amd64"]
			wantID := f.id(want)

			rep, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{})
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			if rep.Engine.Platform != "linux/amd64" || rep.Engine.Store != f.eng.Store || rep.Engine.Version != f.eng.Version {
				t.Errorf("Load().Engine = %+v, want linux/amd64, version %s, the %s store (%s)", rep.Engine, f.eng.Version, f.eng.Store, f.eng)
			}
			got := rep.Images[0]
			if got.Action != daemon.ActionLoaded || got.ImageID != wantID || got.Match != f.rule() || got.Platform != "linux/amd64" {
				t.Errorf("Load() = %+v, want loaded linux/amd64 with ID %s by the %s rule (%s)", got, wantID, f.rule(), f.eng)
			}
			if got.Streamed != got.Bytes || got.Bytes == 0 {
				t.Errorf("Load() streamed %d of %d bytes, want all", got.Streamed, got.Bytes)
			}
			ins, ok := inspect(t, f.c, tagOf(im))
			if !ok {
				t.Fatalf("ImageInspect(%q): not found after Load", tagOf(im))
			}
			if ins.ID != wantID || !slices.Equal(ins.RootFS.Layers, layersOf(want.diffIDs)) || ins.Architecture != "amd64" {
				t.Errorf("ImageInspect(%q) = ID %s layers %v arch %s, want %s %v amd64", tagOf(im), ins.ID, ins.RootFS.Layers, ins.Architecture, wantID, want.diffIDs)
			}

			start := time.Now()
			rep, err = daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{})
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("second Load() = %v", err)
			}
			if got := rep.Images[0]; got.Action != daemon.ActionSkipped || got.Streamed != 0 || got.ImageID != wantID {
				t.Errorf("second Load() = %+v, want skipped with nothing streamed", got)
			}
			t.Logf("skipped load took %v (image %v)", elapsed, rep.Images[0].Duration)

			vr, err := daemon.Verify(ctx, f.c, f.l, f.cfg.Images, daemon.VerifyOptions{})
			if err != nil || !vr.OK() {
				t.Fatalf("Verify() = %+v, %v, want OK", vr, err)
			}
			if c := vr.Images[0]; !c.OK || c.Platform != "linux/amd64" || c.Match != f.rule() {
				t.Errorf("Verify().Images[0] = %+v, want OK for linux/amd64 by %s", c, f.rule())
			}

			ur, err := daemon.Unload(ctx, f.c, f.l, f.cfg.Images, daemon.UnloadOptions{})
			if err != nil {
				t.Fatalf("Unload() = %v", err)
			}
			if u := ur.Images[0]; u.Action != daemon.UnloadRemoved || !slices.Contains(u.Deleted, wantID) {
				t.Errorf("Unload() = %+v, want removed with %s deleted", u, wantID)
			}
			for _, ref := range []string{tagOf(im), want.config.String(), want.manifest.String()} {
				if _, ok := inspect(t, f.c, ref); ok {
					t.Errorf("ImageInspect(%q) found after Unload", ref)
				}
			}
			ur, err = daemon.Unload(ctx, f.c, f.l, f.cfg.Images, daemon.UnloadOptions{})
			if err != nil || ur.Images[0].Action != daemon.UnloadAbsent {
				t.Errorf("second Unload() = %+v, %v, want absent", ur.Images, err)
			}
			vr, err = daemon.Verify(ctx, f.c, f.l, f.cfg.Images, daemon.VerifyOptions{})
			if err != nil || vr.OK() || vr.Findings[0].Kind != daemon.KindTagMissing || vr.Findings[0].Tag != tagOf(im) {
				t.Errorf("Verify() after Unload = %+v, %v, want a tag-missing finding for %s", vr, err, tagOf(im))
			}
		})
	}
}

func TestLoadPlatform(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	im := f.add(repoName(t, "img"), "2", registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 1, 1500, randomSeed(t), registrytest.OCI), "linux/amd64", "linux/arm64")
	pis := f.platformImages(im)
	arm64 := platform.Platform{OS: "linux", Architecture: "arm64"}

	rep, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{Platform: &arm64})
	if err != nil {
		t.Fatalf("Load(linux/arm64) = %v", err)
	}
	if got := rep.Images[0]; got.Platform != "linux/arm64" || got.ImageID != f.id(pis["linux/arm64"]) {
		t.Errorf("Load(linux/arm64) = %+v, want the arm64 image %s", got, f.id(pis["linux/arm64"]))
	}
	if ins, _ := inspect(t, f.c, tagOf(im)); ins.Architecture != "arm64" {
		t.Errorf("ImageInspect(%q).Architecture = %q, want arm64", tagOf(im), ins.Architecture)
	}
	// Any vendored platform is the vendored image.
	if vr, err := daemon.Verify(ctx, f.c, f.l, f.cfg.Images, daemon.VerifyOptions{}); err != nil || !vr.OK() || vr.Images[0].Platform != "linux/arm64" {
		t.Errorf("Verify() after an arm64 load = %+v, %v, want OK for linux/arm64", vr, err)
	}
	// The engine's own platform moves the tag and says from where.
	rep, err = daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{})
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if got := rep.Images[0]; got.Action != daemon.ActionLoaded || got.Platform != "linux/amd64" || got.Replaced != f.id(pis["linux/arm64"]) {
		t.Errorf("Load() after arm64 = %+v, want amd64 loaded, replacing %s", got, f.id(pis["linux/arm64"]))
	}
}

func TestLoadPlatformNotVendored(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	im := f.add(repoName(t, "img"), "1", registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 1, 500, randomSeed(t), registrytest.OCI), "linux/amd64")
	s390x := platform.Platform{OS: "linux", Architecture: "s390x"}
	for _, p := range []platform.Platform{s390x, {OS: "linux", Architecture: "arm64"}} {
		rep, err := daemon.Load(context.Background(), f.c, f.l, f.cfg.Images, daemon.LoadOptions{Platform: &p})
		if !errors.Is(err, errs.ErrPlatformMissing) || !strings.Contains(err.Error(), "linux/amd64") || !strings.Contains(err.Error(), p.String()) {
			t.Errorf("Load(%s) = %v, want errs.ErrPlatformMissing naming %s and what the layout has (linux/amd64)", p, err, p)
		}
		if rep == nil || rep.Images[0].Error == "" {
			t.Errorf("Load(%s) report = %+v, want the image with its error", p, rep)
		}
	}
	if _, ok := inspect(t, f.c, tagOf(im)); ok {
		t.Errorf("ImageInspect(%q) found after failed loads", tagOf(im))
	}
}

func TestLoadTamperedBlobLoadsNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tamper func(b []byte) []byte
		want   error
	}{
		{"last byte of a layer", func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }, errs.ErrDigestMismatch},
		{"first byte of a layer", func(b []byte) []byte { b[0] ^= 0xff; return b }, errs.ErrDigestMismatch},
		{"a layer one byte longer", func(b []byte) []byte { return append(b, 0) }, errs.ErrSizeMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			im := f.add(repoName(t, "img"), "1", registrytest.Index(t, []string{"linux/amd64"}, 3, 100_000, randomSeed(t), registrytest.OCI), "linux/amd64")
			want := f.platformImages(im)["linux/amd64"]
			inv, err := f.l.Inventory(context.Background(), ocispec(im), layout.WalkOptions{Platforms: im.Platforms})
			if err != nil {
				t.Fatal(err)
			}
			layer := inv.Images[0].Layers[1].Digest
			changeBlob(t, f.l, layer, tc.tamper)

			rep, err := daemon.Load(context.Background(), f.c, f.l, f.cfg.Images, daemon.LoadOptions{})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "blobs/sha256/"+layer.Encoded()) {
				t.Fatalf("Load() with a tampered layer = %v, want %v naming blobs/sha256/%s", err, tc.want, layer.Encoded())
			}
			t.Logf("Load() = %v", err)
			if rep.Images[0].Action != "" || rep.Images[0].ImageID != "" {
				t.Errorf("Load() report = %+v, want no action and no image", rep.Images[0])
			}
			for _, ref := range []string{tagOf(im), want.config.String(), want.manifest.String()} {
				if _, ok := inspect(t, f.c, ref); ok {
					t.Errorf("ImageInspect(%q) found after a tampered load, want nothing loaded", ref)
				}
			}
		})
	}
}

func TestVerifyFindsCommitOntoTag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	im := f.add(repoName(t, "img"), "1", registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, randomSeed(t), registrytest.Docker), "linux/amd64")
	if _, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{}); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	// docker commit onto the tag: a container from the image, never
	// started, committed under the image's own reference.
	mc := mobyClient(t)
	ctr, err := mc.ContainerCreate(ctx, client.ContainerCreateOptions{Image: tagOf(im), Config: &containerConfig})
	if err != nil {
		t.Fatalf("ContainerCreate(%q) = %v", tagOf(im), err)
	}
	t.Cleanup(func() {
		_, _ = mc.ContainerRemove(context.Background(), ctr.ID, client.ContainerRemoveOptions{Force: true})
	})
	committed, err := mc.ContainerCommit(ctx, ctr.ID, client.ContainerCommitOptions{Reference: tagOf(im), Comment: "changed by a test", Config: &committedConfig})
	if err != nil {
		t.Fatalf("ContainerCommit() on %s = %v", f.eng, err)
	}
	committed.ID = normalID(committed.ID)
	cleanupImage(t, f.c, committed.ID)

	vr, err := daemon.Verify(ctx, f.c, f.l, f.cfg.Images, daemon.VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	if vr.OK() || len(vr.Findings) != 1 {
		t.Fatalf("Verify() after a commit onto the tag = %+v, want one finding", vr)
	}
	if fd := vr.Findings[0]; fd.Kind != daemon.KindTagMoved || fd.Tag != tagOf(im) || fd.Actual != committed.ID || !strings.Contains(fd.String(), tagOf(im)) {
		t.Errorf("Verify().Findings[0] = %+v, want tag-moved naming %s and the committed image %s", fd, tagOf(im), committed.ID)
	}

	// Unload leaves the committed image (not the vendored one) alone.
	ur, err := daemon.Unload(ctx, f.c, f.l, f.cfg.Images, daemon.UnloadOptions{})
	if err != nil {
		t.Fatalf("Unload() = %v", err)
	}
	if u := ur.Images[0]; u.Action != daemon.UnloadKept || u.ImageID != committed.ID || len(u.Deleted)+len(u.Untagged) != 0 {
		t.Errorf("Unload() = %+v, want kept, nothing removed", u)
	}
	if ins, ok := inspect(t, f.c, tagOf(im)); !ok || ins.ID != committed.ID {
		t.Errorf("ImageInspect(%q) after Unload = %s, %v, want the committed image kept", tagOf(im), ins.ID, ok)
	}
	// A load puts the vendored image back under the tag.
	rep, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{})
	if err != nil {
		t.Fatalf("Load() after a commit = %v", err)
	}
	if got := rep.Images[0]; got.Action != daemon.ActionTagged || got.Replaced != committed.ID {
		t.Errorf("Load() after a commit = %+v, want the existing vendored image tagged, replacing %s", got, committed.ID)
	}
	if vr, err := daemon.Verify(ctx, f.c, f.l, f.cfg.Images, daemon.VerifyOptions{}); err != nil || !vr.OK() {
		t.Errorf("Verify() after reloading = %+v, %v, want OK", vr, err)
	}
}

func TestVerifyFindsRetagAndUnloadKeepsIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	a := f.add(repoName(t, "a"), "1", registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, randomSeed(t), registrytest.OCI), "linux/amd64")
	b := f.add(repoName(t, "b"), "1", registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, randomSeed(t), registrytest.OCI), "linux/amd64")
	if _, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{}); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	bID := f.id(f.platformImages(b)["linux/amd64"])
	if err := f.c.ImageTag(ctx, bID, tagOf(a)); err != nil {
		t.Fatal(err)
	}
	vr, err := daemon.Verify(ctx, f.c, f.l, f.cfg.Images, daemon.VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	if len(vr.Findings) != 1 || vr.Findings[0].Kind != daemon.KindTagMoved || vr.Findings[0].Tag != tagOf(a) || vr.Findings[0].Actual != bID {
		t.Fatalf("Verify() after re-tagging %s = %+v, want one tag-moved finding for it", tagOf(a), vr.Findings)
	}
	if !vr.Images[1].OK {
		t.Errorf("Verify().Images[1] = %+v, want %s OK", vr.Images[1], tagOf(b))
	}

	ur, err := daemon.Unload(ctx, f.c, f.l, f.cfg.Images, daemon.UnloadOptions{})
	if err != nil {
		t.Fatalf("Unload() = %v", err)
	}
	if u := ur.Images[0]; u.Action != daemon.UnloadKept {
		t.Errorf("Unload() of the re-tagged %s = %+v, want kept", tagOf(a), u)
	}
	if u := ur.Images[1]; u.Action != daemon.UnloadUntagged || !slices.Equal(u.Untagged, []string{tagOf(b)}) || len(u.Deleted) != 0 {
		t.Errorf("Unload() of %s = %+v, want only its tag removed (the image is still tagged %s)", tagOf(b), u, tagOf(a))
	}
	if ins, ok := inspect(t, f.c, tagOf(a)); !ok || ins.ID != bID {
		t.Errorf("ImageInspect(%q) after Unload = %s, %v, want still %s", tagOf(a), ins.ID, ok, bID)
	}
	if _, ok := inspect(t, f.c, tagOf(b)); ok {
		t.Errorf("ImageInspect(%q) found after Unload", tagOf(b))
	}
}

func TestUnloadLeavesOtherImagesAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	im := f.add(repoName(t, "ours"), "1", registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, randomSeed(t), registrytest.OCI), "linux/amd64")
	// An unrelated image, loaded from another layout.
	other := newFixture(t)
	om := other.add(repoName(t, "unrelated"), "1", registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, randomSeed(t), registrytest.OCI), "linux/amd64")
	if _, err := daemon.Load(ctx, other.c, other.l, other.cfg.Images, daemon.LoadOptions{}); err != nil {
		t.Fatalf("Load(unrelated) = %v", err)
	}
	if _, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{}); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	// The user also tagged our image: unload removes only our tag.
	id := f.id(f.platformImages(im)["linux/amd64"])
	mine := repoName(t, "mine") + ":keep"
	if err := f.c.ImageTag(ctx, id, mine); err != nil {
		t.Fatal(err)
	}
	cleanupImage(t, f.c, mine)

	ur, err := daemon.Unload(ctx, f.c, f.l, f.cfg.Images, daemon.UnloadOptions{})
	if err != nil {
		t.Fatalf("Unload() = %v", err)
	}
	if u := ur.Images[0]; u.Action != daemon.UnloadUntagged || !slices.Equal(u.Untagged, []string{tagOf(im)}) {
		t.Errorf("Unload() = %+v, want only %s untagged", u, tagOf(im))
	}
	if _, ok := inspect(t, f.c, tagOf(im)); ok {
		t.Errorf("ImageInspect(%q) found after Unload", tagOf(im))
	}
	if ins, ok := inspect(t, f.c, mine); !ok || ins.ID != id {
		t.Errorf("ImageInspect(%q) after Unload = %s, %v, want the user's tag kept on %s", mine, ins.ID, ok, id)
	}
	oid := other.id(other.platformImages(om)["linux/amd64"])
	if ins, ok := inspect(t, f.c, tagOf(om)); !ok || ins.ID != oid {
		t.Errorf("ImageInspect(%q) after Unload = %s, %v, want the unrelated image untouched", tagOf(om), ins.ID, ok)
	}

	// Tagged elsewhere but not under its tag: load only tags it.
	rep, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{})
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if got := rep.Images[0]; got.Action != daemon.ActionTagged || got.Streamed != 0 || got.ImageID != id {
		t.Errorf("Load() of an image docker holds under another tag = %+v, want tagged, nothing streamed", got)
	}
}

func TestDigestOnlyReference(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	im := f.add(repoName(t, "img"), "", registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, randomSeed(t), registrytest.OCI), "linux/amd64")
	id := f.id(f.platformImages(im)["linux/amd64"])
	rep, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{})
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if got := rep.Images[0]; got.Action != daemon.ActionLoaded || got.Tag != "" || got.ImageID != id {
		t.Errorf("Load() of a digest-only reference = %+v, want loaded untagged as %s", got, id)
	}
	if ins, ok := inspect(t, f.c, id); !ok || len(ins.RepoTags) != 0 {
		t.Errorf("ImageInspect(%q) = %+v, %v, want an untagged image", id, ins.RepoTags, ok)
	}
	if rep, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{}); err != nil || rep.Images[0].Action != daemon.ActionSkipped {
		t.Errorf("second Load() = %+v, %v, want skipped", rep.Images, err)
	}
	if vr, err := daemon.Verify(ctx, f.c, f.l, f.cfg.Images, daemon.VerifyOptions{}); err != nil || !vr.OK() {
		t.Errorf("Verify() = %+v, %v, want OK", vr, err)
	}
	ur, err := daemon.Unload(ctx, f.c, f.l, f.cfg.Images, daemon.UnloadOptions{})
	if err != nil || ur.Images[0].Action != daemon.UnloadRemoved {
		t.Errorf("Unload() = %+v, %v, want removed", ur.Images, err)
	}
	if _, ok := inspect(t, f.c, id); ok {
		t.Errorf("ImageInspect(%q) found after Unload", id)
	}
}

func TestLoadNotSynced(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	im := f.add(repoName(t, "img"), "1", registrytest.Index(t, []string{"linux/amd64"}, 1, 100, randomSeed(t), registrytest.OCI), "linux/amd64")
	// Re-pin to another digest without syncing.
	moved := im
	moved.Digest = f.platformImages(im)["linux/amd64"].manifest
	_, err := daemon.Load(context.Background(), f.c, f.l, []config.Image{moved}, daemon.LoadOptions{})
	if !errors.Is(err, errs.ErrDigestMismatch) || !strings.Contains(err.Error(), "vendorimg sync") {
		t.Errorf("Load() of an image pinned to another digest than the layout's = %v, want a digest mismatch telling to sync", err)
	}
	vr, err := daemon.Verify(context.Background(), f.c, f.l, []config.Image{moved}, daemon.VerifyOptions{})
	if err != nil || len(vr.Findings) != 1 || vr.Findings[0].Kind != daemon.KindLayout {
		t.Errorf("Verify() of it = %+v, %v, want one layout finding", vr, err)
	}
}

func TestNewClientNegotiatesAndHonoursDockerHost(t *testing.T) {
	ctx := context.Background()
	c := engine(t)
	eng, err := daemon.Inspect(ctx, c)
	if err != nil {
		t.Fatalf("Inspect() = %v", err)
	}
	ping, err := c.Ping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The engine here may be as old as 20.10 (API 1.41): the client must
	// speak the engine's version, not its own newest.
	if c.ClientVersion() != ping.APIVersion {
		t.Errorf("ClientVersion() = %s after negotiation, want the engine's %s", c.ClientVersion(), ping.APIVersion)
	}
	if eng.Version == "" || eng.Platform == "" {
		t.Errorf("Inspect() = %+v, want a version and a platform", eng)
	}

	sock := filepath.Join(t.TempDir(), "no-docker.sock")
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	other, err := daemon.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := daemon.Inspect(ctx, other); err == nil || !strings.Contains(err.Error(), sock) {
		t.Errorf("Inspect() with DOCKER_HOST=unix://%s = %v, want an error naming that socket", sock, err)
	}
}

// TestDockerHubName: an image named on Docker Hub (as alpine is), vendored
// through a mirror, is tagged, checked and untagged under docker's short
// name ("vendorimg-test-...:1") on every engine, although podman names it
// in full (docker.io/library/...).
func TestDockerHubName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	name := strings.ReplaceAll(repoName(t, "hub"), "/", "-") // a library image: no user part
	img := registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, randomSeed(t), registrytest.OCI)
	d := registrytest.Push(t, f.reg.Host+"/library/"+name+":1", img)
	ref, err := reference.Parse("docker.io/library/" + name + ":1")
	if err != nil {
		t.Fatal(err)
	}
	f.cfg.Mirrors["docker.io"] = f.reg.Host
	sel, err := platform.ParseSelection([]string{"linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cfg.Set(config.Image{Ref: ref, Digest: d, Platforms: sel}); err != nil {
		t.Fatal(err)
	}
	if _, err := vendorimg.Sync(ctx, f.cfg, vendorimg.SyncOptions{}); err != nil {
		t.Fatalf("Sync() through the mirror = %v", err)
	}
	im := f.cfg.Images[0]
	short := name + ":1"
	cleanupImage(t, f.c, short)
	for _, p := range f.platformImages(im) {
		cleanupImage(t, f.c, p.config.String())
		cleanupImage(t, f.c, p.manifest.String())
	}
	want := f.id(f.platformImages(im)["linux/amd64"])

	rep, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{})
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if got := rep.Images[0]; got.Action != daemon.ActionLoaded || got.Tag != short || got.ImageID != want {
		t.Errorf("Load() of %s = %+v, want loaded as %s, tagged %s", ref, got, want, short)
	}
	if ins, ok := inspect(t, f.c, short); !ok || ins.ID != want {
		t.Errorf("ImageInspect(%q) = %s, %v, want %s", short, ins.ID, ok, want)
	}
	if rep, err := daemon.Load(ctx, f.c, f.l, f.cfg.Images, daemon.LoadOptions{}); err != nil || rep.Images[0].Action != daemon.ActionSkipped {
		t.Errorf("second Load() = %+v, %v, want skipped", rep.Images, err)
	}
	if vr, err := daemon.Verify(ctx, f.c, f.l, f.cfg.Images, daemon.VerifyOptions{}); err != nil || !vr.OK() || vr.Images[0].Tag != short {
		t.Errorf("Verify() = %+v, %v, want OK for %s", vr, err, short)
	}
	ur, err := daemon.Unload(ctx, f.c, f.l, f.cfg.Images, daemon.UnloadOptions{})
	if err != nil {
		t.Fatalf("Unload() = %v", err)
	}
	if u := ur.Images[0]; u.Action != daemon.UnloadRemoved || !slices.Equal(u.Untagged, []string{short}) || !slices.Contains(u.Deleted, want) {
		t.Errorf("Unload() on %s = %+v, want removed: %s untagged, %s deleted", f.eng, u, short, want)
	}
}

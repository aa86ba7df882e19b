package vendorimgtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/reference"
)

// Loaded is a vendored image as docker holds it.
type Loaded struct {
	// Ref is the name to give docker (docker run --pull never REF): the
	// tag Main's load made, in docker's short form
	// ("registry.vendorimg.test/probe:1", "alpine:3.19.1"), or the image
	// ID for a reference with only a digest, which is loaded untagged.
	Ref string
	// ID is the image's ID in docker: the config digest with the classic
	// image store, the manifest's digest with the containerd store.
	ID string
	// Name is the image's full reference in the layout
	// ("docker.io/library/alpine:3.19.1").
	Name string
	// Platform is the vendored platform docker holds ("linux/amd64").
	Platform string
}

// Image returns the docker reference and ID of the configured image that
// ref names, for a test to run containers from. ref may be written in any
// form that normalises to a configured image ("alpine:3.19.1" for
// "docker.io/library/alpine:3.19.1"), with or without the pinned digest.
//
// It skips the test when Main found no docker engine (and
// VENDORIMG_REQUIRE_DOCKER is not set), and fails it when ref is malformed
// or not configured, when Main did not load it (Options.Images), when Main
// was not called, or when the tag no longer points to the vendored image
// (an earlier test changed it). It asks docker each time, which costs a
// few milliseconds.
//
// After the test (t.Cleanup), it checks that the test left every loaded
// image's tag on the vendored image, the image in the engine and the
// layout's files as they were; a change fails the test (t.Errorf), naming
// what changed and what the engine's events say did it, and the vendored
// image is put back (re-tagged, or loaded from the layout) before the next
// test, unless Options.NoRestore. The test holds the vendored images shared
// (see LockEngine) from the first call until after that check, so it waits
// while a test that took LockEngine(t, LockExclusive) runs. When tests that
// call Image run in parallel (t.Parallel) and one changes an image, the
// message names every test that ran meanwhile, since the change cannot be
// pinned on one. With OwnTag the test gets a tag of its own.
func Image(t testing.TB, ref string, opts ...ImageOption) Loaded {
	t.Helper()
	var o imageOptions
	for _, opt := range opts {
		opt(&o)
	}
	s := getCurrent()
	if s != nil && s.noEngine == nil {
		// Before Lookup, which would fail while an exclusive test has the
		// image changed.
		if err := s.hold(t, false); err != nil {
			t.Fatalf("vendorimgtest.Image(%q): %v", ref, err)
		}
	}
	im, err := Lookup(t.Context(), ref)
	switch {
	case errors.Is(err, errs.ErrNoEngine):
		t.Skip(err.Error())
		return im
	case err != nil:
		t.Fatalf("vendorimgtest.Image(%q): %v", ref, err)
		return im
	}
	wt, err := s.watch(t)
	if err != nil {
		t.Fatalf("vendorimgtest.Image(%q): %v", ref, err)
	}
	if o.ownTag {
		if im.Ref, err = s.ownTag(wt, im.Name); err != nil {
			t.Fatalf("vendorimgtest.Image(%q, OwnTag()): %v", ref, err)
		}
	}
	return im
}

// Lookup is Image for code without a testing.TB (a helper, an example):
// the error wraps errs.ErrNoEngine when Main found no docker engine,
// errs.ErrConfig when ref is not configured, errs.ErrDigestMismatch when
// ref's digest is not the pin, errs.ErrNotFound when Main did not load the
// image, and errs.ErrVerifyFailed when its tag no longer points to the
// vendored image.
func Lookup(ctx context.Context, ref string) (Loaded, error) {
	s := getCurrent()
	if s == nil {
		return Loaded{}, errors.New("no images loaded: call vendorimgtest.Main from the package's TestMain")
	}
	r, err := reference.Parse(ref)
	if err != nil {
		return Loaded{}, err
	}
	i := s.cfg.Lookup(r)
	if i < 0 {
		return Loaded{}, fmt.Errorf("%w: %s is not in %s", errs.ErrConfig, r, s.cfg.Path)
	}
	im := s.cfg.Images[i]
	if r.Digest != "" && r.Digest != im.Digest {
		return Loaded{}, fmt.Errorf("%s is pinned to %s in %s, not %s: %w", im.Name(), im.Digest, s.cfg.Path, r.Digest, errs.ErrDigestMismatch)
	}
	if s.noEngine != nil {
		return Loaded{}, s.noEngine
	}
	var res *daemon.LoadResult
	for j := range s.load.Images {
		if s.load.Images[j].Ref == im.Name() {
			res = &s.load.Images[j]
		}
	}
	if res == nil {
		return Loaded{}, fmt.Errorf("%s was not loaded: %w (vendorimgtest.Options.Images leaves it out)", im.Name(), errs.ErrNotFound)
	}
	rep, err := daemon.Verify(ctx, s.client, s.layout, []config.Image{im}, daemon.VerifyOptions{})
	if err != nil {
		return Loaded{}, err
	}
	if !rep.OK() {
		var fs []string
		for _, f := range rep.Findings {
			fs = append(fs, f.String())
		}
		return Loaded{}, fmt.Errorf("docker no longer holds the vendored %s (did an earlier test change it?): %s: %w", im.Name(), strings.Join(fs, "; "), errs.ErrVerifyFailed)
	}
	chk := rep.Images[0]
	out := Loaded{Ref: res.Tag, ID: chk.ImageID, Name: im.Name(), Platform: chk.Platform}
	if out.Ref == "" {
		out.Ref = chk.ImageID
	}
	return out, nil
}

// LoadReport is what Main's load did (each image's action, ID and
// duration), or nil when Main has not run or found no docker engine.
func LoadReport() *daemon.LoadReport {
	s := getCurrent()
	if s == nil {
		return nil
	}
	return s.load
}

package vendorimgtest

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/reference"
)

// ImageOption configures Image.
type ImageOption func(*imageOptions)

type imageOptions struct {
	ownTag bool
}

// OwnTag gives the test a tag of its own on the vendored image
// ("registry.vendorimg.test/probe:1-TestName"), in Loaded.Ref, removed
// (with whatever the test committed onto it) when the test ends: a test
// that re-tags or commits onto its tag disturbs no other test. The check
// after the test still proves the vendored tag, image and layout intact.
func OwnTag() ImageOption { return func(o *imageOptions) { o.ownTag = true } }

// isolation is a session's per-test check: one daemon.Watcher, used by one
// test's cleanup at a time.
type isolation struct {
	mu sync.Mutex
	w  *daemon.Watcher
	// err is why the Watcher could not start.
	err error
	// tests are the tests that called Image, by their testing.TB.
	tests map[testing.TB]*watchedTest
	// runs are when each checked test ran, to name the other candidates
	// of a change when parallel tests overlapped.
	runs []testRun
	// culprits are the tests whose check found a change, for the summary
	// after the tests.
	culprits []string
}

// watchedTest is a test that called Image.
type watchedTest struct {
	name  string
	start time.Time
	own   []string
}

type testRun struct {
	name       string
	start, end time.Time
}

// watch registers, once per test, the check after it (t.Cleanup): it
// fails the test when it moved or removed a loaded image's tag, removed
// the image or changed a layout file, puts the vendored images back
// (unless Options.NoRestore), then removes the test's own tags.
func (s *session) watch(t testing.TB) (*watchedTest, error) {
	iso := &s.iso
	iso.mu.Lock()
	defer iso.mu.Unlock()
	if wt, ok := iso.tests[t]; ok {
		return wt, nil
	}
	if iso.w == nil && iso.err == nil {
		iso.w, iso.err = daemon.NewWatcher(context.Background(), s.client, s.layout, s.images, daemon.WatchOptions{Platform: s.platform})
	}
	if iso.err != nil {
		return nil, fmt.Errorf("starting the per-test check: %w", iso.err)
	}
	if iso.tests == nil {
		iso.tests = map[testing.TB]*watchedTest{}
	}
	wt := &watchedTest{name: t.Name(), start: time.Now()}
	iso.tests[t] = wt
	t.Cleanup(func() { s.checkTest(t, wt) })
	return wt, nil
}

// checkTest is the check after test t.
func (s *session) checkTest(t testing.TB, wt *watchedTest) {
	iso := &s.iso
	iso.mu.Lock()
	defer iso.mu.Unlock()
	delete(iso.tests, t)
	ctx := context.Background()
	rep, err := iso.w.Check(ctx, daemon.CheckTestOptions{Restore: !s.noRestore, Since: wt.start})
	end := time.Now()
	var others []string
	for _, r := range iso.runs {
		if r.end.After(wt.start) {
			others = append(others, r.name)
		}
	}
	for other, ot := range iso.tests {
		if other != t {
			others = append(others, ot.name)
		}
	}
	slices.Sort(others)
	iso.runs = append(iso.runs, testRun{name: wt.name, start: wt.start, end: end})
	switch {
	case err != nil:
		t.Errorf("vendorimgtest: checking the vendored images after %s: %v", wt.name, err)
	case !rep.OK:
		head := "vendorimgtest: " + wt.name + " changed a vendored image:"
		who := wt.name
		if len(others) > 0 {
			head = fmt.Sprintf("vendorimgtest: a vendored image changed while %s ran, and so did %s: it cannot be pinned to one test (call vendorimgtest.LockEngine(t, vendorimgtest.LockExclusive) first in a test that changes images on purpose):", wt.name, strings.Join(others, ", "))
			who += " or " + strings.Join(others, " or ")
		}
		lines := describeWatch(rep, s.noRestore)
		t.Errorf("%s\n  %s", head, strings.Join(lines, "\n  "))
		iso.culprits = append(iso.culprits, who+":\n      "+strings.Join(lines, "\n      "))
	}
	for _, tag := range wt.own {
		if _, err := iso.w.RemoveTag(ctx, tag); err != nil {
			t.Errorf("vendorimgtest: removing the test's own tag: %v", err)
		}
	}
}

// describeWatch says what a check found, what the engine's events say did
// it, and what was put back.
func describeWatch(rep *daemon.WatchReport, noRestore bool) []string {
	var out []string
	for _, f := range rep.Tags {
		out = append(out, fmt.Sprintf("%s: %s: %s", f.Tag, f.Kind, f.Message))
	}
	for _, c := range rep.Layout {
		if !c.Restored {
			out = append(out, "layout "+c.String())
		}
	}
	switch {
	case len(rep.Events) > 0:
		out = append(out, "what the engine's events say did it: "+daemon.DescribeEvents(rep.Events))
	case len(rep.Tags) > 0 && rep.EventsError != "":
		out = append(out, "the engine's events do not say what did it ("+rep.EventsError+")")
	case len(rep.Tags) > 0:
		out = append(out, "the engine's events do not say what did it (no event about these images in that time)")
	}
	for _, r := range rep.Restored {
		what := r.Tag
		if what == "" {
			what = "layout " + r.Path
		}
		if r.Error != "" {
			out = append(out, "not restored: "+what+": "+r.Error)
			continue
		}
		line := "restored: " + what + ": " + r.Action
		if r.Displaced != "" {
			line += "; the image it pointed to, " + reference.Short(r.Displaced) + ": " + r.DisplacedAction
		}
		out = append(out, line)
	}
	if noRestore {
		out = append(out, "not restored (Options.NoRestore): later tests see the change")
	}
	return out
}

// notTagChar is what a tag of a test's own cannot hold of the test's name.
var notTagChar = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// ownTag gives test wt a tag of its own on the image named name.
func (s *session) ownTag(wt *watchedTest, name string) (string, error) {
	iso := &s.iso
	iso.mu.Lock()
	defer iso.mu.Unlock()
	token := notTagChar.ReplaceAllString(wt.name, "-")
	if len(wt.own) > 0 {
		token += fmt.Sprintf("-%d", len(wt.own))
	}
	tag, err := iso.w.AddTag(context.Background(), name, token)
	if err != nil {
		return "", err
	}
	wt.own = append(wt.own, tag)
	return tag, nil
}

// culpritsReport is what the summary after the tests says of the tests
// that changed an image, or "".
func (s *session) culpritsReport() string {
	iso := &s.iso
	iso.mu.Lock()
	defer iso.mu.Unlock()
	if len(iso.culprits) == 0 {
		return ""
	}
	restored := "the vendored images were put back after each"
	if s.noRestore {
		restored = "left as they changed them (Options.NoRestore)"
	}
	return fmt.Sprintf("vendorimgtest: %s changed a vendored image (each failed; %s):\n  %s\n", plural(len(iso.culprits), "test"), restored, strings.Join(iso.culprits, "\n  "))
}

package vendorimgtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// errSharedFirst is why a test cannot take the vendored images exclusive:
// it, or a test it runs under, already holds them shared.
var errSharedFirst = errors.New("the vendored images are already held shared")

// testLock is the reader/writer lock that the tests of one Main-run test
// binary hold on the vendored images, so that a test that changes them on
// purpose runs while no other test of the binary uses them (t.Parallel
// runs tests at once; the flock Main holds keeps other binaries away, not
// these). Image and LockEngine(t, LockShared) hold it shared,
// LockEngine(t, LockExclusive) exclusive, until the test's cleanup, after
// its check.
//
// Holds are per test, by name, and a test runs inside the holds of the
// tests it runs under: a request never waits for one of the test's
// parents, whose release comes only after their subtests end. So the
// subtests of a test that holds the lock shared use the images beside it,
// and those of an exclusive test share the lock, or take it exclusive,
// among themselves as top-level tests do. A test that holds the lock
// shared, or runs under one that does, cannot take it exclusive: that
// would wait for a release that comes after the test ends, so acquire
// refuses at once (errSharedFirst).
//
// Parents are known by name only ("TestA/b" runs under "TestA"), as
// testing.TB says nothing else of them: a subtest named with a slash
// ("a/b") looks like a subtest of a sibling named "a".
type testLock struct {
	mu sync.Mutex
	// holds are the tests holding the lock, by name; true for exclusive.
	holds map[string]bool
	// released is closed, and replaced, when a hold is released.
	released chan struct{}
	// onWait, if set (by a test of this package), is called with the
	// name of a test that starts waiting.
	onWait func(name string)
}

// acquire takes the lock for the test named name, shared or exclusive,
// waiting while other tests hold it in a mode that excludes this one,
// until ctx is done; waiting, if not nil, is called once, with their
// names, if it must wait. It returns the function that releases the hold,
// or nil when the test already holds the lock in that mode or exclusive.
func (l *testLock) acquire(ctx context.Context, name string, exclusive bool, waiting func(holders []string)) (func(), error) {
	l.mu.Lock()
	if x, ok := l.holds[name]; ok && (x || !exclusive) {
		l.mu.Unlock()
		return nil, nil
	}
	if exclusive {
		if p := l.sharedAbove(name); p != "" {
			l.mu.Unlock()
			if p == name {
				return nil, fmt.Errorf("%w: %s called Image or LockEngine(t, LockShared) before LockEngine(t, LockExclusive): take LockEngine(t, LockExclusive) first", errSharedFirst, name)
			}
			return nil, fmt.Errorf("%w: %s runs under %s, which called Image or LockEngine(t, LockShared) and holds the images shared until its subtests end: take LockEngine(t, LockExclusive) in %s before that, or call Image in its subtests only", errSharedFirst, name, p, p)
		}
	}
	for first := true; ; first = false {
		holders := l.excluding(name, exclusive)
		if len(holders) == 0 {
			if l.holds == nil {
				l.holds = map[string]bool{}
			}
			l.holds[name] = exclusive
			l.mu.Unlock()
			return sync.OnceFunc(func() { l.release(name) }), nil
		}
		if l.released == nil {
			l.released = make(chan struct{})
		}
		released, onWait := l.released, l.onWait
		l.mu.Unlock()
		if first {
			if waiting != nil {
				waiting(holders)
			}
			if onWait != nil {
				onWait(name)
			}
		}
		select {
		case <-released:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s to finish with the vendored images: %w", strings.Join(holders, ", "), context.Cause(ctx))
		}
		l.mu.Lock()
	}
}

// sharedAbove is the test that holds the lock shared among the one named
// name and those it runs under, or "": the outermost, whose hold the test
// cannot do without. Called with mu held.
func (l *testLock) sharedAbove(name string) string {
	above := ""
	for h, x := range l.holds {
		if !x && (h == name || runsUnder(name, h)) && (above == "" || len(h) < len(above)) {
			above = h
		}
	}
	return above
}

// excluding are the tests whose holds keep the test named name from taking
// the lock (exclusive or not), sorted: the holders other than the test and
// those it runs under, all of them for an exclusive hold, the exclusive
// ones for a shared hold. Called with mu held.
func (l *testLock) excluding(name string, exclusive bool) []string {
	var out []string
	for h, x := range l.holds {
		if h != name && !runsUnder(name, h) && (exclusive || x) {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}

func (l *testLock) release(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.holds, name)
	if l.released != nil {
		close(l.released)
		l.released = nil
	}
}

// runsUnder says whether the test named sub is a subtest, at any depth, of
// the one named parent.
func runsUnder(sub, parent string) bool {
	return strings.HasPrefix(sub, parent+"/")
}

// hold takes the binary's test lock (testLock) for test tb, shared or
// exclusive, waiting up to the test's deadline, and releases it when the
// test ends; a cleanup registered after hold (the check after the test)
// runs before the release.
func (s *session) hold(tb testing.TB, exclusive bool) error {
	ctx, cancel := testContext(tb)
	defer cancel()
	release, err := s.tests.acquire(ctx, tb.Name(), exclusive, func(holders []string) {
		tb.Logf("vendorimgtest: %s waits for %s to finish with the vendored images", tb.Name(), strings.Join(holders, ", "))
	})
	if err != nil {
		return err
	}
	if release != nil {
		tb.Cleanup(release)
	}
	return nil
}

// testContext is a context that ends at the test's deadline (go test
// -timeout), if it has one.
func testContext(tb testing.TB) (context.Context, context.CancelFunc) {
	if t, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := t.Deadline(); ok {
			return context.WithDeadline(context.Background(), d)
		}
	}
	return context.WithCancel(context.Background())
}

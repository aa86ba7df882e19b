package vendorimgtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestTestLockRules asks for the lock where other tests hold it, with a
// context that is already done: a request that may go ahead takes the lock
// at once, one that must wait reports whom it waits for and gives up.
func TestTestLockRules(t *testing.T) {
	const (
		shared    = false
		exclusive = true
	)
	tests := []struct {
		name      string
		holds     map[string]bool
		test      string
		exclusive bool
		// want: "granted", "held" (nothing more to take), "refused"
		// (errSharedFirst), or "waits".
		want      string
		wantWaits []string
		// wantErr are parts of a refusal's message.
		wantErr []string
	}{
		{name: "free, shared", test: "TestA", want: "granted"},
		{name: "free, exclusive", test: "TestA", exclusive: true, want: "granted"},
		{name: "shared beside shared", holds: map[string]bool{"TestB": shared, "TestC": shared}, test: "TestA", want: "granted"},
		{name: "shared waits for exclusive", holds: map[string]bool{"TestB": exclusive}, test: "TestA", want: "waits", wantWaits: []string{"TestB"}},
		{name: "exclusive waits for every holder", holds: map[string]bool{"TestC": shared, "TestB": shared}, test: "TestA", exclusive: true, want: "waits", wantWaits: []string{"TestB", "TestC"}},
		{name: "exclusive waits for exclusive", holds: map[string]bool{"TestB": exclusive}, test: "TestA", exclusive: true, want: "waits", wantWaits: []string{"TestB"}},
		{name: "shared twice", holds: map[string]bool{"TestA": shared}, test: "TestA", want: "held"},
		{name: "exclusive twice", holds: map[string]bool{"TestA": exclusive}, test: "TestA", exclusive: true, want: "held"},
		{name: "shared inside its own exclusive", holds: map[string]bool{"TestA": exclusive}, test: "TestA", want: "held"},
		{
			name: "exclusive after its own shared", holds: map[string]bool{"TestA": shared}, test: "TestA", exclusive: true, want: "refused",
			wantErr: []string{"TestA called Image or LockEngine(t, LockShared) before LockEngine(t, LockExclusive): take LockEngine(t, LockExclusive) first"},
		},
		// A parent's hold lasts until its subtests end: waiting for it
		// would never end.
		{name: "subtest shares beside its parent", holds: map[string]bool{"TestA": shared}, test: "TestA/b", want: "granted"},
		{
			name: "subtest cannot take exclusive under a shared parent", holds: map[string]bool{"TestA": shared}, test: "TestA/b/c", exclusive: true, want: "refused",
			wantErr: []string{"TestA/b/c runs under TestA, which called Image or LockEngine(t, LockShared)", "take LockEngine(t, LockExclusive) in TestA before that, or call Image in its subtests only"},
		},
		{
			name: "the parent's shared hold is named before the test's own", holds: map[string]bool{"TestA/b": shared, "TestA/b/c": shared, "TestA": shared}, test: "TestA/b/c", exclusive: true, want: "refused",
			wantErr: []string{"TestA/b/c runs under TestA, which called Image"},
		},
		{name: "subtest inside an exclusive parent", holds: map[string]bool{"TestA": exclusive}, test: "TestA/b", want: "granted"},
		{name: "exclusive subtest inside an exclusive parent", holds: map[string]bool{"TestA": exclusive}, test: "TestA/b", exclusive: true, want: "granted"},
		{name: "exclusive subtest waits for its sibling", holds: map[string]bool{"TestA": exclusive, "TestA/c": shared}, test: "TestA/b", exclusive: true, want: "waits", wantWaits: []string{"TestA/c"}},
		{name: "subtest waits for its exclusive sibling", holds: map[string]bool{"TestA": shared, "TestA/c": exclusive}, test: "TestA/b", want: "waits", wantWaits: []string{"TestA/c"}},
		{name: "a subtest of another test is another test", holds: map[string]bool{"TestA/b": exclusive}, test: "TestA", want: "waits", wantWaits: []string{"TestA/b"}},
		{name: "a longer name is not a parent", holds: map[string]bool{"TestA": exclusive}, test: "TestAB/c", want: "waits", wantWaits: []string{"TestA"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &testLock{holds: map[string]bool{}}
			for name, x := range tt.holds {
				l.holds[name] = x
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var waits []string
			release, err := l.acquire(ctx, tt.test, tt.exclusive, func(holders []string) { waits = holders })
			var got string
			switch {
			case errors.Is(err, errSharedFirst):
				got = "refused"
			case err != nil && waits != nil:
				got = "waits"
			case err != nil:
				t.Fatalf("acquire(%q, exclusive %v) = %v", tt.test, tt.exclusive, err)
			case release == nil:
				got = "held"
			default:
				got = "granted"
			}
			if got != tt.want || !slices.Equal(waits, tt.wantWaits) {
				t.Errorf("acquire(%q, exclusive %v) under %v: %s, waiting for %q (%v); want %s, waiting for %q", tt.test, tt.exclusive, tt.holds, got, waits, err, tt.want, tt.wantWaits)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("acquire(%q, exclusive %v) = %v, want an error containing %q", tt.test, tt.exclusive, err, w)
				}
			}
			if got == "waits" && !strings.Contains(err.Error(), "waiting for "+strings.Join(tt.wantWaits, ", ")+" to finish with the vendored images") {
				t.Errorf("acquire(%q) gave up with %v, want it to name %q", tt.test, err, tt.wantWaits)
			}
			if got == "granted" {
				if x, ok := l.holds[tt.test]; !ok || x != tt.exclusive {
					t.Errorf("after acquire(%q, exclusive %v), holds = %v", tt.test, tt.exclusive, l.holds)
				}
				release()
				release() // a second release changes nothing
				if _, ok := l.holds[tt.test]; ok || len(l.holds) != len(tt.holds) {
					t.Errorf("after the release, holds = %v, want %v", l.holds, tt.holds)
				}
			}
		})
	}
}

// TestTestLockWaits: a test that must wait goes ahead when the hold that
// kept it waiting is released, and not before (onWait says when it waits,
// so nothing depends on timing).
func TestTestLockWaits(t *testing.T) {
	for _, tc := range []struct {
		name         string
		first        bool // held exclusive
		second       bool // asked exclusive
		firstHolder  string
		secondAsker  string
		wantWaitedOn string
	}{
		{"exclusive after shared", false, true, "TestA", "TestB", "TestA"},
		{"shared after exclusive", true, false, "TestA", "TestB", "TestA"},
		{"exclusive after exclusive", true, true, "TestA/x", "TestA/y", "TestA/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &testLock{}
			release, err := l.acquire(t.Context(), tc.firstHolder, tc.first, nil)
			if err != nil {
				t.Fatal(err)
			}
			waiting := make(chan string, 1)
			l.onWait = func(name string) { waiting <- name }
			type result struct {
				release func()
				err     error
				holders []string
			}
			done := make(chan result, 1)
			go func() {
				var r result
				r.release, r.err = l.acquire(t.Context(), tc.secondAsker, tc.second, func(h []string) { r.holders = h })
				done <- r
			}()
			if name := <-waiting; name != tc.secondAsker {
				t.Fatalf("onWait(%q), want %q", name, tc.secondAsker)
			}
			select {
			case r := <-done:
				t.Fatalf("acquire(%q) returned (%v) while %s held the lock", tc.secondAsker, r.err, tc.firstHolder)
			default:
			}
			release()
			r := <-done
			if r.err != nil || r.release == nil || !slices.Equal(r.holders, []string{tc.wantWaitedOn}) {
				t.Fatalf("acquire(%q) = %v (release %v), waited for %q; want the lock after waiting for %s", tc.secondAsker, r.err, r.release != nil, r.holders, tc.wantWaitedOn)
			}
			r.release()
			if len(l.holds) != 0 {
				t.Errorf("holds = %v after both released", l.holds)
			}
		})
	}
}

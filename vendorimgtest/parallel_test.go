package vendorimgtest

import (
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// parallelHelper runs TestHelperParallel's scenario.
const parallelHelper = "parallel"

// TestParallelIsolation runs TestHelperParallel (parallel tests, one of
// which removes the probe image while the other uses it) in a process of
// its own, and checks that the change is not pinned on one test when the
// two overlapped, that it is pinned on the one that took
// LockEngine(t, LockExclusive), which the other waited for, and that the
// tests after each see the vendored image.
func TestParallelIsolation(t *testing.T) {
	restoreProbe(t)
	env := []string{helperEnv + "=" + parallelHelper}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		env = append(env, "DOCKER_HOST="+h) // the engine under test, whose lock this process holds
	}
	// Two at once, whatever GOMAXPROCS is: each pair of tests waits for
	// each other.
	code, out := runHelper(t, "TestHelperParallel", env, "-test.parallel=2")
	if code != 1 {
		t.Fatalf("the parallel scenario exited %d, want 1:\n%s", code, out)
	}
	const (
		unmarked  = "TestHelperParallel/unmarked/"
		exclusive = "TestHelperParallel/exclusive/"
	)
	for _, re := range []string{
		`--- FAIL: ` + unmarked + `changes `,
		`vendorimgtest: a vendored image changed while ` + unmarked + `changes ran, and so did ` + unmarked + `uses: it cannot be pinned to one test \(call vendorimgtest\.LockEngine\(t, vendorimgtest\.LockExclusive\) first in a test that changes images on purpose\):\n\s+` + regexp.QuoteMeta(probeRef) + `: (image-removed|tag-removed): `,
		`--- PASS: ` + unmarked + `uses `,
		`--- PASS: TestHelperParallel/sees-the-vendored-image-after-unmarked `,
		`--- FAIL: ` + exclusive + `changes `,
		`vendorimgtest: ` + exclusive + `changes changed a vendored image:\n\s+` + regexp.QuoteMeta(probeRef) + `: (image-removed|tag-removed): `,
		`vendorimgtest: ` + exclusive + `uses waits for ` + exclusive + `changes to finish with the vendored images`,
		`--- PASS: ` + exclusive + `uses `,
		`--- PASS: TestHelperParallel/sees-the-vendored-image-after-exclusive `,
		`(?m)^vendorimgtest: 2 tests changed a vendored image \(each failed; the vendored images were put back after each\):\n  ` + unmarked + `changes or ` + unmarked + `uses:\n(      .*\n)+  ` + exclusive + `changes:\n`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("the scenario's output does not match %s:\n%s", re, out)
		}
	}
	if strings.Contains(out, "and so did "+exclusive) || strings.Contains(out, "while "+exclusive+"changes ran, and so did") {
		t.Errorf("the exclusive test's change is not pinned on it alone:\n%s", out)
	}
	if n := strings.Count(out, "--- FAIL: TestHelperParallel/"); n != 4 {
		t.Errorf("%d tests of TestHelperParallel failed, want 4 (two changes and their groups):\n%s", n, out)
	}
	if strings.Contains(out, "vendorimgtest: the vendored images changed during the tests") {
		t.Errorf("the check after the tests found a change the per-test checks put back:\n%s", out)
	}
}

// TestHelperParallel is the scenario TestParallelIsolation runs: in each
// group, a parallel test removes the probe image while another parallel
// test that called Image runs, then a test checks it gets the vendored
// image. The tests wait for each other on channels, and for the lock
// through its onWait hook, so the order is the same on any machine.
func TestHelperParallel(t *testing.T) {
	if os.Getenv(helperEnv) != parallelHelper {
		return // see TestHelperIsolation
	}
	t.Run("unmarked", func(t *testing.T) {
		called := make(chan struct{})  // uses called Image
		checked := make(chan struct{}) // changes' check is over
		t.Run("changes", func(t *testing.T) {
			t.Parallel()
			t.Cleanup(func() { close(checked) }) // after the check: cleanups run last first
			ref := Image(t, probeRef).Ref
			<-called
			docker(t, "rmi", "-f", ref)
		})
		t.Run("uses", func(t *testing.T) {
			t.Parallel()
			signal := sync.OnceFunc(func() { close(called) })
			defer signal()
			Image(t, probeRef)
			signal()
			<-checked
		})
	})
	seesVendored(t, "sees-the-vendored-image-after-unmarked")
	t.Run("exclusive", func(t *testing.T) {
		var (
			locked   = make(chan struct{}) // changes holds the lock
			finished = make(chan struct{}) // changes made its change; its check and release follow
			waiting  = make(chan struct{}) // uses waits for the lock
			returned = make(chan struct{}) // uses got the image
		)
		changer, name := t.Name()+"/changes", t.Name()+"/uses"
		l := &getCurrent().tests
		onWait := sync.OnceFunc(func() { close(waiting) })
		l.mu.Lock()
		l.onWait = func(n string) {
			if n == name {
				onWait()
			}
		}
		l.mu.Unlock()
		t.Cleanup(func() {
			l.mu.Lock()
			l.onWait = nil
			l.mu.Unlock()
		})
		t.Run("changes", func(t *testing.T) {
			t.Parallel()
			signal := sync.OnceFunc(func() { close(locked) })
			defer signal()
			LockEngine(t, LockExclusive)
			ref := Image(t, probeRef).Ref
			t.Cleanup(func() { close(finished) }) // before the check and the release
			signal()
			select {
			case <-waiting:
			case <-returned:
				t.Errorf("Image returned in %s while this test held the images exclusive", name)
			}
			docker(t, "rmi", "-f", ref)
		})
		t.Run("uses", func(t *testing.T) {
			t.Parallel()
			signal := sync.OnceFunc(func() { close(returned) })
			defer signal()
			<-locked
			im := Image(t, probeRef)
			signal()
			select {
			case <-finished:
			default:
				t.Errorf("Image returned while %s held the images exclusive", changer)
			}
			if got := docker(t, "image", "inspect", "--format", "{{.Id}}", im.Ref); got != im.ID {
				t.Errorf("%s is %s, want the vendored %s", im.Ref, got, im.ID)
			}
		})
	})
	seesVendored(t, "sees-the-vendored-image-after-exclusive")
}

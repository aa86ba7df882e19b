package pytest_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
)

// isolationChanger is a test of testdata/isolation/test_changes.py that
// changes the image, and what its teardown error must say.
type isolationChanger struct {
	name string
	// skip, if set, is the VENDORIMG_PYTEST_SKIP_ variable that skips it.
	skip string
	want []string
}

// isolationChangers are the suite's tests that change the image.
func isolationChangers() []isolationChanger {
	tag := regexp.QuoteMeta(probeRef)
	return []isolationChanger{
		{"test_commit_onto_the_tag", "COMMIT", []string{
			`  ` + tag + `: tag-moved: points to image sha256:[0-9a-f]{12}, not the vendored sha256:[0-9a-f]{12}`,
			`    docker commit of container \S+ as ` + tag + ` \(image sha256:[0-9a-f]{12}\) at `,
			`  restored: ` + tag + `: re-tagged; the image it pointed to, sha256:[0-9a-f]{12}: removed`,
		}},
		{"test_retag_another_image", "", []string{
			`  ` + tag + `: tag-moved: points to image sha256:[0-9a-f]{12}`,
			`    docker tag: ` + tag + ` now names image sha256:[0-9a-f]{12} at `,
			`  restored: ` + tag + `: re-tagged; the image it pointed to, sha256:[0-9a-f]{12}: kept: still tagged (docker\.io/library/)?vendorimg-pytest-other:`,
		}},
		{"test_build_onto_the_tag", "BUILD", []string{
			`  ` + tag + `: tag-moved: points to image sha256:[0-9a-f]{12}`,
			`  restored: ` + tag + `: re-tagged; the image it pointed to, sha256:[0-9a-f]{12}: removed`,
		}},
		// The classic store deletes the image with its last tag; the
		// containerd store keeps it, untagged.
		{"test_rmi", "", []string{
			`  ` + tag + `: (image-removed: the tag and the vendored image sha256:[0-9a-f]{12} are no longer in the engine|tag-removed: the tag was removed)`,
			`  restored: ` + tag + `: (loaded|re-tagged)`,
		}},
		{"test_change_a_blob", "", []string{
			`  layout blobs/sha256/[0-9a-f]{64}: changed: hashes to sha256:[0-9a-f]{64}, not sha256:[0-9a-f]{64}`,
			`  not restored: layout blobs/sha256/[0-9a-f]{64}: vendorimg cannot put a layout file back: restore it from version control`,
		}},
	}
}

// isolationSkips says which of the suite's tests the engine under test
// cannot run, as VENDORIMG_PYTEST_SKIP_ variables whose values name the
// engine and the reason.
func isolationSkips(t *testing.T) map[string]string {
	e := enginetest.Describe(t)
	skips := map[string]string{}
	if e.Product == "podman" {
		skips["COMMIT"] = e.String() + ": docker commit through podman's docker-compatible API fails (\"Decode(): EOF\": the docker command sends no config)"
	}
	return skips
}

// runIsolation runs the isolation suite on a copy of the layout with args
// and checks that each test that changed the image failed at its own
// teardown saying what it did, that every other test passed (each checks
// that it sees the vendored image), and that the summary lists them.
func runIsolation(t *testing.T, args ...string) {
	t.Helper()
	dir := isolationSuite(t)
	// The other image has a tag: the containerd store does not tag an
	// image by its ID alone.
	other := "vendorimg-pytest-other:" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	enginetest.Commit(t, probeRef, enginetest.CommitOptions{Tag: other})
	extra := []string{otherImageEnv + "=" + other}
	skips := isolationSkips(t)
	podman := enginetest.Describe(t).Product == "podman"
	for k, v := range skips {
		extra = append(extra, "VENDORIMG_PYTEST_SKIP_"+k+"="+v)
	}
	s := runPytest(t, dir, extra, append([]string{"-rs"}, args...)...)
	if s.code != 1 {
		t.Fatalf("pytest %s on the isolation suite exited %d, want 1:\n%s", strings.Join(args, " "), s.code, s.out)
	}
	var changed []string
	for _, c := range isolationChangers() {
		if skips[c.skip] != "" {
			continue
		}
		changed = append(changed, c.name)
		block := regexp.MustCompile(`(?ms)^_+ ERROR at teardown of ` + c.name + ` _+\n(.*?)(^_{4,}|^=+ )`).FindStringSubmatch(s.out)
		if block == nil {
			t.Errorf("no teardown error for %s:\n%s", c.name, s.out)
			continue
		}
		// Under xdist pytest first names the worker.
		msg := regexp.MustCompile(`^\[gw\d\] .*\n`).ReplaceAllString(block[1], "")
		if !strings.HasPrefix(msg, "vendorimg: this test changed a vendored image:\n") {
			t.Errorf("teardown error of %s does not pin the change on it:\n%s", c.name, block[1])
		}
		for _, w := range c.want {
			// podman's event log may not have the events yet when the
			// check reads it (it writes them asynchronously).
			if podman && strings.HasPrefix(w, "    docker ") {
				continue
			}
			if !regexp.MustCompile(`(?m)^` + w).MatchString(block[1]) {
				t.Errorf("teardown error of %s does not match %s:\n%s", c.name, w, block[1])
			}
		}
	}
	matchAll(t, s.out,
		`(?m)^vendorimg: `+strconv.Itoa(len(changed))+` tests changed a vendored image \(each failed at its teardown; the vendored images were put back after each\):$`,
		`(?m)^=+ \d+ passed(, \d+ skipped)?, `+strconv.Itoa(len(changed))+` errors in `,
		// The layout's blob stays changed: the check after the session finds it.
		`(?m)^vendorimg verify --daemon FAILED: the vendored images changed during the test session \(1 problem\):$`,
	)
	for _, name := range changed {
		if !regexp.MustCompile(`(?m)^  test_changes\.py::` + name + `( \(gw\d\))?:$`).MatchString(s.out) {
			t.Errorf("the summary does not list %s:\n%s", name, s.out)
		}
	}
	// (The summary line above says no test failed.)
	if strings.Contains(s.out, "cannot be pinned") {
		t.Errorf("a change was not pinned on one test:\n%s", s.out)
	}
	if n := strings.Count(s.out, "ERROR at teardown of"); n != len(changed) {
		t.Errorf("%d teardown errors, want %d (%s):\n%s", n, len(changed), strings.Join(changed, ", "), s.out)
	}
	for k, reason := range skips {
		if !strings.Contains(s.out, reason) {
			t.Errorf("the skip of %s does not give its reason %q:\n%s", k, reason, s.out)
		}
	}
}

// runWrongBefore runs the suite's checks on a copy of the layout whose
// largest blob was changed before the session: the summary must say so,
// and no test is blamed.
func runWrongBefore(t *testing.T) {
	t.Helper()
	dir := isolationSuite(t)
	blobs := filepath.Join(dir, "testdata", "images", "blobs", "sha256")
	entries, err := os.ReadDir(blobs)
	if err != nil {
		t.Fatal(err)
	}
	var largest string
	var size int64
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > size {
			largest, size = e.Name(), fi.Size()
		}
	}
	path := filepath.Join(blobs, largest)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = slices.Clone(data)
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := runPytest(t, dir, nil, "-q", "test_checks.py")
	if s.code != 1 {
		t.Fatalf("pytest on a layout changed before the session exited %d, want 1:\n%s", s.code, s.out)
	}
	matchAll(t, s.out,
		`(?m)^20 passed in `,
		`(?m)^vendorimg verify --daemon FAILED: already wrong before the test session \(found when the images were loaded\) \(1 problem\):$`,
		`(?m)^  blobs/sha256/`+largest+`: digest: `,
		`(?m)restore the layout from git`,
	)
	if strings.Contains(s.out, "changed during the test session") || strings.Contains(s.out, "ERROR at teardown") {
		t.Errorf("a change from before the session was blamed on the session or a test:\n%s", s.out)
	}
}

package vendorimgtest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/layout"
)

// isolationHelper runs TestHelperIsolation's scenario; otherEnv names the
// image it re-tags as the probe.
const (
	isolationHelper = "isolation"
	otherEnv        = "VENDORIMGTEST_OTHER"
	skipCommitEnv   = "VENDORIMGTEST_SKIP_COMMIT"
)

// TestIsolation runs TestHelperIsolation (a suite whose subtests change the
// probe image as careless tests do) in a process of its own, on a copy of
// the layout, and checks that each change fails the subtest that made it,
// naming what it did, that every later subtest gets the vendored image,
// and that the summary after the tests lists them.
func TestIsolation(t *testing.T) {
	cfg := repoConfig(t)
	restoreProbe(t)
	path := copyConfig(t, cfg, copyLayout(t, cfg.LayoutDir()))
	// The other image has a tag: the containerd store does not tag an
	// image by its ID alone.
	other := "vendorimgtest-other:" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-")
	enginetest.Commit(t, probeRef, enginetest.CommitOptions{Tag: other})
	env := []string{helperEnv + "=" + isolationHelper, "VENDORIMGTEST_CONFIG=" + path, otherEnv + "=" + other}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		env = append(env, "DOCKER_HOST="+h) // the engine under test, whose lock this process holds
	}
	changers := map[string][]string{
		"commit-onto-the-tag": {`tag-moved: points to image sha256:[0-9a-f]{12}`, `docker (commit|tag)( of container \S+ as ` + regexp.QuoteMeta(probeRef) + `)`, `restored: ` + regexp.QuoteMeta(probeRef) + `: re-tagged; the image it pointed to, sha256:[0-9a-f]{12}: removed`},
		"retag-another-image": {`tag-moved: points to image sha256:[0-9a-f]{12}`, `docker (commit|tag)(: ` + regexp.QuoteMeta(probeRef) + ` now names image)`, `restored: ` + regexp.QuoteMeta(probeRef) + `: re-tagged; the image it pointed to, sha256:[0-9a-f]{12}: kept: still tagged (docker\.io/library/)?vendorimgtest-other:`},
		// The classic store deletes the image with its last tag; the
		// containerd store keeps it, untagged.
		"rmi":           {`(image-removed|tag-removed): `, `restored: ` + regexp.QuoteMeta(probeRef) + `: (loaded|re-tagged)`},
		"change-a-blob": {`layout blobs/sha256/[0-9a-f]{64} changed: it hashes to sha256:[0-9a-f]{64}, not sha256:[0-9a-f]{64}`, `not restored: layout blobs/sha256/[0-9a-f]{64}: vendorimg cannot put a layout file back`},
	}
	// podman's event log may not have the events yet when the check reads
	// it (they are written asynchronously): their words are not asked of it.
	podman := enginetest.Describe(t).Product == "podman"
	if e := enginetest.Describe(t); podman {
		reason := e.String() + ": docker commit through podman's docker-compatible API fails (\"Decode(): EOF\": the docker command sends no config)"
		env = append(env, skipCommitEnv+"="+reason)
		delete(changers, "commit-onto-the-tag")
	}
	code, out := runHelper(t, "TestHelperIsolation", env)
	if code != 1 {
		t.Fatalf("the isolation scenario exited %d, want 1:\n%s", code, out)
	}
	for name, wants := range changers {
		full := "TestHelperIsolation/" + name
		if !strings.Contains(out, "--- FAIL: "+full+" ") {
			t.Errorf("%s did not fail:\n%s", full, out)
		}
		if !strings.Contains(out, "vendorimgtest: "+full+" changed a vendored image:") {
			t.Errorf("%s is not named as the test that changed the image:\n%s", full, out)
		}
		for _, w := range wants {
			if podman && strings.Contains(w, "docker (commit|tag)") {
				continue
			}
			if !regexp.MustCompile(w).MatchString(out) {
				t.Errorf("the scenario's output does not match %s (%s):\n%s", w, full, out)
			}
		}
	}
	for _, re := range []string{
		`(?m)^vendorimgtest: ` + regexp.QuoteMeta(plural(len(changers), "test")) + ` changed a vendored image \(each failed; the vendored images were put back after each\):$`,
		`--- PASS: TestHelperIsolation/sees-the-vendored-image-after-the-rmi `,
		`--- (PASS|SKIP): TestHelperIsolation/commit-onto-a-tag-of-its-own `,
		`--- PASS: TestHelperIsolation/its-own-tag-is-gone `,
		// The changed blob stays changed: the check after the tests says so.
		`vendorimgtest: the vendored images changed during the tests \(\d problems?\):`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("the scenario's output does not match %s:\n%s", re, out)
		}
	}
	if n := strings.Count(out, "--- FAIL: TestHelperIsolation/"); n != len(changers) {
		t.Errorf("%d subtests failed, want %d:\n%s", n, len(changers), out)
	}
}

// TestHelperIsolation is the scenario TestIsolation runs: subtests that
// change the probe image, each followed by one that checks (through Image)
// that it gets the vendored image again.
func TestHelperIsolation(t *testing.T) {
	if os.Getenv(helperEnv) != isolationHelper {
		// Only TestIsolation's child process runs the scenario (its
		// failures are what TestIsolation checks); returning rather than
		// skipping keeps the engine matrix's count of skips to the tests
		// an engine cannot run, as os/exec's helper processes do.
		return
	}
	sees := func(name string) { seesVendored(t, "sees-the-vendored-image-after-the-"+name) }
	commit := func(t *testing.T, onto string) {
		if reason := os.Getenv(skipCommitEnv); reason != "" {
			t.Skip(reason)
		}
		container := docker(t, "create", "--pull", "never", onto, "echo", "changed")
		defer enginetest.DockerErr("rm", "-f", container)
		docker(t, "commit", container, onto)
	}
	t.Run("commit-onto-the-tag", func(t *testing.T) { commit(t, Image(t, probeRef).Ref) })
	sees("commit")
	t.Run("retag-another-image", func(t *testing.T) { docker(t, "tag", os.Getenv(otherEnv), Image(t, probeRef).Ref) })
	sees("retag")
	t.Run("rmi", func(t *testing.T) { docker(t, "rmi", "-f", Image(t, probeRef).Ref) })
	sees("rmi")
	var own string
	t.Run("commit-onto-a-tag-of-its-own", func(t *testing.T) {
		im := Image(t, probeRef, OwnTag())
		if own = im.Ref; own == probeRef {
			t.Fatalf("Image(%q, OwnTag()).Ref = %q, want a tag of the test's own", probeRef, own)
		}
		commit(t, own)
	})
	t.Run("its-own-tag-is-gone", func(t *testing.T) {
		Image(t, probeRef)
		if _, err := enginetest.DockerErr("image", "inspect", own); err == nil {
			t.Errorf("%s is still in the engine after its test", own)
		}
	})
	// Last: a changed blob cannot be put back, and a load after it would
	// refuse it.
	t.Run("change-a-blob", func(t *testing.T) {
		Image(t, probeRef)
		cfg := getCurrent().cfg
		entries, err := os.ReadDir(filepath.Join(cfg.LayoutDir(), layout.BlobsDir, "sha256"))
		if err != nil {
			t.Fatal(err)
		}
		var largest os.FileInfo
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			if largest == nil || fi.Size() > largest.Size() {
				largest = fi
			}
		}
		flipByte(t, filepath.Join(cfg.LayoutDir(), layout.BlobsDir, "sha256", largest.Name()))
	})
	sees("blob")
}

// seesVendored runs a subtest of t, named name, that asks for the probe
// image with Image and checks that the engine's tag is the vendored image.
func seesVendored(t *testing.T, name string) {
	t.Run(name, func(t *testing.T) {
		im := Image(t, probeRef)
		if got := docker(t, "image", "inspect", "--format", "{{.Id}}", im.Ref); got != im.ID {
			t.Errorf("%s is %s, want the vendored %s", im.Ref, got, im.ID)
		}
	})
}

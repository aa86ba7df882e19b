package systemtest_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// TestScaleOut is the way to a team mirror, end to end, through the
// command: one checkout syncs from the canonical registry and pushes to the
// team's registry (htpasswd); a second checkout whose vendorimg.yaml names
// the team registry under mirrors: syncs from it with no request at all to
// the canonical registry (its access log), gets the same bytes, and verify
// passes there.
func TestScaleOut(t *testing.T) {
	const user, password = "ci", "pa55"
	bin := vendorimgBinary(t)
	canonical := registrytest.Start(t, registrytest.Options{})
	multi := registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 2, 20000, 81, registrytest.Docker)
	multiPin := registrytest.Push(t, canonical.Host+"/library/base:1.0", multi)
	single := registrytest.Image(t, "linux/amd64", 1, 15000, 82, registrytest.OCI)
	singlePin := registrytest.Push(t, canonical.Host+"/tools/helper:2", single)
	images := fmt.Sprintf(`images:
  - ref: %[1]s/library/base:1.0
    digest: %[2]s
    platforms: all
  - ref: %[1]s/tools/helper:2
    digest: %[3]s
    platforms: [linux/amd64]
`, canonical.Host, multiPin, singlePin)
	team := registrytest.Start(t, registrytest.Options{User: user, Password: password})
	docker := dockerConfig(t, team.Host, user, password)

	run := func(dir string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+docker)
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("vendorimg %v: %v\n%s%s", args, err, out, stderr)
		}
		return out
	}

	first := t.TempDir()
	writeConfig(t, first, images)
	run(first, "sync")
	var pushed struct {
		Uploaded, Skipped int
		Images            []struct {
			Target string
			Tagged bool
		}
	}
	if err := json.Unmarshal(run(first, "push", team.Host, "--json"), &pushed); err != nil {
		t.Fatal(err)
	}
	if pushed.Uploaded == 0 || len(pushed.Images) != 2 || !pushed.Images[0].Tagged || !pushed.Images[1].Tagged {
		t.Fatalf("push = %+v, want both images uploaded and tagged", pushed)
	}
	if pushed.Images[0].Target != team.Host+"/library/base:1.0" {
		t.Errorf("pushed to %s, want %s/library/base:1.0 (the repository path kept, for mirrors:)", pushed.Images[0].Target, team.Host)
	}

	second := t.TempDir()
	writeConfig(t, second, fmt.Sprintf("mirrors:\n  %s: %s\n%s", canonical.Host, team.Host, images))
	canonical.ResetLog()
	team.ResetLog()
	run(second, "sync")
	if reqs := canonical.Requests(); len(reqs) > 0 {
		t.Errorf("the second checkout's sync asked the canonical registry %d times: %v", len(reqs), reqs)
	}
	if len(team.Requests()) == 0 {
		t.Errorf("the second checkout's sync did not ask the team registry")
	}
	run(second, "verify", "--deep")
	a, b := treeHashes(t, filepath.Join(first, "testdata", "images")), treeHashes(t, filepath.Join(second, "testdata", "images"))
	if !maps.Equal(a, b) {
		t.Errorf("the layout synced through the mirror differs from the one pushed")
	}
	if reqs := canonical.Requests(); len(reqs) > 0 {
		t.Errorf("verify asked the canonical registry: %v", reqs)
	}
}

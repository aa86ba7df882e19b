package systemtest_test

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// inNetns runs a command in a new network namespace, where not even the
// loopback interface is up: any connection attempt fails.
func inNetns(t *testing.T, args ...string) (string, error) {
	t.Helper()
	unshare := lookPath(t, "unshare", "util-linux")
	out, err := exec.Command(unshare, append([]string{"--net", "--"}, args...)...).CombinedOutput()
	return string(out), err
}

// TestOfflineCommandsNeedNoNetwork runs the commands DESIGN.md promises
// are offline in a network namespace with no route at all (Promise 2).
func TestOfflineCommandsNeedNoNetwork(t *testing.T) {
	bin := vendorimgBinary(t)
	if out, err := inNetns(t, "true"); err != nil {
		t.Fatalf("unshare --net: %v\n%s (the test needs CAP_SYS_ADMIN, as root in CI)", err, out)
	}
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/offline/x:1"
	pin := registrytest.Push(t, ref, registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 2, 2000, 71, registrytest.OCI))
	dir := t.TempDir()
	writeConfig(t, dir, fmt.Sprintf("images:\n  - ref: %s\n    digest: %s\n    platforms: [linux/amd64]\n", ref, pin))
	if out, err := exec.Command(bin, "-C", dir, "sync").CombinedOutput(); err != nil {
		t.Fatalf("sync: %v\n%s", err, out)
	}
	before := treeHashes(t, dir)
	for _, args := range [][]string{
		{"sync"},
		{"sync", "--offline"},
		{"verify", "--deep"},
		{"status"},
		{"gc", "--dry-run"},
		{"gc"},
	} {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			out, err := inNetns(t, append([]string{bin, "-C", dir}, args...)...)
			if err != nil {
				t.Errorf("vendorimg %v with no network: %v\n%s", args, err, out)
			}
		})
	}
	if after := treeHashes(t, dir); !maps.Equal(before, after) {
		t.Errorf("offline commands changed the layout")
	}

	// The namespace really has no network: a sync that needs a blob fails.
	blobs, _ := os.ReadDir(filepath.Join(dir, "testdata", "images", "blobs", "sha256"))
	for _, b := range blobs {
		if err := os.Remove(filepath.Join(dir, "testdata", "images", "blobs", "sha256", b.Name())); err != nil {
			t.Fatal(err)
		}
	}
	out, err := inNetns(t, bin, "-C", dir, "sync")
	if err == nil || !strings.Contains(out, "connect") {
		t.Errorf("sync of a missing blob with no network = %v, %s; want a connection error", err, out)
	}
	out, err = inNetns(t, bin, "-C", dir, "sync", "--offline")
	if err == nil || !strings.Contains(out, "offline") || !strings.Contains(out, pin.String()) {
		t.Errorf("sync --offline of a missing blob = %v, %s; want an offline error listing %s", err, out, pin)
	}
}

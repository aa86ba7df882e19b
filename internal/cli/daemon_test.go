package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// These tests drive load, verify --daemon and unload through the root
// command against the machine's real docker engine.

// daemonCLI runs vendorimg with args, as main does.
func daemonCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Execute(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// daemonFixture vendors a random two-platform image under a unique name
// into a new folder and returns the folder, the docker tag and the ID the
// engine's image store gives the amd64 image (its config digest with the
// classic store, its manifest digest with the containerd store). Whatever
// the test leaves loaded is unloaded at its end.
func daemonFixture(t *testing.T) (dir, tag string, amd64 v1.Hash, img v1.Image) {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	seed := int64(b[0])<<40 | int64(b[1])<<32 | int64(b[2])<<24 | int64(b[3])<<16 | int64(b[4])<<8 | int64(b[5])
	reg := registrytest.Start(t, registrytest.Options{})
	idx := registrytest.Index(t, []string{"linux/amd64", "linux/arm64"}, 2, 3000, seed, registrytest.OCI)
	tag = reg.Host + "/vendorimg-test/cli-" + hex.EncodeToString(b[:]) + ":1"
	registrytest.Push(t, tag, idx)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err = idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if amd64, err = img.ConfigName(); err != nil {
		t.Fatal(err)
	}
	if enginetest.Describe(t).Store == daemon.StoreContainerd {
		amd64 = im.Manifests[0].Digest
	}
	dir = t.TempDir()
	if code, out, errOut := daemonCLI(t, "-C", dir, "add", tag, "--platform", "linux/amd64,linux/arm64"); code != 0 {
		t.Fatalf("vendorimg add %s: exit %d\n%s%s", tag, code, out, errOut)
	}
	t.Cleanup(func() { daemonCLI(t, "-C", dir, "unload", "-q") })
	return dir, tag, amd64, img
}

func TestLoadVerifyUnloadCommands(t *testing.T) {
	dir, tag, id, _ := daemonFixture(t)

	code, stdout, stderr := daemonCLI(t, "-C", dir, "load", "--json")
	if code != 0 {
		t.Fatalf("vendorimg load --json: exit %d\n%s", code, stderr)
	}
	var rep daemon.LoadReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("vendorimg load --json printed %q: %v", stdout, err)
	}
	if len(rep.Images) != 1 || rep.Images[0].Action != daemon.ActionLoaded || rep.Images[0].ImageID != id.String() || rep.Images[0].Tag != tag {
		t.Errorf("vendorimg load --json = %s, want %s loaded as %s", stdout, tag, id)
	}

	code, stdout, stderr = daemonCLI(t, "-C", dir, "load")
	if code != 0 || !strings.Contains(stdout, tag) || !strings.Contains(stdout, "skipped") || !strings.Contains(stdout, id.Hex[:12]) {
		t.Errorf("second vendorimg load: exit %d\n%s%s, want a table with %s skipped", code, stdout, stderr, tag)
	}
	if code, stdout, stderr = daemonCLI(t, "-C", dir, "load", "-q", tag); code != 0 || stdout != "" || stderr != "" {
		t.Errorf("vendorimg load -q %s: exit %d, printed %q %q, want nothing", tag, code, stdout, stderr)
	}

	code, stdout, stderr = daemonCLI(t, "-C", dir, "verify", "--daemon", "--json")
	if code != 0 {
		t.Fatalf("vendorimg verify --daemon --json: exit %d\n%s%s", code, stdout, stderr)
	}
	var vr struct {
		OK     bool           `json:"ok"`
		Daemon daemon.Report  `json:"daemon"`
		Layout map[string]any `json:"layout"`
	}
	if err := json.Unmarshal([]byte(stdout), &vr); err != nil {
		t.Fatalf("vendorimg verify --daemon --json printed %q: %v", stdout, err)
	}
	if !vr.OK || len(vr.Daemon.Images) != 1 || !vr.Daemon.Images[0].OK || vr.Daemon.Images[0].ImageID != id.String() || vr.Layout == nil {
		t.Errorf("vendorimg verify --daemon --json = %s, want ok with the image in docker", stdout)
	}
	if code, stdout, _ = daemonCLI(t, "-C", dir, "verify", "--daemon"); code != 0 || !strings.Contains(stdout, "1 image in docker is the vendored one") {
		t.Errorf("vendorimg verify --daemon: exit %d, printed %q", code, stdout)
	}

	code, stdout, stderr = daemonCLI(t, "-C", dir, "unload", "--json")
	if code != 0 {
		t.Fatalf("vendorimg unload --json: exit %d\n%s", code, stderr)
	}
	var ur daemon.UnloadReport
	if err := json.Unmarshal([]byte(stdout), &ur); err != nil {
		t.Fatal(err)
	}
	if len(ur.Images) != 1 || ur.Images[0].Action != daemon.UnloadRemoved {
		t.Errorf("vendorimg unload --json = %s, want removed", stdout)
	}

	// After the teardown the tag is gone, and verify --daemon says so.
	code, stdout, stderr = daemonCLI(t, "-C", dir, "verify", "--daemon")
	if code != 1 || !strings.Contains(stderr, "tag-missing") || !strings.Contains(stderr, tag) {
		t.Errorf("vendorimg verify --daemon after unload: exit %d\n%s%s, want exit 1 naming %s", code, stdout, stderr, tag)
	}
	// It ends with one summary line saying how many problems, and where.
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "verify --daemon: 1 problem in docker ") || !strings.Contains(last, "vendorimg load puts the vendored images back") {
		t.Errorf("vendorimg verify --daemon after unload ended with %q, want the summary line \"verify --daemon: 1 problem in docker ...\"", last)
	}
	if code, stdout, _ = daemonCLI(t, "-C", dir, "unload"); code != 0 || !strings.Contains(stdout, "absent") {
		t.Errorf("second vendorimg unload: exit %d, printed %q, want absent", code, stdout)
	}
}

func TestLoadCommandErrors(t *testing.T) {
	dir, tag, _, img := daemonFixture(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"malformed platform", []string{"load", "--platform", "linux/x86_64"}, 2, "amd64"},
		{"malformed reference", []string{"load", "Bad//Ref"}, 2, "invalid reference"},
		{"unconfigured reference", []string{"unload", "registry.test/other:1"}, 1, "not in"},
		{"platform not vendored", []string{"load", "--platform", "linux/s390x"}, 1, "linux/amd64, linux/arm64"},
		{"no arguments for verify", []string{"verify", "--daemon", tag}, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := daemonCLI(t, append([]string{"-C", dir}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("vendorimg %s: exit %d\n%s%s, want exit %d with %q", strings.Join(tc.args, " "), code, stdout, stderr, tc.code, tc.want)
			}
		})
	}

	// A layer changed on disk: load fails naming it, and loads nothing.
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := layers[1].Digest()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "testdata", "images", "blobs", "sha256", d.Hex)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := daemonCLI(t, "-C", dir, "load")
	if code != 1 || !strings.Contains(stderr, "blobs/sha256/"+d.Hex) || !strings.Contains(stderr, "digest mismatch") {
		t.Errorf("vendorimg load with a tampered layer: exit %d\n%s%s, want exit 1 naming blobs/sha256/%s", code, stdout, stderr, d.Hex)
	}
	code, stdout, _ = daemonCLI(t, "-C", dir, "verify", "--daemon", "--json")
	if code != 1 || !strings.Contains(stdout, `"tag-missing"`) {
		t.Errorf("vendorimg verify --daemon after the failed load: exit %d\n%s, want the tag missing", code, stdout)
	}
}

// TestVerifyDaemonDeepCommand changes a file of one layer inside the
// engine's storage: verify --daemon still passes (it compares IDs), and
// verify --daemon --deep fails naming the layer, in text and in --json.
func TestVerifyDaemonDeepCommand(t *testing.T) {
	dir, tag, _, img := daemonFixture(t)
	if code, stdout, stderr := daemonCLI(t, "-C", dir, "load", "-q"); code != 0 {
		t.Fatalf("vendorimg load: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr := daemonCLI(t, "-C", dir, "verify", "--daemon", "--deep")
	if code != 0 || !strings.Contains(stdout, "ok: 1 image in docker is the vendored one, ") || !strings.Contains(stdout, " exported and rehashed") {
		t.Fatalf("vendorimg verify --daemon --deep: exit %d, printed %q%q; want ok, saying what it exported", code, stdout, stderr)
	}
	short := strings.TrimPrefix(tag, "docker.io/library/")
	enginetest.ChangeLayer(t, short, 1)
	if code, stdout, stderr := daemonCLI(t, "-C", dir, "verify", "--daemon"); code != 0 {
		t.Errorf("vendorimg verify --daemon after a change in the engine's storage: exit %d\n%s%s; want 0 (IDs do not see it)", code, stdout, stderr)
	}
	code, stdout, stderr = daemonCLI(t, "-C", dir, "verify", "--daemon", "--deep")
	if code != 1 || !strings.Contains(stderr, "daemon content: "+short+": ") || !strings.Contains(stderr, "layer 1 ") || !strings.Contains(stderr, "vendorimg unload, then vendorimg load") {
		t.Errorf("vendorimg verify --daemon --deep after the change: exit %d\n%s%s; want exit 1 naming layer 1", code, stdout, stderr)
	}
	code, stdout, _ = daemonCLI(t, "-C", dir, "verify", "--daemon", "--deep", "--json")
	var rep struct {
		OK     bool          `json:"ok"`
		Kind   string        `json:"kind"`
		Daemon daemon.Report `json:"daemon"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("vendorimg verify --daemon --deep --json printed %q: %v", stdout, err)
	}
	diffIDs, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	want := diffIDs.RootFS.DiffIDs[1].String()
	// The export's content finding; where the engine's storage is read
	// and the change is in a layer folder, a files finding of layer 1 too.
	var content []daemon.Finding
	for _, f := range rep.Daemon.Findings {
		switch {
		case f.Kind == daemon.KindContent:
			content = append(content, f)
		case f.Kind == daemon.KindFiles && f.Layer != nil && *f.Layer == 1 && f.Expected == want:
		default:
			t.Errorf("vendorimg verify --daemon --deep --json: finding %s; want only layer 1's", f)
		}
	}
	if code != 1 || rep.OK || rep.Kind != "verify-failed" || !rep.Daemon.Deep || len(content) != 1 {
		t.Fatalf("vendorimg verify --daemon --deep --json: exit %d, %s; want exit 1, one content finding", code, stdout)
	}
	if f := content[0]; f.Layer == nil || *f.Layer != 1 || f.Expected != want {
		t.Errorf("vendorimg verify --daemon --deep --json finding = %s; want kind content, layer 1, expected %s", stdout, want)
	}
	if s := rep.Daemon.Images[0].Storage; s == nil || (!s.Checked && s.Reason == "") {
		t.Errorf("vendorimg verify --daemon --deep --json: storage = %+v; want it checked, or the reason it was not", s)
	}
}

package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/internal/registrytest"
)

// TestTimeoutFlag: behind a registry that never answers, each command
// that uses the network gives up at --timeout, with kind "timeout" in
// --json and the flag named in the error, and changes no file.
func TestTimeoutFlag(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	proxy := registrytest.NewProxy(t, reg.Host)
	ref := proxy.Host + "/slow/app:1"
	pin := registrytest.Push(t, reg.Host+"/slow/app:1", registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, 701, registrytest.OCI))
	proxy.Set(registrytest.Stall())
	pinned := func() string {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "vendorimg.yaml"), fmt.Sprintf("images:\n  - ref: %s\n    digest: %s\n    platforms: [linux/amd64]\n", ref, pin))
		return dir
	}
	for _, tc := range []struct {
		name string
		dir  string
		args []string
	}{
		{"sync", pinned(), []string{"sync"}},
		{"add", t.TempDir(), []string{"add", ref}},
		{"outdated", pinned(), []string{"outdated"}},
		{"update", pinned(), []string{"update"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, tc.dir)
			start := time.Now()
			code, out, errOut := run(t, append([]string{"-C", tc.dir, "--json"}, append(tc.args, "--timeout", "700ms")...)...)
			elapsed := time.Since(start)
			if code != exitFailure {
				t.Fatalf("vendorimg %v: exit %d, want %d\n%s%s", tc.args, code, exitFailure, out, errOut)
			}
			var doc struct{ Error, Kind string }
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("vendorimg %v --json printed %q: %v", tc.args, out, err)
			}
			if doc.Kind != kindTimeout || !strings.Contains(doc.Error, "--timeout 700ms") {
				t.Errorf("vendorimg %v --json = %s, want kind %q and an error naming --timeout 700ms", tc.args, out, kindTimeout)
			}
			if elapsed > 5*time.Second {
				t.Errorf("vendorimg %v --timeout 700ms took %v", tc.args, elapsed)
			}
			if after := snapshot(t, tc.dir); after != before {
				t.Errorf("vendorimg %v changed files:\nbefore:\n%s\nafter:\n%s", tc.args, before, after)
			}
			t.Logf("%s: gave up after %v: %s", tc.name, elapsed, doc.Error)
		})
	}
	t.Run("negative", func(t *testing.T) {
		if code, _, errOut := run(t, "-C", pinned(), "sync", "--timeout", "-1s"); code != exitUsage || !strings.Contains(errOut, "--timeout") {
			t.Errorf("sync --timeout -1s: exit %d, want %d naming the flag\n%s", code, exitUsage, errOut)
		}
	})
}

// TestNoticesOnStderr: a wait the registry asked for is one line on
// stderr without -v, and nothing with -q; stdout keeps the result alone.
func TestNoticesOnStderr(t *testing.T) {
	f := registrytest.NewFault(t)
	ref := f.Host + "/notice/app:1"
	pin := registrytest.Push(t, ref, registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, 702, registrytest.OCI))
	dir := t.TempDir()
	write(t, filepath.Join(dir, "vendorimg.yaml"), fmt.Sprintf("images:\n  - ref: %s\n    digest: %s\n    platforms: [linux/amd64]\n", ref, pin))
	for _, quiet := range []bool{false, true} {
		t.Run(fmt.Sprintf("quiet=%v", quiet), func(t *testing.T) {
			f.On(registrytest.Request(http.MethodHead, "/manifests/1"), 1, registrytest.Respond(http.StatusTooManyRequests, "Retry-After", "1"))
			args := []string{"-C", dir, "outdated"}
			if quiet {
				args = append(args, "-q")
			}
			code, out, errOut := run(t, args...)
			if code != exitOK {
				t.Fatalf("outdated: exit %d\n%s%s", code, out, errOut)
			}
			notice := f.Host + " asked to wait 1s (429 Too Many Requests)"
			if got := strings.Contains(errOut, notice); got == quiet {
				t.Errorf("outdated (quiet %v) stderr = %q; has the notice %q: %v", quiet, errOut, notice, got)
			}
			if strings.Contains(out, "asked to wait") {
				t.Errorf("the notice went to stdout: %q", out)
			}
		})
	}
}

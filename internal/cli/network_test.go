package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
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
			// Only a hang fails this (the registry never answers): a bound
			// far above the 700ms, so that a loaded machine, slow to start
			// the command and run its timers, passes.
			if elapsed > time.Minute {
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

// TestRegistryErrorsInWords is issue 7.9: what the registry answered, in
// words on stderr, the HTTP detail only with -v, the --json kinds callers
// branch on, and a mirror's answer first.
func TestRegistryErrorsInWords(t *testing.T) {
	const user, password = "ci", "pa55-9f1e"
	open := registrytest.Start(t, registrytest.Options{})
	locked := registrytest.Start(t, registrytest.Options{User: user, Password: password})
	mirror := registrytest.Start(t, registrytest.Options{})
	idx := registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, 703, registrytest.OCI)
	registrytest.Push(t, open.Host+"/library/alpine:3.19.1", idx)
	registrytest.Push(t, mirror.Host+"/library/alpine:3.19.1", idx)
	registrytest.Push(t, open.Host+"/only/upstream:1", idx)
	config := registrytest.IsolateDockerConfig(t, map[string]string{locked.Host: base64.StdEncoding.EncodeToString([]byte(user + ":wrong-" + password))})
	withMirror := func() string {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "vendorimg.yaml"), fmt.Sprintf("mirrors:\n  %s: %s\nimages:\n", open.Host, mirror.Host))
		return dir
	}

	for _, tc := range []struct {
		name, dir, ref string
		message, kind  string // message "": success
		notice         string
	}{
		{"missing tag", t.TempDir(), open.Host + "/library/alpine:9.9.9",
			"adding " + open.Host + "/library/alpine:9.9.9: tag 9.9.9 not found in " + open.Host + "/library/alpine", kindNotFound, ""},
		{"missing repository", t.TempDir(), open.Host + "/library/nope:1",
			"adding " + open.Host + "/library/nope:1: repository " + open.Host + "/library/nope not found", kindNotFound, ""},
		{"wrong password", t.TempDir(), locked.Host + "/app/web:1",
			"adding " + locked.Host + "/app/web:1: unauthorized: " + locked.Host + " refused access to app/web (credentials from " + config + ")", kindUnauthorized, ""},
		{"mirror answers first", withMirror(), open.Host + "/library/alpine:9.9.9",
			"adding " + open.Host + "/library/alpine:9.9.9: tag 9.9.9 not found in " + mirror.Host + "/library/alpine (the registry " + open.Host +
				" failed too: tag 9.9.9 not found in " + open.Host + "/library/alpine)", kindNotFound, ""},
		{"mirror falls back", withMirror(), open.Host + "/only/upstream:1", "", "",
			"mirror " + mirror.Host + " failed (repository " + mirror.Host + "/only/upstream not found), using " + open.Host + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, "-C", tc.dir, "add", tc.ref)
			if tc.message == "" {
				if code != exitOK {
					t.Fatalf("add %s: exit %d\n%s%s", tc.ref, code, out, errOut)
				}
				if strings.Count(errOut, tc.notice) != 1 {
					t.Errorf("add %s: stderr = %q, want the notice %q once", tc.ref, errOut, tc.notice)
				}
				return
			}
			if want := "vendorimg: " + tc.message + "\n"; code != exitFailure || errOut != want {
				t.Errorf("add %s: exit %d, stderr\n%q\nwant exit 1 and\n%q", tc.ref, code, errOut, want)
			}
			if strings.Contains(errOut+out, password) {
				t.Errorf("the password is in the output")
			}
			_, _, verbose := run(t, "-C", tc.dir, "-v", "add", tc.ref)
			if !strings.Contains(verbose, `msg="registry answered"`) || !strings.Contains(verbose, "detail=") {
				t.Errorf("add -v %s does not log the HTTP detail:\n%s", tc.ref, verbose)
			}
			if strings.Contains(verbose, password) {
				t.Errorf("the password is in the -v output")
			}
			_, js, _ := run(t, "-C", tc.dir, "--json", "add", tc.ref)
			var doc struct{ Error, Kind string }
			if err := json.Unmarshal([]byte(js), &doc); err != nil || doc.Kind != tc.kind || doc.Error != tc.message {
				t.Errorf("add --json %s = %s (%v), want kind %q and the same message", tc.ref, js, err, tc.kind)
			}
		})
	}
}
